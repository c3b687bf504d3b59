# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where Prisma migrations stand, from the rows of _prisma_migrations."""

from __future__ import annotations

DOCUMENTATION = r"""
name: migration_states
short_description: Applied, failed and rolled-back migrations from the rows of _prisma_migrations
version_added: 0.1.0
description:
  - Takes the rows of C(_prisma_migrations) (C(migrations_table) of M(maverick.rollback.prisma_migrate))
    and sorts the migration names by state, as Prisma's resolve sees them - C(failed) (a row
    started, never finished, not rolled back), else C(applied) (a row finished, not rolled
    back), else C(rolled_back).
  - With O(name), returns that migration's state instead - C(failed), C(applied),
    C(rolled_back) or C(unapplied) (no row).
  - The same rule as the module (module_utils/_prisma.py).
options:
  _input:
    description: Rows with C(migration_name), C(finished_at), C(rolled_back_at).
    type: list
    elements: dict
    required: true
  name:
    description: A migration name; empty for all.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Remember what the table says
  ansible.builtin.set_fact:
    failed: "{{ (status.migrations_table | maverick.rollback.migration_states).failed }}"
    state: "{{ status.migrations_table | maverick.rollback.migration_states('20250301000000_entry_mood_required') }}"
"""

RETURN = r"""
_value:
  description: Without O(name), C(applied), C(failed) and C(rolled_back) name lists (in the order of the
    rows); with O(name), that migration's state.
  type: raw
"""

from ansible_collections.maverick.rollback.plugins.module_utils._prisma import migration_state_from_rows, summarize_rows


def migration_states(rows, name=""):
    rows = [r for r in rows or [] if isinstance(r, dict)]
    if name:
        return migration_state_from_rows(rows, name)
    applied, failed, rolled_back = summarize_rows(rows)
    return {"applied": applied, "failed": failed, "rolled_back": rolled_back}


class FilterModule:
    """maverick.rollback migration filters."""

    def filters(self):
        return {"migration_states": migration_states}
