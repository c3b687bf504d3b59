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
    matching single or double quotes around the value removed. No interpolation.
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

import re

LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$")


def unquote(value):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def dotenv(text):
    values = {}
    for line in (text or "").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = LINE.match(line)
        if match:
            values[match.group(1)] = unquote(match.group(2))
    return values


class FilterModule:
    """maverick.rollback .env filter."""

    def filters(self):
        return {"dotenv": dotenv}
