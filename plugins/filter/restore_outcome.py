# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a database restore, undo or drop ended."""

from __future__ import annotations

DOCUMENTATION = r"""
name: restore_outcome
short_description: How a db_restore run ended - restored, untouched, reverted, dropped or failed
version_added: 0.1.0
description:
  - C(drop) - C(dropped) without an error, else C(failed).
  - C(restore) or C(undo) - C(restored) when it worked and the health gate passed;
    C(untouched) when it failed before anything was replaced (no swap) and going back worked;
    C(reverted) when it failed afterwards and the swap back left the previous database
    live and healthy; C(failed) otherwise (a human must look).
options:
  _input:
    description:
      - The run's state - C(action) (C(restore), C(undo), C(drop)), C(error) (empty when it
        worked), C(health) (the gate's result, C(healthy)), C(swapped), C(swapped_back),
        C(revert_error), C(revert_health) (the gate after going back, empty when none ran).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Outcome
  ansible.builtin.debug:
    msg: >-
      {{ {'action': 'restore', 'error': '', 'health': {'healthy': true}, 'swapped': true, 'swapped_back': false,
          'revert_error': '', 'revert_health': {}} | maverick.rollback.restore_outcome }}
"""

RETURN = r"""
_value:
  description: C(restored), C(dropped), C(untouched), C(reverted) or C(failed).
  type: str
"""

from ansible.module_utils.parsing.convert_bool import boolean


def _flag(value, default=False):
    return default if value is None else boolean(value, strict=False)


def _healthy(gate, default):
    return _flag((gate or {}).get("healthy"), default)


def restore_outcome(run):
    run = run or {}
    error, revert_error = str(run.get("error") or ""), str(run.get("revert_error") or "")
    if run.get("action") == "drop":
        return "failed" if error else "dropped"
    if not error and _healthy(run.get("health"), False):
        return "restored"
    if not _flag(run.get("swapped")) and not revert_error and _healthy(run.get("revert_health"), True):
        return "untouched"
    if _flag(run.get("swapped_back")) and not revert_error and _healthy(run.get("revert_health"), False):
        return "reverted"
    return "failed"


class FilterModule:
    """maverick.rollback restore filters."""

    def filters(self):
        return {"restore_outcome": restore_outcome}
