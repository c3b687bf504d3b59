# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a migration_resolve run ended, and where the migration stands now."""

from __future__ import annotations

DOCUMENTATION = r"""
name: resolve_outcome
short_description: How a migration_resolve run ended, and the migration's state after it
version_added: 0.1.0
description:
  - C(outcome) - C(failed) when a step failed; C(unhealthy) when the health gate after the
    change failed; C(reverted) (a revert applied), C(written_for_review) (a revert written, not
    applied), C(deployed) (resolved, then prisma migrate deploy ran) or C(resolved).
  - C(resolved_state) - the migration's state for the ledger - its state before when the run
    failed before the change took effect (stages C(lock), C(backup), C(revert_sql), C(resolve),
    C(write_review), C(apply_revert)); C(reverted) or C(revert_written) for a revert;
    C(applied) when the deploy applied it again; else the action (C(rolled_back), C(applied)).
options:
  _input:
    description:
      - The run - C(action) (C(rolled_back), C(applied), C(reverted)), C(migration), C(failed)
        (bool), C(stage) (where it failed), C(state_before), C(db_change) (bool), C(will_deploy)
        (bool), C(health) (the gate's result, empty when none ran), C(deployed) (migrations the deploy applied).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Record the run
  ansible.builtin.debug:
    msg: >-
      {{ {'action': 'rolled_back', 'migration': '20250301000000_entry_mood_required', 'failed': false,
          'db_change': true, 'will_deploy': true, 'health': {'healthy': true},
          'deployed': ['20250301000000_entry_mood_required']} | maverick.rollback.resolve_outcome }}
"""

RETURN = r"""
_value:
  description: C(outcome) and C(resolved_state).
  type: dict
"""

from ansible.module_utils.parsing.convert_bool import boolean

UNCHANGED_STAGES = ("lock", "backup", "revert_sql", "resolve", "write_review", "apply_revert")


def _flag(value):
    return boolean(value if value is not None else False, strict=False)


def _outcome(run):
    if _flag(run.get("failed")):
        return "failed"
    if not _flag((run.get("health") or {}).get("healthy", True)):
        return "unhealthy"
    if run.get("action") == "reverted":
        return "reverted" if _flag(run.get("db_change")) else "written_for_review"
    return "deployed" if _flag(run.get("will_deploy")) else "resolved"


def _resolved_state(run, outcome):
    if outcome == "failed" and run.get("stage") in UNCHANGED_STAGES:
        return run.get("state_before", "")
    if run.get("action") == "reverted":
        return "reverted" if _flag(run.get("db_change")) else "revert_written"
    if run.get("migration") in (run.get("deployed") or []):
        return "applied"
    return run.get("action", "")


def resolve_outcome(run):
    run = run or {}
    outcome = _outcome(run)
    return {"outcome": outcome, "resolved_state": _resolved_state(run, outcome)}


class FilterModule:
    """maverick.rollback migration filters."""

    def filters(self):
        return {"resolve_outcome": resolve_outcome}
