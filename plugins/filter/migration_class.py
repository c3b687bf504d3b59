# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether older code works on the schema some migrations produced, from their SQL."""

from __future__ import annotations

DOCUMENTATION = r"""
name: migration_class
short_description: Classify migrations as compatible or incompatible with older code, with lint findings
version_added: 0.1.0
description:
  - Parses each migration's SQL with PostgreSQL's own parser (the Python package C(pglast),
    libpg_query) on the controller, and judges every statement - whether code written before
    the migration keeps working on the schema it produced.
  - C(compatible) - C(CREATE TABLE), C(CREATE INDEX) (a unique one only on a table the same
    migration creates), C(CREATE SEQUENCE), C(CREATE VIEW), C(CREATE TYPE ... AS ENUM),
    C(CREATE EXTENSION), C(ADD COLUMN) that is nullable or has a default, a unique index or
    foreign key over columns the same migration adds as nullable (older code leaves them NULL),
    C(ADD CONSTRAINT ... NOT VALID), C(VALIDATE CONSTRAINT), C(SET DEFAULT), C(COMMENT),
    index renames, and any statement on a table created earlier in the same migration.
  - C(incompatible) - C(DROP) of anything, C(RENAME) of a table or column, C(ALTER COLUMN TYPE),
    C(SET NOT NULL), C(DROP NOT NULL), C(DROP DEFAULT), C(ADD COLUMN ... NOT NULL) without a
    default, new validated C(UNIQUE), C(CHECK), C(PRIMARY KEY) and C(FOREIGN KEY) constraints
    and unique indexes on existing tables, C(DROP CONSTRAINT), new enum values, data changes
    (C(INSERT), C(UPDATE), C(DELETE)), procedural bodies (C(DO $$ ... $$), C(CREATE FUNCTION)),
    and anything that does not parse or is not recognised (the safe default).
  - C(neutral) - transaction control (C(BEGIN), C(COMMIT), ...) and C(SET) of a session setting;
    they do not decide a migration's class.
  - A migration is incompatible when any of its statements is (or its SQL is missing); the
    result is incompatible when any migration is.
  - Lint findings, modelled on squawk's rules, name locks, rewrites and lost data on tables
    that exist - C(require-concurrent-index-creation), C(changing-column-type),
    C(adding-foreign-key-constraint), C(constraint-missing-not-valid), C(disallowed-unique-constraint),
    C(adding-not-nullable-field) (C(SET NOT NULL) without a validated C(CHECK) constraint C(col IS NOT NULL)),
    C(adding-required-field), C(adding-field-with-default) (volatile or time defaults, serial columns),
    C(ban-drop-table), C(ban-drop-column), C(renaming-table), C(renaming-column).
  - Needs C(pglast) on the controller (in the execution environment it is installed);
    never on the managed servers.
options:
  _input:
    description:
      - The migrations, in the order they were applied, each a dict with C(name) and C(sql)
        (the text of its C(migration.sql)). C(sql) null means the SQL was not found; that
        migration is incompatible.
      - With O(sql), migration names (strings) instead.
    type: list
    elements: raw
    required: true
  sql:
    description:
      - Migration name to the text of its C(migration.sql), for an input of names (for example the
        names M(maverick.rollback.release_facts) or the filter C(maverick.rollback.schema_ahead)
        returns). A name missing here, or mapped to null, has no SQL and is incompatible.
    type: dict
"""

EXAMPLES = r"""
- name: Judge the migrations the database is ahead by
  ansible.builtin.set_fact:
    schema_verdict: "{{ [{'name': '20250201000000_add_tags', 'sql': add_tags_sql}] | maverick.rollback.migration_class }}"

- name: Refuse when older code cannot work on the schema
  ansible.builtin.fail:
    msg: "{{ ['incompatible statements:'] + schema_verdict.incompatible_statements | map(attribute='statement') }}"
  when: schema_verdict.class == 'incompatible'

- name: The same from migration names and their SQL by name
  ansible.builtin.set_fact:
    schema_verdict: "{{ ahead_names | maverick.rollback.migration_class(sql=sql_by_name) }}"

- name: Show the lint findings
  ansible.builtin.debug:
    msg: "{{ schema_verdict.lint | map(attribute='reason') }}"
"""

RETURN = r"""
_value:
  description: The verdict.
  type: dict
  contains:
    class:
      description: C(incompatible) when any migration is, else C(compatible) (also for no migrations).
      type: str
    compatible:
      description: Names of the compatible migrations, in input order.
      type: list
      elements: str
    incompatible:
      description: Names of the incompatible migrations, in input order.
      type: list
      elements: str
    summary:
      description:
        - One line per migration - its name, class and the reasons of the statements that decided it.
      type: list
      elements: str
      sample: ['20250201000000_add_tags: compatible (new column "mood" on "Entry", nullable: older code does not write it; ...)']
    incompatible_statements:
      description: Every incompatible statement, as C({migration, statement, kind, reason}).
      type: list
      elements: dict
    quoted:
      description: "Every incompatible statement on one line, C(<migration>: <statement> -- <reason>), for a message."
      type: list
      elements: str
      sample: ['20250301000000_entry_mood_required: ALTER TABLE "Entry" ALTER COLUMN "mood" SET NOT NULL -- "mood" of ...']
    lint:
      description: Every lint finding, as C({migration, statement, rule, reason}).
      type: list
      elements: dict
    migrations:
      description:
        - Per migration, C({name, class, summary, statements, lint}); each statement is
          C({statement, class, kind, reason, lint}) - the trimmed text, C(compatible),
          C(incompatible) or C(neutral), what it does (for example C(ALTER TABLE ADD COLUMN)),
          why it has its class, and its findings C({rule, reason}).
      type: list
      elements: dict
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.maverick.rollback.plugins.module_utils._schema import (
    SchemaParserMissing, classify_migrations)

PGLAST_MISSING = ("migration_class needs the Python package pglast on the controller: pip install pglast "
                  "(the version requirements.txt pins) into the Python that runs ansible, or use the "
                  "collection's execution environment, which has it")


def by_name(migrations, sql):
    """Names and a name -> SQL mapping, as {name, sql} items."""
    if not isinstance(sql, dict):
        raise AnsibleFilterError("migration_class: sql must map migration names to their SQL, got %s"
                                 % type(sql).__name__)
    return [{"name": m, "sql": sql.get(m)} if isinstance(m, str) else m for m in migrations]


def checked(migrations, sql=None):
    if not isinstance(migrations, (list, tuple)):
        raise AnsibleFilterError("migration_class expects a list of {name, sql}, got %s" % type(migrations).__name__)
    if sql is not None:
        migrations = by_name(migrations, sql)
    out = []
    for item in migrations:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or "sql" not in item:
            raise AnsibleFilterError("migration_class expects a list of {name, sql}, got the item %r" % (item,))
        sql = item["sql"]
        if sql is not None and not isinstance(sql, str):
            raise AnsibleFilterError("migration_class: the sql of %s must be text or null" % item["name"])
        out.append({"name": to_text(item["name"]), "sql": None if sql is None else to_text(sql)})
    return out


def migration_class(migrations, sql=None):
    try:
        return classify_migrations(checked(migrations, sql))
    except SchemaParserMissing:
        raise AnsibleFilterError(PGLAST_MISSING) from None


class FilterModule:
    """maverick.rollback migration filters."""

    def filters(self):
        return {"migration_class": migration_class}
