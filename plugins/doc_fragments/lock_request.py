# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run protocol's lock request taken inside a module's call (module_utils/_lock.py
LOCK_REQUEST_SPEC, take_in_call): release_switch and pg_backup."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  lock:
    description:
      - Take (or re-enter) this run's app lock in this call, before it changes anything, with these
        fields of M(maverick.rollback.app_lock) - the run protocol's request (docs/run_protocol.md),
        one remote call fewer than an M(maverick.rollback.app_lock) call of its own.
      - Another run holding the lock (a stale one unless O(lock.break_stale)) refuses the call before
        it changes anything, with RV(lock_refused); in check mode too. RV(lock_taken) says whether
        this call took it; the caller gives it back.
      - Omitted - the caller holds the lock already.
    type: dict
    suboptions:
      path:
        description: Lock file, as O(maverick.rollback.app_lock#module:path).
        type: path
        required: true
      run_id:
        description: This run's id, as O(maverick.rollback.app_lock#module:run_id).
        type: str
        required: true
      owner:
        description: As O(maverick.rollback.app_lock#module:owner).
        type: str
        default: unknown
      controller:
        description: As O(maverick.rollback.app_lock#module:controller).
        type: str
        default: unknown
      awx_job_id:
        description: As O(maverick.rollback.app_lock#module:awx_job_id).
        type: str
        default: ""
      ttl:
        description: As O(maverick.rollback.app_lock#module:ttl).
        type: int
        default: 1800
      break_stale:
        description: As O(maverick.rollback.app_lock#module:break_stale).
        type: bool
        default: false
"""
