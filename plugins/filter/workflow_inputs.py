# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inputs of a workflow_dispatch, as GitHub takes them."""

from __future__ import annotations

DOCUMENTATION = r"""
name: workflow_inputs
short_description: Inputs of a GitHub workflow_dispatch, as strings
version_added: 0.1.0
description:
  - Takes the inputs as a mapping, as a JSON object in a string (an AWX survey answer) or
    empty, and returns them as GitHub takes them - every key and value a string, booleans
    C(true)/C(false).
  - Anything else (a list, text that is not a JSON object) gives C(none), so the caller can refuse it.
options:
  _input:
    description: A mapping, a JSON object as text, or an empty string.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Refuse inputs that are not a mapping
  ansible.builtin.assert:
    that: github_redeploy_inputs | maverick.rollback.workflow_inputs is mapping
"""

RETURN = r"""
_value:
  description: The inputs, or C(none).
  type: dict
"""

import json
from collections.abc import Mapping


def _text(value):
    return str(value).lower() if isinstance(value, bool) else str(value)


def workflow_inputs(given):
    if isinstance(given, str):
        if not given.strip():
            return {}
        if not given.strip().startswith("{"):
            return None
        try:
            given = json.loads(given)
        except ValueError:
            return None
    if not isinstance(given, Mapping):
        return None
    return {str(key): _text(value) for key, value in given.items()}


class FilterModule:
    """maverick.rollback GitHub filters."""

    def filters(self):
        return {"workflow_inputs": workflow_inputs}
