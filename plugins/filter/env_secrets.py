# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The secret values of an env file, for masking them everywhere else."""

from __future__ import annotations

DOCUMENTATION = r"""
name: env_secrets
short_description: The secret values an env file sets
version_added: 0.1.0
description:
  - Takes the text of a Compose C(.env) file and returns the values of the keys that
    match O(key_pattern) (case-insensitive, anywhere in the key; C(export ) and one pair of
    quotes removed) and the passwords inside URLs (C(DATABASE_URL)), also of commented-out
    settings (an old password in a comment is still a password).
  - Values shorter than 4 characters are left out (masking them everywhere would mask
    ordinary words). Sorted in reverse, without duplicates.
  - The result holds secrets; use it only in tasks with C(no_log), and hand it to
    M(maverick.rollback.mask).
options:
  _input:
    description: The env file's text.
    type: str
    required: true
  key_pattern:
    description: Regular expression alternation of key parts that mark a secret.
    type: str
    default: PASSWORD|SECRET|TOKEN|KEY
"""

EXAMPLES = r"""
- name: Collect the secret values to mask
  ansible.builtin.set_fact:
    secrets: "{{ env_text | maverick.rollback.env_secrets('PASSWORD|SECRET|TOKEN|KEY') }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: Secret values.
  type: list
  elements: str
"""

from ansible_collections.maverick.rollback.plugins.module_utils._rules import SECRET_KEY_PATTERN, env_secret_values


def env_secrets(text, key_pattern=SECRET_KEY_PATTERN):
    return env_secret_values(text, key_pattern or SECRET_KEY_PATTERN)


class FilterModule:
    """maverick.rollback masking filters."""

    def filters(self):
        return {"env_secrets": env_secrets}
