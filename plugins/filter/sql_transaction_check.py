# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether SQL can run as one transaction (psql --single-transaction)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: sql_transaction_check
short_description: Check that SQL can run as ONE transaction (no BEGIN, COMMIT, ROLLBACK, ...)
version_added: 0.1.0
description:
  - SQL run with C(psql --single-transaction -v ON_ERROR_STOP=1) applies completely or not at
    all - unless it controls transactions itself. This finds statement-level C(BEGIN),
    C(COMMIT), C(ROLLBACK), C(END), C(ABORT), C(START TRANSACTION) and C(PREPARE TRANSACTION).
  - Dollar-quoted bodies (C(DO $$ BEGIN ... END $$)), comments and string literals are
    removed first, so PL/pgSQL blocks, C(CASE ... END) and words in comments or strings do not count.
  - SQL with nothing but comments and blanks is reported as empty.
options:
  _input:
    description: The SQL text.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse revert SQL that cannot run in one transaction
  ansible.builtin.assert:
    that: (revert_file.content | b64decode | maverick.rollback.sql_transaction_check).ok
    fail_msg: the revert SQL must have statements and no transaction control (BEGIN, COMMIT, ...)
"""

RETURN = r"""
_value:
  description: The verdict.
  type: dict
  contains:
    ok: {description: True when the SQL has statements and no transaction control., type: bool}
    empty: {description: True when nothing but comments and blanks is left., type: bool}
    transaction_control: {description: "The words found, upper case, in order (for example C([COMMIT])).", type: list}
"""

from ansible_collections.maverick.rollback.plugins.module_utils._rules import sql_code, transaction_control


def sql_transaction_check(sql):
    empty = not sql_code(sql).strip()
    found = transaction_control(sql)
    return {"ok": not empty and not found, "empty": empty, "transaction_control": found}


class FilterModule:
    """maverick.rollback SQL filters."""

    def filters(self):
        return {"sql_transaction_check": sql_transaction_check}
