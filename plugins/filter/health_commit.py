# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The commit a health answer reports, at the app's commit field (dotted for nested)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: health_commit
short_description: The commit a health probe's answer reports
version_added: 0.1.0
description:
  - Takes a registered M(ansible.builtin.uri) result and returns the value of the JSON field
    that carries the running commit; a dotted path reaches nested fields (C(build.commit)).
  - Returns an empty string when the answer has no JSON, a step of the path is missing, or the
    value is an object or a list - the same reading M(maverick.rollback.health_verdict) judges.
options:
  _input:
    description: Registered result of M(ansible.builtin.uri).
    type: dict
    required: true
  commit_field:
    description:
      - JSON field that carries the running commit (the app contract's C(app_health_commit_field)).
      - Empty when the app does not report its commit; the result is then empty.
    type: str
    default: commit
"""

EXAMPLES = r"""
- name: Show the commit the app reports under build.commit
  ansible.builtin.debug:
    msg: "{{ probe | maverick.rollback.health_commit('build.commit') }}"
"""

RETURN = r"""
_value:
  description: The reported commit, or an empty string.
  type: str
"""

from ansible_collections.maverick.rollback.plugins.module_utils._health import reported_commit


def health_commit(result, commit_field="commit"):
    """The value at commit_field of the answer's JSON ('' when absent, or when the app reports none)."""
    return reported_commit(result, commit_field)


class FilterModule:
    """maverick.rollback health filters."""

    def filters(self):
        return {"health_commit": health_commit}
