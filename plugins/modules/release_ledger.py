#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: release_ledger
short_description: Append to or query the release ledger of an app
version_added: 0.1.0
description:
  - The release ledger is an append-only JSON-lines file (mode 0600, in a 0700 state
    directory) with one record per deploy, rollback, restore or revert.
  - C(state=appended) adds one record; C(state=query) reads it and derives the last
    healthy release, the healthy release before the current commit (what
    C(commit=previous) means), the commits whose images must be kept, and per-commit
    annotations.
  - A record is checked against the ledger schema before anything is written (one
    table in module_utils/_ledger_schema.py, action -> required keys and allowed
    outcomes; C(action), C(app), C(outcome) and C(time) always). A record that does
    not fit fails the task naming the missing key or the bad outcome, and nothing is
    written.
  - A record is one line, written whole. Appenders take turns; a last line torn by a
    crash is closed first so the new record stays readable; short writes are completed,
    and a failed write is cut off again. Readers skip a line that is not a JSON object
    or not UTF-8, with a warning naming it, and read the others.
  - The ledger is never opened through a symbolic link.
  - With O(run_id) (the run protocol's end), the record is stamped with that run id,
    and with O(lock_path) the run's lock heartbeat is refreshed (with O(release_lock), the lock is
    given back once the record is written).
options:
  path:
    description: Ledger file, for example C(/var/lib/maverick-rollback/lifetracker/ledger.jsonl).
    type: path
    required: true
  state:
    description: Append a record or only read.
    type: str
    choices: [appended, query]
    default: query
  record:
    description: The record to append (C(state=appended)); C(time) is added when missing.
    type: dict
  current_commit:
    description: Commit running now, to find the healthy release before it.
    type: str
  keep:
    description: How many distinct healthy releases are returned in RV(keep_commits).
    type: int
    default: 5
  limit:
    description: How many newest records to return in RV(records).
    type: int
    default: 20
  run_id:
    description:
      - Id of the run writing or reading (the one its M(maverick.rollback.app_lock) holds).
      - With C(state=appended) it is stored as the record's C(run_id); a record that names another
        C(run_id) is refused.
    type: str
  lock_path:
    description:
      - The app lock of O(run_id). When that run holds it, its heartbeat is refreshed (a sign of
        life, so a long run is not taken for a dead one); when another run holds it, a warning says so.
    type: path
  release_lock:
    description:
      - With C(state=appended), give the app lock O(lock_path) back once the record is written - the
        run protocol's end in one call (the release of M(maverick.rollback.app_lock) C(state=released), the
        same code) - only when O(run_id) holds it; another run's lock is left in place with a warning.
      - Nothing is given back when the record cannot be written.
      - In check mode the record is not written and the lock is not given back; RV(released) says whether it would be.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: In check mode an append is reported as a change and not written.
extends_documentation_fragment:
  - maverick.rollback.attributes
author:
  - Maverick Applications SRE (@maverickapplications)
"""

EXAMPLES = r"""
- name: Record a healthy rollback
  maverick.rollback.release_ledger:
    path: /var/lib/maverick-rollback/lifetracker/ledger.jsonl
    state: appended
    record:
      action: rollback
      from_commit: "{{ from_sha }}"
      to_commit: "{{ to_sha }}"
      outcome: healthy
      app: lifetracker

- name: End of a run - record it under the run's id and refresh its lock
  maverick.rollback.release_ledger:
    path: /var/lib/maverick-rollback/lifetracker/ledger.jsonl
    state: appended
    run_id: "{{ run_id }}"
    lock_path: /var/lib/maverick-rollback/lifetracker/lock
    record:
      action: backup
      app: lifetracker
      database: lifetracker
      outcome: verified

- name: End of a run that took the lock - record it and give the lock back in one call
  maverick.rollback.release_ledger:
    path: /var/lib/maverick-rollback/lifetracker/ledger.jsonl
    state: appended
    run_id: "{{ run_id }}"
    lock_path: /var/lib/maverick-rollback/lifetracker/lock
    release_lock: true
    record:
      action: backup
      app: lifetracker
      database: lifetracker
      outcome: verified
  register: ended

- name: Which release ran before this one?
  maverick.rollback.release_ledger:
    path: /var/lib/maverick-rollback/lifetracker/ledger.jsonl
    current_commit: "{{ head_sha }}"
  register: ledger
"""

RETURN = r"""
line:
  description: The JSON line appended.
  type: str
  returned: state=appended
released:
  description: Whether the app lock O(lock_path) was given back (would be, in check mode).
  type: bool
  returned: when O(release_lock)
