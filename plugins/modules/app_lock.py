#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: app_lock
short_description: One lock per app, so two rollbacks never run at once
version_added: 0.1.0
description:
  - The begin and end of the run protocol. The lock file holds who took it (owner,
    controller host and pid, run id, AWX job id), when, its TTL and the run's last
    heartbeat. It is published whole (a fully written temporary file linked or renamed
    into place) and never opened through a symbolic link.
  - Re-entrant by run id. Taking the lock with the run id that holds it succeeds
    without changing the holder (only its heartbeat is refreshed), with RV(reentered)
    true and no change. Roles composed by a playbook under one run id therefore need no
    switch to skip the lock; a role gives the lock back only if it did not re-enter.
  - A second run fails fast naming the holder, its age and its last heartbeat.
  - Liveness, not age. The holder refreshes its heartbeat with every lock call
    (re-entry, O(state=refreshed)) and every M(maverick.rollback.release_ledger) call
    that names its run id. A long step may keep a worker process on the server
    recorded in the lock, alive while it runs. The lock is stale only when that worker
    is gone (or none) and the last heartbeat is older than the TTL, or when the file is
    unreadable. A stale lock is reported, and broken only with O(break_stale=true).
    Breaking is atomic, so of two runs breaking the same stale lock exactly one wins.
  - C(state=released) removes the lock only when O(run_id) holds it. Otherwise
    nothing is done (RV(released) false), with a warning when another run holds it.
options:
  path:
    description: Lock file, for example C(/var/lib/maverick-rollback/lifetracker/lock).
    type: path
    required: true
  state:
    description:
      - V(acquired) takes the lock (or re-enters it); V(released) gives it back;
        V(refreshed) renews the holder's heartbeat and fails when O(run_id) does not
        hold the lock; V(query) only reports the holder.
    type: str
    choices: [acquired, released, refreshed, query]
    default: acquired
  run_id:
    description: Unique id of this run; re-entry, refresh and release need the same id.
    type: str
    required: true
  owner:
    description: Who runs this (user, AWX user).
    type: str
    default: unknown
  controller:
    description: Host the play runs from.
    type: str
    default: unknown
  controller_pid:
    description: Process id of C(ansible-playbook) on the controller, recorded for information.
    type: int
  awx_job_id:
    description: AWX/Tower job id, when run from AWX.
    type: str
    default: ""
  ttl:
    description: Seconds without a heartbeat (and without a live worker) after which the lock counts as stale.
    type: int
    default: 1800
  break_stale:
    description: Break a stale lock (reported in RV(broken)) instead of failing.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: In check mode the lock is only inspected; a held lock still fails.
extends_documentation_fragment:
  - maverick.rollback.attributes
author:
  - Maverick Applications SRE (@maverickapplications)
"""

EXAMPLES = r"""
- name: Begin the run (take the app lock, or re-enter the caller's)
  maverick.rollback.app_lock:
    path: /var/lib/maverick-rollback/lifetracker/lock
    run_id: "{{ run_id }}"
    owner: "{{ lookup('ansible.builtin.env', 'USER') }}"
    controller: "{{ lookup('ansible.builtin.pipe', 'hostname') }}"
  register: begin

- name: Still working (between long steps)
  maverick.rollback.app_lock:
    path: /var/lib/maverick-rollback/lifetracker/lock
    run_id: "{{ run_id }}"
    state: refreshed

- name: End the run (give the lock back unless a caller holds it)
  maverick.rollback.app_lock:
    path: /var/lib/maverick-rollback/lifetracker/lock
    run_id: "{{ run_id }}"
    state: released
  when: not begin.reentered
"""

RETURN = r"""
holder:
  description: The lock record now in place (or the one found, for query), null when free.
  type: dict
  returned: always
reentered:
  description: The lock was already held by O(run_id); nothing but its heartbeat changed.
  type: bool
  returned: state=acquired
released:
  description: This call removed the lock.
  type: bool
  returned: state=released
stale:
  description: The lock found is stale (no live worker, no heartbeat within its TTL, or unreadable).
  type: bool
  returned: state=query
broken:
  description: The stale holder that was broken, if any.
  type: dict
  returned: when a stale lock was broken
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maverick.rollback.plugins.module_utils._lock import (
    LOCK_REQUEST_SPEC, LockError, LockHeld, NotHolder, acquire, describe, give_back, held_by_another, held_message, is_stale,
    lock_record, read_holder, refresh)


def mine(holder, run_id):
    return bool(holder) and holder.get("run_id") == run_id


def query(module, path, now):
    holder = read_holder(path)
    module.exit_json(changed=False, holder=holder, stale=bool(holder) and is_stale(holder, now))


def released(module, path, now):
    done, warning, holder = give_back(path, module.params["run_id"], module.check_mode, now)
    if warning:
        module.warn(warning)
    module.exit_json(changed=done, released=done, holder=holder)


def refreshed(module, path, now):
    run_id = module.params["run_id"]
    try:
        holder = read_holder(path) if module.check_mode else refresh(path, run_id, now)
        if not mine(holder, run_id):
            raise NotHolder(holder)
    except NotHolder as exc:
        module.fail_json(msg="run %s does not hold the lock %s (%s): another run may have broken it as stale. "
                             "Stop here and check what that run changed." % (
                                 run_id, path, describe(exc.holder, now) if exc.holder else "no lock"),
                         holder=exc.holder)
    module.exit_json(changed=False, holder=holder)


def acquired(module, path, now):
    params = module.params
    if module.check_mode:
        holder = read_holder(path)
        if held_by_another(holder, params["run_id"], params["break_stale"], now):
            module.fail_json(msg=held_message(holder, now, path), holder=holder)
        module.exit_json(changed=not mine(holder, params["run_id"]), reentered=mine(holder, params["run_id"]),
                         holder=holder)
    try:
        taken, broken = acquire(path, lock_record(params, now), params["break_stale"], now)
    except LockHeld as exc:
        module.fail_json(msg=held_message(exc.holder, now, path), holder=exc.holder)
    result = dict(changed=taken, reentered=not taken, holder=read_holder(path))
    if broken:
        result["broken"] = broken
        module.warn("broke a stale lock: %s" % describe(broken, now))
    module.exit_json(**result)


STATES = {"acquired": acquired, "released": released, "refreshed": refreshed, "query": query}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            LOCK_REQUEST_SPEC,
            state=dict(type="str", choices=list(STATES), default="acquired"),
            controller_pid=dict(type="int"),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    try:
        STATES[module.params["state"]](module, path, time.time())
    except LockError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot use the lock %s: %s" % (path, exc))


if __name__ == "__main__":
    main()
