# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which backup a restore request means: a path, latest, or before=<commit>."""

from __future__ import annotations

DOCUMENTATION = r"""
name: backup_pick
short_description: Pick the backup a restore request means (path, latest, before=<commit>)
version_added: 0.1.0
description:
  - C(/path) - that file, as given.
  - C(latest) - the newest backup of the app and database among O(_input) (the backups
    with a manifest - M(maverick.rollback.pg_backup) writes it only after verification), by
    the time in its name.
  - C(before=<commit>) - the backup the newest ledger C(deploy) record whose C(from_commit)
    starts with the commit names in C(backup) (taken just before that deploy replaced the
    commit), while it is among O(_input); else the newest backup whose name carries the
    commit (either is a prefix of the other; C(unknown) never matches). The commit is what
    git resolved (O(resolved)), else the text after C(before=); compared on 12 lower-case digits.
options:
  _input:
    description: Backups or their C(.json) manifests (the C(files) of M(ansible.builtin.find), or paths).
    type: list
    elements: raw
    required: true
  request:
    description: C(/path), C(latest) or C(before=<commit, tag or branch>).
    type: str
    required: true
  app:
    description: App name (first field of backup names).
    type: str
    required: true
  database:
    description: Database name (second field).
    type: str
    required: true
  records:
    description: Release ledger records, oldest first (C(records) of M(maverick.rollback.release_ledger)).
    type: list
    elements: dict
    default: []
  resolved:
    description:
      - What git resolved the commit of C(before=) to - the registered result of
        C(git rev-parse --verify --quiet <ref>^{commit}) or the SHA itself; empty or failed when git does not know it.
    type: raw
    default: ""
  limit:
    description: How many of the newest backups C(candidates) lists.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Pick the backup
  ansible.builtin.set_fact:
    pick: >-
      {{ found.files | maverick.rollback.backup_pick('before=v2', 'lifetracker', 'lifetracker',
           records=ledger.records, resolved=before_sha) }}

- name: Refuse when no backup matches
  ansible.builtin.fail:
    msg: "{{ ['no backup matches; newest first:'] + (pick.candidates | map(attribute='name') | list) }}"
  when: pick.path | length == 0
"""

RETURN = r"""
_value:
  description: The pick.
  type: dict
  contains:
    path: {description: The backup to restore, empty when none matches., type: str}
    how: {description: "C(path), C(latest), C(ledger) (a deploy record named it), C(commit) (its name carries the commit), or empty.", type: str}
    backup: {description: "The picked backup's M(maverick.rollback.backup_list) entry, empty for a path or no match.", type: dict}
    prefix: {description: The commit compared (12 lower-case hex digits at most), empty unless C(before=)., type: str}
    commit_known: {description: "False when C(before=) names something git did not resolve and that is not a hex SHA.", type: bool}
    candidates: {description: "The newest O(limit) backups (M(maverick.rollback.backup_list) entries), for the refusal message.", type: list}
"""


from ansible_collections.maverick.rollback.plugins.filter.backup_list import backup_list
from ansible_collections.maverick.rollback.plugins.module_utils._rules import is_valid

BEFORE = "before="


def resolved_sha(resolved):
    """The SHA git printed, from a registered result or a string; '' when git failed."""
    if isinstance(resolved, dict):
        return str(resolved.get("stdout") or "").strip() if resolved.get("rc", 1) == 0 else ""
    return str(resolved or "").strip()


def ledger_backups(records, prefix):
    """Backups deploy records name for the release that replaced prefix, newest first."""
    return [r["backup"] for r in reversed(records or []) if isinstance(r, dict) and r.get("action") == "deploy"
            and "backup" in r and str(r.get("from_commit") or "").startswith(prefix)]


def same_commit(name_commit, prefix):
    return name_commit != "unknown" and (name_commit.startswith(prefix) or prefix.startswith(name_commit))


def pick(backups, prefix, records):
    if not prefix:
        return (backups[0], "latest") if backups else ({}, "")
    by_path = {b["path"]: b for b in backups}
    for path in ledger_backups(records, prefix):
        if path in by_path:
            return by_path[path], "ledger"
    for backup in backups:
        if same_commit(backup["commit"], prefix):
            return backup, "commit"
    return {}, ""


def backup_pick(files, request, app, database, records=None, resolved="", limit=10):
    request = str(request or "").strip()
    backups = backup_list(files, app, database)
    result = {"path": "", "how": "", "backup": {}, "prefix": "", "commit_known": True, "candidates": backups[:int(limit)]}
    if request.startswith("/"):
        return dict(result, path=request, how="path")
    if request.startswith(BEFORE):
        ref, sha = request[len(BEFORE):], resolved_sha(resolved)
        result.update(prefix=(sha or ref).lower()[:12], commit_known=bool(sha) or is_valid("sha", ref))
    chosen, how = pick(backups, result["prefix"], records)
    return dict(result, path=chosen.get("path", ""), how=how, backup=chosen)


class FilterModule:
    """maverick.rollback backup filters."""

    def filters(self):
        return {"backup_pick": backup_pick}
