# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups the release ledger still points at: retention must never remove them."""

from __future__ import annotations

DOCUMENTATION = r"""
name: backup_protect
short_description: Backup paths the release ledger still points at
version_added: 0.1.0
description:
  - Returns the backup paths that backup retention must keep (the O(protect) option of
    M(maverick.rollback.pg_backup)) - the ledger "points at" them when
  - (1) it is the newest successful backup in O(backup_dir) taken while one of the
    O(releases) ran (what C(db_restore_backup=before=<commit>) picks for that release;
    commits compare by prefix, backups record 12 hex digits);
  - (2) a deploy or rollback record of one of those releases names it in C(backup);
  - (3) one of the newest O(restores) restore records names it in C(backup) or
    C(safety_backup) (the backup restored and the safety copy of what it replaced).
options:
  _input:
    description: Ledger records, oldest first (C(records) of M(maverick.rollback.release_ledger) with a large C(limit)).
    type: list
    elements: dict
    required: true
  releases:
    description: Commits of the releases to protect (C(keep_commits) of M(maverick.rollback.release_ledger)).
    type: list
    elements: str
    required: true
  backup_dir:
    description: Directory whose backups rule (1) considers; empty for every directory.
    type: str
    default: ""
  restores:
    description: How many of the newest restore records rule (3) considers.
    type: int
    default: 1
"""

EXAMPLES = r"""
- name: Backups the ledger still points at
  ansible.builtin.set_fact:
    protected: "{{ ledger.records | maverick.rollback.backup_protect(ledger.keep_commits, '/var/lib/maverick-rollback/backups') }}"
"""

RETURN = r"""
_value:
  description: Backup paths, sorted, without duplicates.
  type: list
  elements: str
"""

import os


def same_commit(a, b):
    a, b = str(a or "").lower(), str(b or "").lower()
    if len(a) < 4 or len(b) < 4 or "unknown" in (a, b):
        return False
    return a.startswith(b) or b.startswith(a)


def _in_dir(path, directory):
    if not directory:
        return True
    return os.path.dirname(os.path.normpath(path)) == os.path.normpath(directory)


def backup_protect(records, releases, backup_dir="", restores=1):
    records = [r for r in records or [] if isinstance(r, dict)]
    releases = [c for c in releases or [] if c]
    protected = set()
    backups = [r for r in records if r.get("action") == "backup" and r.get("path")
               and r.get("outcome", "verified") == "verified"]
    for commit in releases:
        for record in reversed(backups):
            if same_commit(record.get("commit"), commit) and _in_dir(record["path"], backup_dir):
                protected.add(record["path"])
                break
    for record in records:
        if record.get("action") in ("backup", "restore", "restore_undo"):
            continue
        if record.get("backup") and any(same_commit(record.get("to_commit"), c) for c in releases):
            protected.add(record["backup"])
    restore_records = [r for r in records if r.get("action") == "restore"]
    for record in restore_records[-restores:] if restores > 0 else []:
        for key in ("backup", "safety_backup"):
            if record.get(key):
                protected.add(record[key])
    return sorted(protected)


class FilterModule:
    """maverick.rollback backup filters."""

    def filters(self):
        return {"backup_protect": backup_protect}
