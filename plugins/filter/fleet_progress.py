# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Before each serial batch of a fleet rollback: go on or stop (docs/fleet.md)."""

from __future__ import annotations

from ansible_collections.maverick.rollback.plugins.module_utils._fleet import progress

DOCUMENTATION = r"""
name: fleet_progress
short_description: Whether a fleet rollback's next serial batch runs, and its number
version_added: 0.1.0
description:
  - Takes one dict per host of the play (C(__app_fleet_host) - C(batch), C(outcome)) at the start of a batch.
  - Stops when an earlier batch had more than O(max_fail_percentage) percent of its hosts fail their switch
    (outcome C(reverted) or C(failed)), as Ansible's C(max_fail_percentage) would, but without failing the play,
    so the last play can put the fleet back.
options:
  _input:
    description: One dict per host (C(__app_fleet_host)).
    type: list
    elements: dict
    required: true
  max_fail_percentage:
    description: Percentage of a batch's hosts that may fail before the run stops (C(app_max_fail_percentage)).
    type: float
    default: 0
"""

EXAMPLES = r"""
- name: Stop when an earlier batch failed
  ansible.builtin.meta: end_play
  when: (ansible_play_hosts_all | map('extract', hostvars, '__app_fleet_host') | maverick.rollback.fleet_progress).stop
"""

RETURN = r"""
_value:
  description: C(stop) (bool), C(stopped_by_batch) (0 or the batch that failed) and C(batch) (this batch's number).
  type: dict
"""


def fleet_progress(hosts, max_fail_percentage=0):
    return progress(list(hosts), max_fail_percentage)


class FilterModule:
    """maverick.rollback fleet filters."""

    def filters(self):
        return {"fleet_progress": fleet_progress}
