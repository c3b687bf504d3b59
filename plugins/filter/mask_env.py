# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An env file with the values of its secret keys masked."""

from __future__ import annotations

DOCUMENTATION = r"""
name: mask_env
short_description: An env file with the values of its secret keys masked
version_added: 0.1.0
description:
  - Keeps every line of a Compose C(.env) file and replaces the value of each key that
    matches O(key_pattern) (case-insensitive, anywhere in the key; also after C(export ) and
    in commented-out lines) by C(********).
  - Every other secret of the file (see M(maverick.rollback.env_secrets) - every value but the short,
    common, numeric and naming ones) is masked where it appears, passwords inside URLs too.
  - An empty file gives O(missing).
options:
  _input:
    description: The env file's text.
    type: str
    required: true
  key_pattern:
    description:
      - Regular expression alternation of key parts (case-insensitive, anywhere in the key) whose
        whole values are masked, however short.
      - Empty means the collection's list.
    type: str
    default: PASS|SECRET|TOKEN|KEY|DSN|CRED|AUTH
  missing:
    description: What an empty (or unreadable) env file gives.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: The env file for the incident bundle
  ansible.builtin.set_fact:
    env_masked: "{{ env_text | maverick.rollback.mask_env(missing='(no env file at /opt/lifetracker/.env)') }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: The env file's text, secret values masked.
  type: str
"""

from ansible_collections.maverick.rollback.plugins.module_utils._rules import SECRET_KEY_PATTERN, mask_env_text


def mask_env(text, key_pattern=SECRET_KEY_PATTERN, missing=""):
    if not text:
        return missing
    return mask_env_text(text, key_pattern or SECRET_KEY_PATTERN)


class FilterModule:
    """maverick.rollback masking filters."""

    def filters(self):
        return {"mask_env": mask_env}
