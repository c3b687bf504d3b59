# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The name of the migration that reverts another, and its applied rows."""

from __future__ import annotations

DOCUMENTATION = r"""
name: revert_migration
short_description: Name the revert of a Prisma migration, and find the applied ones
version_added: 0.1.0
description:
  - The revert of C(<ts>_<name>) is the migration C(<stamp>_revert_<name>), written at O(stamp),
    so it sorts after every migration and M(maverick.rollback.schema_ahead) can pair the two.
  - When reverts were written for review already (O(existing)), the last of them (by name) is
    the revert - a second run reuses it instead of writing another.
  - With O(rows), returns instead the rows of C(_prisma_migrations) of reverts of the migration
    that are applied (finished, not rolled back), oldest first.
options:
  _input:
    description: The migration to revert (C(<14 digits>_<name>)).
    type: str
    required: true
  stamp:
    description: UTC time C(YYYYmmddHHMMSS) for a new revert's name.
    type: str
    default: ""
  existing:
    description: Reverts written for review already - names, paths, or the C(files) of M(ansible.builtin.find).
    type: list
    elements: raw
    default: []
  rows:
    description: Rows of C(_prisma_migrations); when given, the applied revert rows are returned.
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: Name the revert migration
  ansible.builtin.set_fact:
    revert_name: >-
      {{ '20250301000000_entry_mood_required' | maverick.rollback.revert_migration(
           stamp=now(utc=true).strftime('%Y%m%d%H%M%S'), existing=reviews.files) }}

- name: Reverts of it the database has applied
  ansible.builtin.debug:
    msg: "{{ '20250301000000_entry_mood_required' | maverick.rollback.revert_migration(rows=status.migrations_table) }}"
"""

RETURN = r"""
_value:
  description: The revert's name; with O(rows), the applied revert rows.
  type: raw
"""

import os

from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.module_utils._rules import is_revert_of, revert_migration_name


def _name(item):
    path = item.get("path", "") if isinstance(item, dict) else str(item or "")
    return os.path.basename(path.rstrip("/"))


def revert_migration(name, stamp="", existing=None, rows=None):
    if rows is not None:
        return [r for r in rows if isinstance(r, dict) and is_revert_of(r.get("migration_name"), name)
                and r.get("finished_at") is not None and r.get("rolled_back_at") is None]
    written = sorted(_name(item) for item in existing or [])
    if written:
        return written[-1]
    if not stamp:
        raise AnsibleFilterError("revert_migration: a new revert of %s needs stamp=YYYYmmddHHMMSS" % (name,))
    return revert_migration_name(name, stamp)


class FilterModule:
    """maverick.rollback migration filters."""

    def filters(self):
        return {"revert_migration": revert_migration}
