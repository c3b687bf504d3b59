# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge one ansible.builtin.uri result of a /health probe."""

from __future__ import annotations

DOCUMENTATION = r"""
name: health_verdict
short_description: Judge one /health probe result
version_added: 0.1.0
description:
  - Takes a registered M(ansible.builtin.uri) result and returns an empty string when the
    answer is good, otherwise a one-line reason (no answer, HTTP status, wrong commit).
extends_documentation_fragment:
  - maverick.rollback.health
options:
  _input:
    description: Registered result of M(ansible.builtin.uri).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Probe once and explain
  ansible.builtin.debug:
    msg: "{{ probe | maverick.rollback.health_verdict([200], 'abc1234', 'commit') or 'healthy' }}"
"""

RETURN = r"""
_value:
  description: Empty string when healthy, else the reason.
  type: str
"""

from ansible_collections.maverick.rollback.plugins.module_utils._health import verdict


def health_verdict(result, status_codes=(200,), expected_commit="", commit_field="commit"):
    """Return '' for a good answer, else why it is not good."""
    return verdict(result, status_codes, expected_commit, commit_field)


class FilterModule:
    """maverick.rollback health filters."""

    def filters(self):
        return {"health_verdict": health_verdict}
