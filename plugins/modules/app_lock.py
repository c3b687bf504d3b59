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
  - Creates a lock file atomically (C(O_EXCL)) holding who took it (owner, controller
    host, run id, AWX job id), when, and its TTL.
  - A second run fails fast naming the holder and the lock's age.
  - A lock older than its TTL, or unreadable, is stale; it is reported, and broken
    only with O(break_stale=true).
  - C(state=released) removes the lock only when O(run_id) holds it.
options:
  path:
    description: Lock file, for example C(/var/lib/maverick-rollback/lifetracker/lock).
    type: path
    required: true
  state:
    description: Take or give back the lock; C(query) only reports the holder.
    type: str
    choices: [acquired, released, query]
    default: acquired
  run_id:
    description: Unique id of this run; release only removes a lock with the same id.
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
  awx_job_id:
    description: AWX/Tower job id, when run from AWX.
    type: str
    default: ""
  ttl:
    description: Seconds after which the lock counts as stale.
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
- name: Take the app lock
  maverick.rollback.app_lock:
    path: /var/lib/maverick-rollback/lifetracker/lock
    run_id: "{{ run_id }}"
    owner: "{{ lookup('ansible.builtin.env', 'USER') }}"

- name: Give it back
  maverick.rollback.app_lock:
    path: /var/lib/maverick-rollback/lifetracker/lock
    run_id: "{{ run_id }}"
    state: released
"""

RETURN = r"""
holder:
  description: The lock record now in place (or the one found, for query), null when free.
  type: dict
  returned: always
broken:
  description: The stale holder that was broken, if any.
  type: dict
  returned: when a stale lock was broken
"""

import datetime
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maverick.rollback.plugins.module_utils._lock import (
    LockHeld, acquire, describe, held_message, is_stale, read_holder, release)


def lock_record(params, now):
    return dict(
        run_id=params["run_id"], owner=params["owner"], controller=params["controller"],
        awx_job_id=params["awx_job_id"], ttl=params["ttl"], started_epoch=now,
        started=datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["acquired", "released", "query"], default="acquired"),
            run_id=dict(type="str", required=True),
            owner=dict(type="str", default="unknown"),
            controller=dict(type="str", default="unknown"),
            awx_job_id=dict(type="str", default=""),
            ttl=dict(type="int", default=1800),
            break_stale=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params, path, now = module.params, module.params["path"], time.time()
    holder = read_holder(path)
    if params["state"] == "query":
        module.exit_json(changed=False, holder=holder, stale=bool(holder) and is_stale(holder, now))
    if params["state"] == "released":
        mine = bool(holder) and holder.get("run_id") == params["run_id"]
        if mine and not module.check_mode:
            release(path, params["run_id"])
        module.exit_json(changed=mine, holder=None if mine else holder)
    # acquired
    if module.check_mode:
        if holder and holder.get("run_id") != params["run_id"] and not (is_stale(holder, now) and params["break_stale"]):
            module.fail_json(msg=held_message(holder, now, path), holder=holder)
        module.exit_json(changed=holder is None or holder.get("run_id") != params["run_id"], holder=holder)
    try:
        acquired, broken = acquire(path, lock_record(params, now), params["break_stale"], now)
    except LockHeld as exc:
        module.fail_json(msg=held_message(exc.holder, now, path), holder=exc.holder)
    except OSError as exc:
        module.fail_json(msg="cannot create the lock %s: %s" % (path, exc))
    result = dict(changed=acquired, holder=read_holder(path))
    if broken:
        result["broken"] = broken
        module.warn("broke a stale lock: %s" % describe(broken, now))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
