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
  description: Per commit annotations (deploys, last_time, last_outcome, last_action).
  type: dict
  returned: always
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maverick.rollback.plugins.module_utils._ledger import (
    annotate, append_record, commits_to_keep, previous_healthy, read_records)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["appended", "query"], default="query"),
            record=dict(type="dict"),
            current_commit=dict(type="str"),
            keep=dict(type="int", default=5),
            limit=dict(type="int", default=20),
        ),
        required_if=[("state", "appended", ["record"])],
        supports_check_mode=True,
    )
    params = module.params
    result = dict(changed=False)
    if params["state"] == "appended":
        record = dict(params["record"])
        record.setdefault("time", now_utc())
        result["changed"] = True
        if module.check_mode:
            result["line"] = ""
        else:
            try:
                result["line"] = append_record(params["path"], record)
            except OSError as exc:
                module.fail_json(msg="cannot append to the release ledger %s: %s" % (params["path"], exc))
    records = read_records(params["path"])
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
