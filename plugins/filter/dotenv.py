# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse a Compose-style .env file (the app's settings and secrets)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: dotenv
short_description: Parse the contents of a Compose .env file into a dict
version_added: 0.1.0
description:
  - C(KEY=value) lines; blank lines and C(#) comments skipped; an C(export ) prefix and
    matching single or double quotes around the value removed; an unquoted value ends at
    a space and C(#). No interpolation. Same parser as the modules (module_utils/_dotenv.py).
  - The result holds secrets; use it only in tasks with C(no_log).
options:
  _input:
    description: File contents (for example C(slurp) output after C(b64decode)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Database settings from the app's .env
  ansible.builtin.set_fact:
    app_env: "{{ envfile.content | b64decode | maverick.rollback.dotenv }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: Variable name to value.
  type: dict
"""

from ansible_collections.maverick.rollback.plugins.module_utils._dotenv import parse_env_file


def dotenv(text):
    return parse_env_file(text)


class FilterModule:
    """maverick.rollback .env filter."""

    def filters(self):
        return {"dotenv": dotenv}
