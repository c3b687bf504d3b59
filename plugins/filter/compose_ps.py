# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The containers of `docker compose ps --format json`, whatever the compose version."""

from __future__ import annotations

DOCUMENTATION = r"""
name: compose_ps
short_description: Containers from a registered docker compose ps --format json
version_added: 0.1.0
description:
  - Takes the registered result of C(docker compose ps --all --format json) and returns one
    dict per container (C(Service), C(Name), C(State), C(Health), C(Status), C(ExitCode), C(ID), ...).
  - Compose v2 prints one JSON object per line, older versions one JSON array; both are read.
  - A failed command (rc not 0), a skipped task or empty output gives an empty list.
options:
  _input:
    description: Registered result of M(ansible.builtin.command) (C(rc), C(stdout)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The containers of the project
  ansible.builtin.set_fact:
    containers: "{{ ps_raw | maverick.rollback.compose_ps }}"
"""

RETURN = r"""
_value:
  description: Container dicts as compose prints them.
  type: list
  elements: dict
"""

import json

from ansible.errors import AnsibleFilterError


def compose_ps(result):
    result = result or {}
    text = str(result.get("stdout") or "")
    if result.get("rc", 1) != 0 or not text.strip():
        return []
    try:
        if text.lstrip().startswith("["):
            return list(json.loads(text))
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as exc:
        raise AnsibleFilterError("docker compose ps printed something that is not JSON (%s): %s" % (exc, text[:200]))


class FilterModule:
    """maverick.rollback compose filters."""

    def filters(self):
        return {"compose_ps": compose_ps}
