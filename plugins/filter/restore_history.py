# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the release ledger says about the restores of one database."""

from __future__ import annotations

DOCUMENTATION = r"""
name: restore_history
short_description: The newest restores of a database in the release ledger, and what they allow
version_added: 0.1.0
description:
  - Looks at the ledger's C(restore) and C(restore_undo) records of O(database).
  - C(undo_database) - what an undo puts back - the C(pre_restore_database) of the newest
    successful record when that is a restore; C(undone) - the newest successful record is an
    undo already (a second undo has nothing to do).
  - C(repeat) - the live database is the one the newest restore created from this same backup
    (the newest record is a successful restore with the backup's O(sha256) and the live
    database's O(live_oid)) - restoring it again would only discard later changes.
options:
  _input:
    description: Release ledger records, oldest first.
    type: list
    elements: dict
    required: true
  database:
    description: The database.
    type: str
    required: true
  sha256:
    description: sha256 of the backup about to be restored (for C(repeat)).
    type: str
    default: ""
  live_oid:
    description: oid of the live database, empty when there is none (for C(repeat)).
    type: raw
    default: ""
"""

EXAMPLES = r"""
- name: Decide whether this restore was done already
  ansible.builtin.set_fact:
    noop: "{{ (ledger.records | maverick.rollback.restore_history('lifetracker', sha256=checked.sha256, live_oid=live.oid)).repeat }}"
"""

RETURN = r"""
_value:
  description: What the ledger says.
  type: dict
  contains:
    last: {description: The newest restore or undo record (C(none) when there is none)., type: dict}
    last_done: {description: The newest of them whose outcome is C(restored) (C(none) when there is none)., type: dict}
    undo_database: {description: The database an undo puts back, empty when none., type: str}
    undone: {description: The newest successful record is an undo., type: bool}
    repeat: {description: This restore was done already (see above)., type: bool}
"""

ACTIONS = ("restore", "restore_undo")


def restore_history(records, database, sha256="", live_oid=""):
    history = [r for r in records or [] if isinstance(r, dict) and r.get("action") in ACTIONS
               and "database" in r and r.get("database") == database]
    last = history[-1] if history else None
    done = [r for r in history if r.get("outcome") == "restored"]
    last_done = done[-1] if done else None
    restored = bool(last_done) and last_done.get("action") == "restore"
    repeat = (last is not None and last.get("action") == "restore" and last.get("outcome") == "restored"
              and bool(sha256) and last.get("backup_sha256", "") == sha256
              and live_oid not in (None, "") and str(last.get("database_oid", "")) == str(live_oid))
    return {"last": last, "last_done": last_done,
            "undo_database": (last_done.get("pre_restore_database") or "") if restored else "",
            "undone": bool(last_done) and last_done.get("action") == "restore_undo", "repeat": repeat}


class FilterModule:
    """maverick.rollback restore filters."""

    def filters(self):
        return {"restore_history": restore_history}
