# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration gate's decision: may older code run on the schema the database has?"""

from __future__ import annotations

DOCUMENTATION = r"""
name: migration_gate
short_description: The migration gate's decision - roll back, refuse, or go on by override - from the migrations' SQL
version_added: 0.1.0
description:
  - Takes the migrations the database has applied and returns the gate's decision for a rollback to a
    commit that knows O(known).
  - The migrations the target does not know are those of the filter C(maverick.rollback.schema_ahead)
    (a migration and its applied revert cancel out). Each is judged from its SQL with
    C(maverick.rollback.migration_class) (PostgreSQL's own parser, C(pglast), on the controller).
  - C(ok) - the target knows every applied migration. C(go) - the database is ahead only by compatible
    migrations; the rollback goes on and RV(_value.lines) names them and why. C(refuse) - at least one
    statement is incompatible (or a migration's SQL was not found); RV(_value.message) quotes every such
    statement on one line and names the options. C(override) - the same, allowed by O(allow).
options:
  _input:
    description: Applied migration names (finished, not rolled back), as M(maverick.rollback.release_facts) returns them.
    type: list
    elements: str
    required: true
  known:
    description: Migration names the target commit has.
    type: list
    elements: str
    required: true
  sql:
    description:
      - Migration name to the text of its C(migration.sql) (RV(maverick.rollback.release_facts#module:ahead_sql)).
      - A missing name or null is judged incompatible.
    type: dict
    default: {}
  allow:
    description: The override (C(app_rollback_allow_schema_ahead)) - an incompatible schema does not refuse.
    type: bool
    default: false
  target:
    description: The target as the operator named it (for the message).
    type: str
    default: the target
  override_var:
    description: The variable that overrides a refusal (named in the message).
    type: str
    default: app_rollback_allow_schema_ahead
"""

EXAMPLES = r"""
- name: Judge the schema against the target
  ansible.builtin.set_fact:
    gate: >-
      {{ release.applied_migrations | maverick.rollback.migration_gate(release.target_migrations,
         sql=release.ahead_sql, allow=app_rollback_allow_schema_ahead, target='v1') }}

- name: Refuse code older than an incompatible schema
  ansible.builtin.fail:
    msg: "{{ gate.message }}"
  when: gate.decision == 'refuse'
"""

RETURN = r"""
_value:
  description: The decision.
  type: dict
  contains:
    decision:
      description: C(ok), C(go), C(refuse) or C(override).
      type: str
    ahead:
      description: The applied migrations the target does not know, sorted.
      type: list
      elements: str
    class:
      description: C(compatible) or C(incompatible) (C(compatible) when nothing is ahead).
      type: str
    compatible:
      description: Names of the compatible migrations ahead.
      type: list
      elements: str
    incompatible:
      description: Names of the incompatible migrations ahead.
      type: list
      elements: str
    quoted:
      description: "Every incompatible statement on one line: C(<migration>: <statement> -- <reason>)."
      type: list
      elements: str
    lines:
      description: The verdict for a summary - one line for the decision, then one per migration ahead (its class and why).
      type: list
      elements: str
    message:
      description: The refusal (decision C(refuse)) - what is ahead, the statements quoted, the options; empty otherwise.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.filter.migration_class import PGLAST_MISSING
from ansible_collections.maverick.rollback.plugins.filter.schema_ahead import schema_ahead
from ansible_collections.maverick.rollback.plugins.module_utils._schema import (
    SchemaParserMissing, classify_migrations)


def migration_gate(applied, known, sql=None, allow=False, target="the target",
                   override_var="app_rollback_allow_schema_ahead"):
    if sql is not None and not isinstance(sql, dict):
        raise AnsibleFilterError("migration_gate: sql must map migration names to their SQL, got %s"
                                 % type(sql).__name__)
    ahead = schema_ahead(applied, known)
    result = {"decision": "ok", "ahead": ahead, "class": "compatible", "compatible": [], "incompatible": [],
              "quoted": [], "message": [],
              "lines": ["migration gate: ok, %s knows every applied migration" % target]}
    if not ahead:
        return result
    try:
        verdict = classify_migrations([{"name": n, "sql": (sql or {}).get(n)} for n in ahead])
    except SchemaParserMissing:
        raise AnsibleFilterError(PGLAST_MISSING) from None
    result.update({key: verdict[key] for key in ("class", "compatible", "incompatible", "quoted")})
    names = ", ".join(ahead)
    if verdict["class"] == "compatible":
        result["decision"] = "go"
        head = ("migration gate: the database is ahead of %s by %d migration(s) (%s), all compatible with "
                "its code: the rollback goes on" % (target, len(ahead), names))
    elif allow:
        result["decision"] = "override"
        head = ("migration gate: the database is ahead of %s by %d incompatible migration(s) (%s): allowed by %s"
                % (target, len(verdict["incompatible"]), ", ".join(verdict["incompatible"]), override_var))
    else:
        result["decision"] = "refuse"
        result["message"] = (
            ["migration gate: the database has %d migration(s) that %s does not know (%s); %d of them change the "
             "schema in ways its code cannot work with. Nothing was changed. Incompatible statements:"
             % (len(ahead), target, names, len(verdict["incompatible"]))]
            + ["  " + line for line in verdict["quoted"]]
            + ["Options:",
               "  1. playbooks/full_rollback.yml: the app back to %s and the database restored from the backup "
               "taken before those migrations" % target,
               "  2. re-run with -e %s=true if you know its code works with this schema anyway" % override_var])
        head = result["message"][0]
    result["lines"] = [head] + ["  " + line for line in verdict["summary"]]
    return result


class FilterModule:
    """maverick.rollback migration filters."""

    def filters(self):
        return {"migration_gate": migration_gate}
