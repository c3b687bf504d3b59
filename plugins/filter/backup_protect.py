# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups the release ledger still points at: retention must never remove them.

The rule is module_utils/_backups.py (pg_backup applies it on the server with O(ledger_path)).
"""

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

from ansible_collections.maverick.rollback.plugins.module_utils._backups import backup_protect


class FilterModule:
    """maverick.rollback backup filters."""

    def filters(self):
        return {"backup_protect": backup_protect}
