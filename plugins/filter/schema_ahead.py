# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which applied migrations a commit does not know, after reverts cancel out."""

from __future__ import annotations

DOCUMENTATION = r"""
name: schema_ahead
short_description: Applied Prisma migrations a commit does not know, net of applied reverts
version_added: 0.1.0
description:
  - Takes the names of the migrations the database has applied and returns those missing
    from O(known) (the target commit's C(prisma/migrations)), sorted.
  - A migration and its revert (C(<later timestamp>_revert_<same name>), as
    M(maverick.rollback.prisma_migrate) with the migration_resolve role writes them) both
    applied cancel out - the schema is back where it was before the migration - so neither
    is reported when the target knows neither.
options:
  _input:
    description: Applied migration names (finished, not rolled back).
    type: list
    elements: str
    required: true
  known:
    description: Migration names the target commit has.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Migrations the target would not understand
  ansible.builtin.set_fact:
    ahead: "{{ applied | maverick.rollback.schema_ahead(target_migrations) }}"
"""

RETURN = r"""
_value:
  description: Applied migrations the target does not know, sorted by name.
  type: list
  elements: str
"""

from ansible_collections.maverick.rollback.plugins.module_utils._rules import is_revert_of, migration_parts


def schema_ahead(applied, known):
    unknown = sorted(set(applied or []) - set(known or []))
    cancelled = set()
    for name in unknown:
        for original in unknown:
            if (is_revert_of(name, original) and migration_parts(original)[0] < migration_parts(name)[0]
                    and original not in cancelled):
                cancelled.update((name, original))
                break
    return [name for name in unknown if name not in cancelled]


class FilterModule:
    """maverick.rollback migration filters."""

    def filters(self):
        return {"schema_ahead": schema_ahead}
