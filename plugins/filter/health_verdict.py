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
options:
  _input:
    description: Registered result of M(ansible.builtin.uri).
    type: dict
    required: true
  status_codes:
    description: HTTP status codes that count as healthy.
    type: list
    elements: int
    default: [200]
  expected_commit:
    description: Commit SHA (7-40 hex) the answer must report; empty to skip.
    type: str
    default: ""
  commit_field:
    description: JSON field that carries the running commit; a dotted path reaches nested fields (C(build.commit)).
    type: str
    default: commit
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

MIN_SHA_PREFIX = 7


def commits_match(expected, reported):
    """True when one SHA is a prefix of the other (apps may report short SHAs)."""
    expected, reported = expected.strip().lower(), reported.strip().lower()
    if len(reported) < MIN_SHA_PREFIX:
        return False
    return expected.startswith(reported) or reported.startswith(expected)


def reported_field(body, path):
    """The value at a dotted path of a JSON object ('' when any step is missing)."""
    for key in path.split("."):
        if not isinstance(body, dict) or key not in body:
            return ""
        body = body[key]
    return "" if body is None or isinstance(body, (dict, list)) else str(body)


def health_verdict(result, status_codes=(200,), expected_commit="", commit_field="commit"):
    """Return '' for a good answer, else why it is not good."""
    result = result or {}
    status = int(result.get("status", -1))
    url = result.get("url", "")
    if status == -1:
        return "no answer from %s: %s" % (url, result.get("msg", "connection failed"))
    if status not in [int(code) for code in status_codes]:
        return "HTTP %d from %s (expected %s)" % (status, url, "/".join(str(c) for c in status_codes))
    if expected_commit:
        reported = reported_field(result.get("json"), commit_field)
        if not reported:
            return "no '%s' field in the answer from %s" % (commit_field, url)
        if not commits_match(expected_commit, reported):
            return "wrong commit: expected %s, running %s" % (expected_commit, reported)
    return ""


class FilterModule:
    """maverick.rollback health filters."""

    def filters(self):
        return {"health_verdict": health_verdict}
