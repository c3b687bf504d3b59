# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How an emergency restart ended."""

from __future__ import annotations

DOCUMENTATION = r"""
name: restart_outcome
short_description: How an emergency restart ended - recovered, nothing_to_do, unhealthy or failed
version_added: 0.1.0
description:
  - C(failed) when a task failed (O(failed)); C(unhealthy) when the health gate did not pass;
    C(recovered) when something was restarted (full mode, or plan steps) and the gate passed;
    C(nothing_to_do) when the gate passed and nothing needed a restart.
options:
  _input:
    description: The plan (M(maverick.rollback.restart_plan)).
    type: dict
    required: true
  health:
    description: The health gate's verdict (C(healthy)).
    type: dict
    default: {}
  failed:
    description: Whether a task of the run failed.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Outcome
  ansible.builtin.debug:
    msg: "{{ plan | maverick.rollback.restart_outcome(health | default({}), failed=error is defined) }}"
"""

RETURN = r"""
_value:
  description: C(recovered), C(nothing_to_do), C(unhealthy) or C(failed).
  type: str
"""

from ansible.module_utils.parsing.convert_bool import boolean


def restart_outcome(plan, health=None, failed=False):
    plan, health = plan or {}, health or {}
    if failed:
        return "failed"
    if not boolean(health.get("healthy", False), strict=False):
        return "unhealthy"
    return "recovered" if plan.get("mode") == "full" or plan.get("steps") else "nothing_to_do"


class FilterModule:
    """maverick.rollback emergency restart filters."""

    def filters(self):
        return {"restart_outcome": restart_outcome}
