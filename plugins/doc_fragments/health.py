# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What makes a /health answer good: the options the health_probe module and the
health_verdict filter share (module_utils/_health.py applies them)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
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