records:
  description: Newest records, oldest first (at most O(limit)).
  type: list
  elements: dict
  returned: always
last_healthy:
  description: Newest record with outcome C(healthy), or null.
  type: dict
  returned: always
previous_healthy:
  description: Newest healthy record whose to_commit is not O(current_commit), or null.
  type: dict
  returned: always
keep_commits:
  description: Commits of the newest O(keep) distinct healthy releases.
  type: list
  elements: str
  returned: always
commits:
  description:
    - Per commit annotations (deploys, last_time, last_outcome, last_action), over the whole ledger.
    - For a commit that was healthy, also C(last_healthy_time) and C(last_healthy_seq) (its last healthy
      record's place among the host's release records, 0 = oldest), which the filter
      P(maverick.rollback.fleet_previous#filter) compares across the hosts of a fleet.
  type: dict
  returned: always
"""

import datetime
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maverick.rollback.plugins.module_utils._ledger import (
    LedgerError, annotate, append_record, commits_to_keep, previous_healthy, read_records, warn_all)
from ansible_collections.maverick.rollback.plugins.module_utils._ledger_schema import invalid_record_message
from ansible_collections.maverick.rollback.plugins.module_utils._lock import (
    LockError, NotHolder, describe, give_back, refresh)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_to_append(module):
    """The record as written: time added, the run id stamped, checked against the schema."""
    params = module.params
    record = dict(params["record"])
    record.setdefault("time", now_utc())
    if params["run_id"]:
        if record.get("run_id") not in (None, "", params["run_id"]):
            module.fail_json(msg="invalid ledger record: its run_id %r is not this run's (%r). Nothing was written to "
                                 "the ledger." % (record["run_id"], params["run_id"]))
        record["run_id"] = params["run_id"]
    message = invalid_record_message(record)
    if message:
        module.fail_json(msg=message, record=record)
    return record


def sign_of_life(module):
    """Refresh the run's lock heartbeat; only say so when another run holds that lock."""
    params = module.params
    if not (params["lock_path"] and params["run_id"]) or module.check_mode:
        return
    try:
        refresh(params["lock_path"], params["run_id"])
    except NotHolder as exc:
        if exc.holder:
            module.warn("the lock %s is held by another run, not by run %s: left in place (%s)"
                        % (params["lock_path"], params["run_id"], describe(exc.holder, time.time())))
    except (LockError, OSError) as exc:
        module.warn("cannot refresh the lock %s: %s" % (params["lock_path"], exc))


def lock_given_back(module, result):
    """The run protocol's release after the record (release_lock): True when the lock was given back."""
    params = module.params
    try:
        done, warning, _holder = give_back(params["lock_path"], params["run_id"], module.check_mode)
    except (LockError, OSError) as exc:
        module.fail_json(msg="the record was written to the release ledger %s, but the lock %s was not given back: %s"
                             % (params["path"], params["lock_path"], exc), **result)
    if warning:
        module.warn(warning)
    return done


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["appended", "query"], default="query"),
            record=dict(type="dict"),
            current_commit=dict(type="str"),
            keep=dict(type="int", default=5),
            limit=dict(type="int", default=20),
            run_id=dict(type="str"),
            lock_path=dict(type="path"),
            release_lock=dict(type="bool", default=False),
        ),
        required_if=[("state", "appended", ["record"]), ("release_lock", True, ["lock_path", "run_id"])],
        supports_check_mode=True,
    )
    params = module.params
    result = dict(changed=False)
    warnings = []
    if params["release_lock"] and params["state"] != "appended":
        module.fail_json(msg="release_lock gives the lock back after an append: it needs state=appended")
    try:
        if params["state"] == "appended":
            record = record_to_append(module)
            result["changed"] = True
            result["line"] = "" if module.check_mode else append_record(params["path"], record, warnings)
        if params["release_lock"]:
            result["released"] = lock_given_back(module, result)
        else:
            sign_of_life(module)
        records = read_records(params["path"], warnings)
    except LedgerError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot %s the release ledger %s: %s" % (
            "append to" if params["state"] == "appended" and "line" not in result else "read", params["path"], exc))
    warn_all(module, warnings)
    result.update(
        records=records[-params["limit"]:] if params["limit"] > 0 else [],
        last_healthy=next((r for r in reversed(records) if r.get("outcome") == "healthy"), None),
        previous_healthy=previous_healthy(records, params["current_commit"] or ""),
        keep_commits=commits_to_keep(records, params["keep"]),
        commits=annotate(records),
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
