# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A list given as a YAML list or as a comma-separated string (an AWX survey answer)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: csv_list
short_description: A list from a YAML list or a comma-separated string
version_added: 0.1.0
description:
  - AWX surveys send text; C("api, worker") and C([api, worker]) mean the same list.
  - Items are trimmed; empty items and duplicates are dropped (the first one stays).
options:
  _input:
    description: A list, a comma-separated string, or nothing.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Services that stop
  ansible.builtin.debug:
    msg: "{{ 'api, worker,,api' | maverick.rollback.csv_list }}"  # ['api', 'worker']
"""

RETURN = r"""
_value:
  description: The items, as strings.
  type: list
  elements: str
"""


def csv_list(value):
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        items = [] if not value else [value]
    out = []
    for item in (str(i).strip() for i in items):
        if item and item not in out:
            out.append(item)
    return out


class FilterModule:
    """maverick.rollback input filters."""

    def filters(self):
        return {"csv_list": csv_list}
