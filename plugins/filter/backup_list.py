# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Our backups of one app and database, newest first, from find results."""

from __future__ import annotations

DOCUMENTATION = r"""
name: backup_list
short_description: Parse and sort backup names of one app and database, newest first
version_added: 0.1.0
description:
  - Takes paths (or the C(files) of M(ansible.builtin.find)) of backups or of their
    C(.json) manifests and keeps those named like M(maverick.rollback.pg_backup) names
    them - C(<app>_<db>_<YYYYmmddTHHMMSSZ>_<commit>[-N].dump).
  - Sorted by the UTC time in the name, then the sequence number, newest first (the
    name is the record of when the backup was taken; file times can change on a copy).
options:
  _input:
    description: Paths, or dicts with a C(path) key (and optionally C(size), C(mtime)).
    type: list
    elements: raw
    required: true
  app:
    description: App name (first field of the name).
    type: str
    required: true
  database:
    description: Database name (second field).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Newest backup that has a manifest
  ansible.builtin.set_fact:
    newest: "{{ (found.files | maverick.rollback.backup_list('lifetracker', 'lifetracker') | first).path }}"
"""

RETURN = r"""
_value:
  description:
    - One dict per backup - C(path) (the backup, not the manifest), C(name), C(stamp)
      (C(YYYYmmddTHHMMSSZ)), C(created) (ISO 8601 UTC), C(commit) (short, or C(unknown)),
      C(seq), and C(size)/C(mtime) when the input had them.
  type: list
  elements: dict
"""

import os

from ansible_collections.maverick.rollback.plugins.module_utils._rules import parse_backup_name


def _created(stamp):
    return "%s-%s-%sT%s:%s:%sZ" % (stamp[0:4], stamp[4:6], stamp[6:8], stamp[9:11], stamp[11:13], stamp[13:15])


def backup_list(items, app, database):
    found = {}
    for item in items or []:
        entry = dict(item) if isinstance(item, dict) else {"path": item}
        path = str(entry.get("path") or "").rstrip("/")
        if path.endswith(".json"):
            path = path[:-len(".json")]
            entry.pop("size", None)  # the manifest's, not the backup's
            entry.pop("mtime", None)
        fields = parse_backup_name(os.path.basename(path), app, database)
        if not fields:
            continue
        del fields["app"], fields["database"]
        fields.update(path=path, created=_created(fields["stamp"]))
        fields.update(found.get(path, {}))
        fields.update({key: entry[key] for key in ("size", "mtime") if key in entry})
        found[path] = fields
    return sorted(found.values(), key=lambda b: (b["stamp"], b["seq"], b["path"]), reverse=True)


class FilterModule:
    """maverick.rollback backup filters."""

    def filters(self):
        return {"backup_list": backup_list}
