# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""commit=previous on a group of app servers: the newest release healthy on every host (docs/fleet.md)."""

from __future__ import annotations

from ansible_collections.maverick.rollback.plugins.module_utils._fleet import previous

DOCUMENTATION = r"""
name: fleet_previous
short_description: The release C(commit=previous) means on a group from every host's release ledger
version_added: 0.1.0
description:
  - Takes one dict per host of the play, the fact C(__app_fleet_ledger) of the role C(maverick.rollback.app_rollback),
    with C(host), C(current) (the commit it runs) and C(commits) (the RV(maverick.rollback.release_ledger#module:commits)
    annotations of its ledger).
  - Picks the newest release healthy on every host and running on none. Each host's healthy releases are ranked
    newest first in its own ledger's order; the pick has the best worst rank over the hosts (then the smaller sum of
    ranks, then the later last-healthy time on the host where it is oldest). On one host this is the release
    C(commit=previous) means for one server.
  - Returns no commit when a host's ledger could not be read or no release is healthy on every host; then each host
    resolves C(previous) on its own, as one server does (its ledger, else git's reflog), and the fleet's plan refuses
    when they disagree.
options:
  _input:
    description: One dict per host (C(__app_fleet_ledger)).
    type: list
    elements: dict
    required: true
  names:
    description: The play's hosts (C(ansible_play_hosts_all)), when O(_input) is aligned with them. A host whose entry
      is not a dict had no ledger read.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Pick the newest release healthy on every host
  ansible.builtin.set_fact:
    previous: >-
      {{ ansible_play_hosts_all | map('extract', hostvars) | map(attribute='__app_fleet_ledger', default={})
         | maverick.rollback.fleet_previous(names=ansible_play_hosts_all) }}
"""

RETURN = r"""
_value:
  description: C(commit) (the SHA, or empty), C(lines) (what was picked, or why none), C(hosts) and C(candidates)
    (per host, its newest healthy releases other than the running ones).
  type: dict
"""


def fleet_previous(hosts, names=None):
    return previous(list(hosts), names)


class FilterModule:
    """maverick.rollback fleet filters."""

    def filters(self):
        return {"fleet_previous": fleet_previous}
