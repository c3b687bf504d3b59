# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deploy's migration lint: findings, class and rehearsal time per new migration, and the policy."""

from __future__ import annotations

DOCUMENTATION = r"""
name: migration_lint
short_description: Lint a release's new migrations, with their rollback class and rehearsal times, and apply the lint policy
version_added: 0.1.0
description:
  - Judges each new migration's SQL with C(maverick.rollback.migration_class) (PostgreSQL's own parser, on
    the controller) and lists, per migration, the lint findings with their reasons (locks, rewrites, lost data,
    modelled on squawk's rules), its rollback class (whether older code still works after it) and, when a
    rehearsal ran, the time it took on the restored copy (from the copy's C(_prisma_migrations)).
  - The policy decides - C(warn) shows the findings and goes on, C(refuse) refuses a release with any finding.
options:
  _input:
    description: The new migrations' names, in the order they would run.
    type: list
    elements: str
    required: true
  sql:
    description: Migration name to the text of its C(migration.sql) (RV(maverick.rollback.release_facts#module:new_sql)); a missing one is judged incompatible.
    type: dict
    default: {}
  policy:
    description: C(warn) or C(refuse) (the app contract's C(app_migration_lint_policy)).
    type: str
    default: warn
  rehearsal:
    description:
      - Rows of the rehearsed copy's C(_prisma_migrations) (RV(maverick.rollback.prisma_migrate#module:migrations_table)),
        for the time per migration (C(finished_at - started_at)). Empty when no rehearsal ran.
    type: list
    elements: dict
    default: []
  target:
    description: The release, as the message names it.
    type: str
    default: the release
"""

EXAMPLES = r"""
- name: Lint the new migrations of the release
  ansible.builtin.set_fact:
    lint: "{{ new_migrations | maverick.rollback.migration_lint(sql=release.new_sql, policy='refuse', target='v5') }}"

- name: Refuse a release with findings
  ansible.builtin.fail:
    msg: "{{ lint.message }}"
  when: lint.decision == 'refuse'
"""

RETURN = r"""
_value:
  description: The lint.
  type: dict
  contains:
    decision:
      description: C(ok) (no findings), C(warn) (findings, policy warn) or C(refuse) (findings, policy refuse).
      type: str
    findings:
      description: The number of lint findings.
      type: int
    migrations:
      description: Per migration, C({name, class, lint, duration_s}) - C(lint) a list of C({rule, reason, statement}), C(duration_s) null without a rehearsal.
      type: list
      elements: dict
    lines:
      description: For a plan or a summary - one line per migration (class, time on the copy), then one per finding.
      type: list
      elements: str
    message:
      description: The refusal (decision C(refuse)), with the findings and the options; empty otherwise.
      type: list
      elements: str
"""

from datetime import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.filter.migration_class import PGLAST_MISSING
from ansible_collections.maverick.rollback.plugins.module_utils._schema import (
    SchemaParserMissing, classify_migrations)

POLICIES = ("warn", "refuse")


def parse_time(text):
    """PostgreSQL's JSON timestamp (e.g. 2026-12-05T23:50:01.123456+00:00) -> datetime, or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def durations(rows):
    """Migration name -> seconds it took (finished_at - started_at), for the finished rows."""
    out = {}
    for row in rows or []:
        if not isinstance(row, dict):
            continue
        start, end = parse_time(row.get("started_at")), parse_time(row.get("finished_at"))
        if start and end and not row.get("rolled_back_at"):
            out[row.get("migration_name")] = round(max((end - start).total_seconds(), 0.0), 3)
    return out


def migration_lint(names, sql=None, policy="warn", rehearsal=None, target="the release"):
    if policy not in POLICIES:
        raise AnsibleFilterError("migration_lint: policy must be warn or refuse, got %r" % (policy,))
    if sql is not None and not isinstance(sql, dict):
        raise AnsibleFilterError("migration_lint: sql must map migration names to their SQL")
    names = list(names or [])
    result = {"decision": "ok", "findings": 0, "migrations": [], "lines": [], "message": []}
    if not names:
        return result
    try:
        verdict = classify_migrations([{"name": n, "sql": (sql or {}).get(n)} for n in names])
    except SchemaParserMissing:
        raise AnsibleFilterError(PGLAST_MISSING) from None
    took = durations(rehearsal)
    lines = []
    for m in verdict["migrations"]:
        seconds = took.get(m["name"])
        result["migrations"].append({"name": m["name"], "class": m["class"], "lint": m["lint"], "duration_s": seconds})
        lines.append("%s: %s with older code%s; %d lint finding(s)" % (
            m["name"], m["class"], "" if seconds is None else "; %s s on the rehearsal copy" % seconds,
            len(m["lint"])))
        lines += ["  %s: %s (%s)" % (f["rule"], f["reason"], " ".join(f["statement"].split())) for f in m["lint"]]
    result["findings"] = len(verdict["lint"])
    result["lines"] = ["migration lint (%d finding(s), policy %s):" % (result["findings"], policy)] + \
        ["  " + line for line in lines]
    if result["findings"]:
        result["decision"] = policy
    if result["decision"] == "refuse":
        result["message"] = (
            ["migration lint: the new migrations of %s have %d finding(s) and app_migration_lint_policy is refuse. "
             "Nothing was changed." % (target, result["findings"])]
            + ["  " + line for line in lines]
            + ["Options:",
               "  1. change the migration (for example CREATE INDEX CONCURRENTLY, NOT VALID then VALIDATE, "
               "expand and contract instead of a rename) and deploy the new commit",
               "  2. re-run with -e app_migration_lint_policy=warn to deploy it anyway (the findings are shown)"])
    return result


class FilterModule:
    """maverick.rollback migration filters."""

    def filters(self):
        return {"migration_lint": migration_lint}
