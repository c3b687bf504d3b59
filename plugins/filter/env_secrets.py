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
  - Takes the text of a Compose C(.env) file and returns the secrets it holds, to mask them
    in logs, bundles and messages. Values are read as Compose reads them (C(export ), one
    pair of quotes, an unquoted value ends where a comment starts); commented-out settings count too (an
    old password in a comment is still a password).
  - Every value is a secret, except values shorter than 4 characters, common words
    (C(true), C(false), C(yes), C(no), C(on), C(off), C(null), C(none), C(enabled),
    C(disabled)), and - unless the key matches O(key_pattern) - numbers and the values of
    keys that name something (C(..._USER), C(..._DB), C(..._DATABASE), C(..._NAME),
    C(..._HOST), C(..._PORT), C(..._ENV), C(..._LEVEL), C(..._MODE), C(..._VERSION),
    C(..._DIR), C(..._PATH), C(TZ)). Masking those everywhere would mask ordinary output.
  - In a URL with a user and a password only the password is a secret (the address stays
    readable); in a URL with a user and no password (a DSN, a token as user) the URL and the user.
  - Sorted in reverse, without duplicates. The rule is C(env_value_secrets) in module_utils/_rules.py.
  - The result holds secrets; use it only in tasks with C(no_log), and hand it to
    M(maverick.rollback.mask).
options:
  _input:
    description: The env file's text.
    type: str
    required: true
  key_pattern:
    description:
      - Regular expression alternation of key parts (case-insensitive, anywhere in the key) whose
        values are secrets even when they are numbers or the key names something.
      - Empty means the collection's list.
    type: str
    default: PASS|SECRET|TOKEN|KEY|DSN|CRED|AUTH
"""

EXAMPLES = r"""
- name: Collect the secret values to mask
  ansible.builtin.set_fact:
    secrets: "{{ env_text | maverick.rollback.env_secrets }}"
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
