# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an emergency restart did, from its plan and the database wait."""

from __future__ import annotations

DOCUMENTATION = r"""
name: restart_done
short_description: What an emergency restart did, one line per action
version_added: 0.1.0
description:
  - Takes the plan of M(maverick.rollback.restart_plan) and says what was done - the database
    restart and the wait for it, then each other step; when the database did not become ready,
    the other services were left alone.
  - Full mode - C(docker compose down) and C(up -d), then the wait.
options:
  _input:
    description: The plan (M(maverick.rollback.restart_plan)).
    type: dict
    required: true
  db_ready:
    description: Whether the database accepted connections after its restart (true when it was not restarted).
    type: bool
    default: true
  waited:
    description: What the wait for the database said (one line), empty when there was no wait.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Remember what was done
  ansible.builtin.set_fact:
    done: "{{ plan | maverick.rollback.restart_done(pg_ready | default(true), waited | default([])) }}"
"""

RETURN = r"""
_value:
  description: One line per action, for the ledger and the summary.
  type: list
  elements: str
"""


def _verb(step):
    return ("started " if step.get("op") == "present" else "restarted ") + str(step.get("service"))


def restart_done(plan, db_ready=True, waited=None):
    plan, waited = plan or {}, list(waited or [])
    if plan.get("mode") == "full":
        return ["docker compose down (volumes kept)", "docker compose up -d"] + waited
    done = []
    for step in plan.get("steps") or []:
        if step.get("service") == plan.get("db_service"):
            done += [_verb(step)] + waited
        elif db_ready:
            done.append(_verb(step))
        else:
            done.append("left %s alone: the database is not ready" % step.get("service"))
    return done


class FilterModule:
    """maverick.rollback emergency restart filters."""

    def filters(self):
        return {"restart_done": restart_done}
