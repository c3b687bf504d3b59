#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: health_probe
short_description: The health gate's probes of an app's /health URL, in one call on the server
version_added: 0.1.0
description:
  - Probes O(url) with GET requests from the managed server until an answer is good
    (an allowed status code and, when O(expected_commit) is set, that commit in the
    JSON field O(commit_field)) or the next probe would start after O(deadline)
    seconds, one probe every O(interval) seconds.
  - After a good answer it asks for O(successes) - 1 more, O(interval) apart; the first
    bad one ends the gate (unstable).
  - One module call replaces a polling M(ansible.builtin.uri) task, which made a round
    trip per probe. The gate costs one round trip, so it notices a good answer sooner
    and loads the server and the controller less.
  - Read-only; it probes in check mode too. Each answer is shaped like a
    M(ansible.builtin.uri) result (status -1 when there was no answer), so the
    C(maverick.rollback.health_verdict) and C(maverick.rollback.health_commit) filters
    judge it the same way.
options:
  url:
    description: The health URL, as reached from the server; http or https only (others are refused).
    type: str
    required: true
  successes:
    description: Consecutive good answers the gate needs.
    type: int
    default: 3
  interval:
    description: Seconds between two probes.
    type: float
    default: 1.0
  deadline:
    description: Seconds from the first probe within which a good answer must come.
    type: float
    default: 60
  request_timeout:
    description: Seconds one request may take.
    type: int
    default: 5
  validate_certs:
    description: Verify the server's TLS certificate (https).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Probes are read-only GETs; they run in check mode too.
extends_documentation_fragment:
  - maverick.rollback.attributes
  - maverick.rollback.health
author:
  - Maverick Applications SRE (@maverickapplications)
"""

EXAMPLES = r"""
- name: Gate on the release that should be running
  maverick.rollback.health_probe:
    url: http://127.0.0.1:3000/health
    expected_commit: 425da83ab2e6
    successes: 3
    interval: 1
    deadline: 90
  register: gate
"""

RETURN = r"""
healthy:
  description: True when the first good answer was followed by enough good ones.
  returned: always
  type: bool
verdict:
  description: Why the last waiting answer is not good (empty when it is).
  returned: always
  type: str
first:
  description: The answers while waiting for a good one (uri-shaped); the last one is judged.
  returned: always
  type: list
  elements: dict
  sample: [{"url": "http://127.0.0.1:3000/health", "status": 200, "msg": "OK (unknown bytes)", "json": {"commit": "425da83"}}]
more:
  description: The confirming answers after the first good one (uri-shaped).
  returned: always
  type: list
  elements: dict
elapsed_s:
  description: Seconds from the first probe to the last answer.
  returned: always
  type: float
  sample: 2.04
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maverick.rollback.plugins.module_utils._health import GATE_SPEC, gate_refusal, probe_gate


def main():
    module = AnsibleModule(argument_spec=GATE_SPEC, supports_check_mode=True)
    # Checked here too (the role asserts it first).
    refused = gate_refusal(module.params)
    if refused:
        module.fail_json(msg="health_probe: " + refused)
    module.exit_json(changed=False, **probe_gate(module, module.params))


if __name__ == "__main__":
    main()
