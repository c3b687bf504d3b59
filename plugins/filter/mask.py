# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mask secrets in a text: the collection's one masking rule."""

from __future__ import annotations

DOCUMENTATION = r"""
name: mask
short_description: Replace secrets in a text by ********
version_added: 0.1.0
description:
  - Replaces every value of O(secrets) (also URL-encoded), the password inside any URL
    (C(scheme://user:<password>@host)) and the value after C(password=), C(password:),
    C(PGPASSWORD=) or C(POSTGRES_PASSWORD=) by C(********).
  - Secrets are replaced longest first, so a secret is never only partly masked because a
    shorter one is its prefix.
  - The rule the modules use for their messages too (module_utils/_rules.py).
options:
  _input:
    description: Any text (C(none) gives an empty string).
    type: raw
    required: true
  secrets:
    description: Secret values, for example from M(maverick.rollback.env_secrets).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Write a log, masked
  ansible.builtin.copy:
    dest: /var/lib/maverick-rollback/lifetracker/incidents/logs.txt
    content: "{{ logs.stdout | maverick.rollback.mask(secrets) }}"
    mode: "0600"
  no_log: true
"""

RETURN = r"""
_value:
  description: The text with every secret replaced by C(********).
  type: str
"""

from ansible_collections.maverick.rollback.plugins.module_utils._rules import mask_text


def mask(text, secrets=None):
    return mask_text(text, secrets or ())


class FilterModule:
    """maverick.rollback masking filters."""

    def filters(self):
        return {"mask": mask}
