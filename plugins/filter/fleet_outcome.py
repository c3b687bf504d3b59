# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""After the batches of a fleet rollback: who goes back, the outcome, the table (docs/fleet.md)."""

from __future__ import annotations

from ansible_collections.maverick.rollback.plugins.module_utils._fleet import outcome, restore_database

DOCUMENTATION = r"""
name: fleet_outcome
short_description: A fleet rollback's outcome, the hosts to put back and the per-host summary
version_added: 0.1.0
description:
  - Takes one dict per host of the play (C(__app_fleet_host) - C(host), C(from), C(batch), C(outcome)) after the batches.
  - When a host failed its switch and O(allow_mixed) is false, every host that switched healthy goes back on the
    release it ran (RV(_value.put_back)), so the fleet does not end on two releases.
  - The fleet's outcome - C(healthy) (every host on the target), C(reverted) (a host failed, the others are back or
    never switched), C(mixed) (a host failed, others stay on the target, O(allow_mixed)), C(failed) (a host is not
    healthy) - and one summary line per host.
options:
  _input:
    description: One dict per host (C(__app_fleet_host)).
    type: list
    elements: dict
    required: true
  target:
    description: The target commit (for the table).
    type: str
    default: ''
  allow_mixed:
    description: Leave switched hosts on the target when another failed (C(app_allow_mixed)).
    type: bool
    default: false
  max_fail_percentage:
    description: As for C(maverick.rollback.fleet_progress) (names the batch that stopped the run).
    type: float
    default: 0
  database:
    description:
      - A deploy's database steps, run once before the batches - C(error) (the step that stopped the run before any
        switch), C(stage), C(touched) (migrations ran), C(restored), C(restore_error), C(kept_as), C(backup),
        C(migrations). A stop before any switch makes the outcome C(reverted); migrations that ran and were not put
        back make a C(reverted) fleet C(failed). Adds the database lines to the summary.
      - A full rollback's restore (C(kind=full_rollback), playbooks/full_rollback.yml) - C(touched) (the backup was
        swapped in), C(restored) (the previous database put back), C(restore_error), C(kept_as), C(backup), C(error),
        C(stage); then RV(_value.back) names the hosts that go back on the release they ran.
    type: dict
    default: {}
  action:
    description: The run's word in RV(_value.message) - C(rollback), C(deploy), C(full_rollback).
    type: str
    default: rollback
"""

EXAMPLES = r"""
- name: Decide what goes back
  ansible.builtin.set_fact:
    fleet_end: "{{ ansible_play_hosts_all | map('extract', hostvars, '__app_fleet_host') | maverick.rollback.fleet_outcome(target=sha) }}"
"""

RETURN = r"""
_value:
  description: >-
    C(outcome), C(put_back), C(failed), C(skipped) (host names), C(batches) (host names per batch),
    C(stopped_by_batch), C(record) (the run changed something: the fleet's ledger record is written),
    C(restore_database) (a deploy's migrated database goes back from its pre-deploy backup; a full rollback's
    restored one is put back), C(back) (a full rollback going back, every host not on the target before the run),
    C(back_outcome) (a host's outcome before going back -> [healthy after it, not healthy]), C(message) (why the
    run fails and the state it leaves - which hosts, which database is live and the command that puts the
    other back; empty when healthy), C(next) (the summary's C(next:) line - a database left on the wrong schema
    first, with the command that puts it back, then what to fix) and C(lines) (the summary table).
  type: dict
"""


def fleet_outcome(hosts, target="", allow_mixed=False, max_fail_percentage=0, database=None, action="rollback"):
    hosts = list(hosts)
    result = outcome(hosts, target, allow_mixed, max_fail_percentage, database, action)
    result["restore_database"] = restore_database(hosts, database, allow_mixed)
    return result


class FilterModule:
    """maverick.rollback fleet filters."""

    def filters(self):
        return {"fleet_outcome": fleet_outcome}
