# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet rollback's go/no-go before anything changes (docs/fleet.md)."""

from __future__ import annotations

from ansible_collections.maverick.rollback.plugins.module_utils._fleet import plan

DOCUMENTATION = r"""
name: fleet_plan
short_description: A fleet rollback's go or refusal, and the per-host plan, from every host's validation
version_added: 0.1.0
description:
  - Takes one dict per host of the play (the fact C(__app_fleet_host) of the role C(maverick.rollback.app_rollback) -
    C(host), C(error), C(from), C(target), C(reuse), C(noop)) after each host validated the target.
  - Refuses when any host refused (each named with the first line of its reason) or when the target resolves to
    different commits on the hosts (each commit named with its hosts). Nothing has changed at that point.
  - Otherwise names the target and which hosts reuse kept images, which build and which run it already.
options:
  _input:
    description: One dict per host (C(__app_fleet_host)).
    type: list
    elements: dict
    required: true
  requested:
    description: The target as the operator named it (for the messages).
    type: str
    default: ''
  names:
    description:
      - The play's hosts (C(ansible_play_hosts_all)), when O(_input) is aligned with them. A host whose entry is
        not a dict (it stopped before its validation - unreachable, or the app's preflight failed) refuses the run.
    type: list
    elements: str
  action:
    description:
      - What the run does, for the words of the refusal and the plan.
    type: str
    choices: [rollback, deploy]
    default: rollback
"""

EXAMPLES = r"""
- name: Decide for the fleet
  ansible.builtin.set_fact:
    fleet: >-
      {{ ansible_play_hosts_all | map('extract', hostvars) | map(attribute='__app_fleet_host', default={})
         | maverick.rollback.fleet_plan(requested='v1', names=ansible_play_hosts_all) }}
"""

RETURN = r"""
_value:
  description: C(refuse) (bool), C(message) (lines), C(target) (the SHA), C(hosts), C(reuse), C(build), C(noop) (host
    names) and C(lines) (the per-host plan).
  type: dict
"""


def fleet_plan(hosts, requested="", names=None, action="rollback"):
    return plan(list(hosts), requested, names, action)


class FilterModule:
    """maverick.rollback fleet filters."""

    def filters(self):
        return {"fleet_plan": fleet_plan}
