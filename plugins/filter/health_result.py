# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health gate's verdict from a probe sequence (module_utils/_health.py gate_result)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: health_result
short_description: The health gate's verdict from a probe sequence
version_added: 0.1.0
description:
  - Takes the probe sequence of M(maverick.rollback.health_probe) (or the RV(maverick.rollback.release_switch#module:gate)
    of a switch call that gated its own C(up)) and returns the health gate's verdict, the health_check role's
    C(health_check_result) - one rule for both.
  - Unhealthy when the last waiting answer was bad (the deadline passed), or unstable when a confirming
    answer was bad after a good one.
extends_documentation_fragment:
  - maverick.rollback.health
options:
  _input:
    description: The probe sequence - C(first), C(more), C(elapsed_s), C(verdict).
    type: dict
    required: true
  url:
    description: The URL probed.
    type: str
    required: true
  deadline:
    description: The gate's deadline in seconds, named in the reason.
    type: float
    default: 60
"""

EXAMPLES = r"""
- name: Judge the probe sequence
  ansible.builtin.set_fact:
    health_check_result: "{{ probe | maverick.rollback.health_result(url=app_health_url, expected_commit=sha, deadline=90) }}"
"""

RETURN = r"""
_value:
  description:
    - healthy, reason (empty when healthy), url, status and commit of the last answer, expected_commit,
      attempts, elapsed_s.
  type: dict
"""

from ansible_collections.maverick.rollback.plugins.module_utils._health import gate_result


def health_result(probe, url, status_codes=(200,), expected_commit="", commit_field="commit", deadline=60):
    return gate_result(probe, url, [int(code) for code in status_codes], expected_commit, commit_field, deadline)


class FilterModule:
    """maverick.rollback health gate verdict."""

    def filters(self):
        return {"health_result": health_result}
