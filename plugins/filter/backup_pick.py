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
    the time recorded inside its manifest (C(created_at)) when O(manifests) are given, else by
    the time in its name. A name is only a claim - anyone who can write to the directory can
    name a file C(..._20991231T235959Z_...).
  - With O(uid), backups and manifests owned by someone other than root and O(uid), or writable
    by group or others (the rule of M(maverick.rollback.backup_dir_check)), are skipped and listed in C(skipped);
    with O(manifests), so are backups whose manifest cannot be read or records no time.
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
  manifests:
    description:
      - The manifests, read - the C(results) of M(ansible.builtin.slurp) looped over O(_input) (C(source)
        and base64 C(content)). Given, backups are ordered by the C(created_at) inside them.
    type: list
    elements: dict
  backups:
    description: The backups themselves as M(ansible.builtin.find) lists them (C(path), C(uid), C(mode)), for O(uid).
    type: list
    elements: dict
    default: []
  uid:
    description:
      - The effective user id the restore runs as. Given, the ownership and mode of each manifest (the
        entries of O(_input)) and backup (O(backups)) are checked.
    type: int
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
    skipped: {description: "Backups left out and why (C(path), C(reason)), newest name first.", type: list}
"""


import base64
import datetime
import json

from ansible_collections.maverick.rollback.plugins.filter.backup_list import backup_list
from ansible_collections.maverick.rollback.plugins.module_utils._backups import untrusted
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


def _path(item):
    return str((item.get("path") if isinstance(item, dict) else item) or "").rstrip("/")


def recorded_time(text):
    """The manifest's created_at (ISO 8601 UTC, as pg_backup writes it), else None."""
    try:
        when = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(datetime.timezone.utc) if when.tzinfo else None


def manifest_times(manifests):
    """{backup path: time recorded in its manifest} from slurp results; unreadable ones are left out."""
    times = {}
    for result in manifests or []:
        if not isinstance(result, dict) or "content" not in result:
            continue
        source = _path(result.get("source") or result.get("item"))
        try:
            data = json.loads(base64.b64decode(result["content"]).decode("utf-8"))
        except (ValueError, TypeError):
            continue
        when = recorded_time(data.get("created_at")) if isinstance(data, dict) else None
        if when and source.endswith(".json"):
            times[source[:-len(".json")]] = when
    return times


def skip_reason(backup, manifest_info, backup_info, times, uid):
    """Why a backup is not to be restored ('' when it may be)."""
    if uid is not None:
        for what, info in (("manifest", manifest_info), ("backup", backup_info)):
            problem = untrusted(info, uid)
            if problem:
                return "%s %s" % (what, problem)
    if times is not None and backup["path"] not in times:
        return "manifest unreadable or without a recorded time (created_at)"
    return ""


def trusted_backups(backups, files, stats, manifests, uid):
    """(backups to choose from, newest first; skipped ones with their reason)."""
    infos = {_path(f): f for f in list(files or []) + list(stats or []) if isinstance(f, dict)}
    times = manifest_times(manifests) if manifests is not None else None
    kept, skipped = [], []
    for backup in backups:
        reason = skip_reason(backup, infos.get(backup["path"] + ".json"), infos.get(backup["path"]), times, uid)
        if reason:
            skipped.append({"path": backup["path"], "reason": reason})
        else:
            kept.append(backup)
    if times is not None:
        kept.sort(key=lambda b: (times[b["path"]], b["stamp"], b["seq"], b["path"]), reverse=True)
    return kept, skipped


def backup_pick(files, request, app, database, records=None, resolved="", limit=10, manifests=None, backups=None,
                uid=None):
    request = str(request or "").strip()
    found, skipped = backup_list(files, app, database), []
    if manifests is not None or uid is not None:
        found, skipped = trusted_backups(found, files, backups, manifests, None if uid is None else int(uid))
    result = {"path": "", "how": "", "backup": {}, "prefix": "", "commit_known": True,
              "candidates": found[:int(limit)], "skipped": skipped}
    if request.startswith("/"):
        return dict(result, path=request, how="path")
    if request.startswith(BEFORE):
        ref, sha = request[len(BEFORE):], resolved_sha(resolved)
        result.update(prefix=(sha or ref).lower()[:12], commit_known=bool(sha) or is_valid("sha", ref))
    chosen, how = pick(found, result["prefix"], records)
    return dict(result, path=chosen.get("path", ""), how=how, backup=chosen)


class FilterModule:
    """maverick.rollback backup filters."""

    def filters(self):
        return {"backup_pick": backup_pick}
