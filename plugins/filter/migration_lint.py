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
  tables:
    description:
      - Rows, size and primary key per table of the database the migrations would run on (table name as
        C(format('%I.%I')) writes it to C(rows), C(estimate), C(bytes), C(pk)) - RV(maverick.rollback.release_facts#module:table_stats)
        for the live database at plan time, RV(maverick.rollback.pg_restore#module:tables) for the rehearsal copy.
      - Each migration then names the tables it touches with their rows and size. Empty or null - the tables are named without sizes.
    type: dict
  fallback:
    description:
      - Tables used where O(tables) has no row count for a table (over the exact-count limit and never analyzed, as a
        freshly restored copy is) - the backup manifest's C(tables) (RV(maverick.rollback.pg_restore#module:backup_tables)).
    type: dict
  sizes_of:
    description: Where O(tables) was read, as the lines name it (for example C(the live database lifetracker)).
    type: str
    default: the database
  sizes_error:
    description: Why the table sizes could not be read, shown instead of them (the lint itself does not depend on them).
    type: str
    default: ""
  large_mb:
    description:
      - A table over this size (MiB, with its indexes and TOAST) is large - a locking finding on it (a lock held while
        every row is scanned, rewritten or indexed) is flagged as such. The app contract's C(app_migration_lint_large_mb).
    type: int
    default: 100
  large_rows:
    description: A table with more rows (exact or estimated) is large too (the app contract's C(app_migration_lint_large_rows)).
    type: int
    default: 1000000
"""

EXAMPLES = r"""
- name: Lint the new migrations of the release
  ansible.builtin.set_fact:
    lint: "{{ new_migrations | maverick.rollback.migration_lint(sql=release.new_sql, policy='refuse', target='v5') }}"

- name: The same with the sizes of the tables each migration touches (release_facts table_stats=true)
  ansible.builtin.set_fact:
    lint: >-
      {{ new_migrations | maverick.rollback.migration_lint(sql=release.new_sql, tables=release.table_stats,
           sizes_of='the live database', sizes_error=release.table_stats_error, large_mb=100, large_rows=1000000) }}

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
    large_findings:
      description: The number of locking findings on a large table (see O(large_mb), O(large_rows)).
      type: int
    migrations:
      description:
        - Per migration, C({name, class, lint, tables, duration_s}) - C(duration_s) null without a rehearsal.
        - C(lint) a list of C({rule, reason, statement, locks, tables, large}) - C(locks) whether its lock lasts as long
          as the table is big, C(tables) the existing tables of its statement, C(large) those of them that are large
          when C(locks).
        - C(tables) the tables it touches, in order - C({table, schema, name, new, created_by, found, rows, exact, bytes,
          large, sizes, text}); C(new) created by this migration (empty), C(created_by) the earlier migration of the same list
          that creates it, C(found) in O(tables), C(rows) exact or estimated (C(exact) says which), C(sizes) rows and size
          in words, C(text) as the lines show it.
      type: list
      elements: dict
    lines:
      description:
        - For a plan or a summary - one line per migration (class, the tables it touches with their rows and size, time
          on the copy), then one per finding (a locking one on a large table flagged C(LARGE TABLE)), then where the
          sizes come from.
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
from ansible_collections.maverick.rollback.plugins.filter.restore_loss import _count, _num, _rows
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


def split_name(text):
    """A table name as format('%I.%I') writes it (public."Tag", app.entries) -> (schema, table)."""
    parts, current, quoted, i = [], "", False, 0
    while i < len(text):
        char = text[i]
        if char == '"':
            if quoted and text[i + 1:i + 2] == '"':
                current += '"'
                i += 1
            else:
                quoted = not quoted
        elif char == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
        i += 1
    parts.append(current)
    return tuple(([""] + parts)[-2:])


def find_table(stats, schema, name):
    """The stats entry of a table the SQL names: schema-qualified exactly; unqualified in public, else
    the only schema that has it (Prisma's ?schema=), else None (not there, or ambiguous)."""
    by_key = {}
    for key, entry in (stats or {}).items():
        by_key[split_name(key)] = entry
    if schema:
        return by_key.get((schema, name))
    if ("public", name) in by_key:
        return by_key[("public", name)]
    found = [entry for (s, n), entry in by_key.items() if n == name]
    return found[0] if len(found) == 1 else None


def size_text(size):
    """Bytes as pg_size_pretty writes them (base 1024): 8192 -> '8192 bytes', 98304 -> '96 kB'."""
    units = ["bytes", "kB", "MB", "GB", "TB", "PB"]
    value, unit = float(size), 0
    while abs(value) >= 10 * 1024 and unit < len(units) - 1:
        value /= 1024.0
        unit += 1
    return "%d %s" % (int(value + 0.5), units[unit])


def table_size(table, stats, fallback, created_by, large_mb, large_rows):
    """One touched table with its rows and size (see RETURN) and how the lines show it."""
    entry = dict(table, created_by=created_by, found=False, rows=None, exact=False, bytes=None, large=False, sizes="")
    if table["new"]:
        return dict(entry, text="%s (new)" % table["table"])
    if created_by:
        return dict(entry, text="%s (created by %s)" % (table["table"], created_by))
    if not stats:
        return dict(entry, text=table["table"])
    found = find_table(stats, table["schema"], table["name"])
    if found is None:
        return dict(entry, text="%s (not in the database)" % table["table"])
    back = find_table(fallback, table["schema"], table["name"]) if fallback else None
    rows, exact = _count(found, back)
    size = found.get("bytes")
    large = (size is not None and size > large_mb * 1024 * 1024) or (rows is not None and rows > large_rows)
    sizes = "%s, %s" % ("rows unknown" if rows is None else _rows(rows, exact),
                        "size unknown" if size is None else size_text(size))
    return dict(entry, found=True, rows=rows, exact=exact, bytes=size, large=large, sizes=sizes,
                text="%s (%s%s)" % (table["table"], sizes, ", LARGE" if large else ""))


def migration_lint(names, sql=None, policy="warn", rehearsal=None, target="the release", tables=None,
                   fallback=None, sizes_of="the database", sizes_error="", large_mb=100, large_rows=1000000):
    if policy not in POLICIES:
        raise AnsibleFilterError("migration_lint: policy must be warn or refuse, got %r" % (policy,))
    if sql is not None and not isinstance(sql, dict):
        raise AnsibleFilterError("migration_lint: sql must map migration names to their SQL")
    for what, value in (("tables", tables), ("fallback", fallback)):
        if value is not None and not isinstance(value, dict):
            raise AnsibleFilterError("migration_lint: %s must be a dict of tables, got %s" % (what, type(value).__name__))
    try:
        large_mb, large_rows = int(large_mb), int(large_rows)
    except (TypeError, ValueError):
        raise AnsibleFilterError("migration_lint: large_mb and large_rows must be numbers, got %r and %r"
                                 % (large_mb, large_rows)) from None
    names = list(names or [])
    result = {"decision": "ok", "findings": 0, "large_findings": 0, "migrations": [], "lines": [], "message": []}
    if not names:
        return result
    try:
        verdict = classify_migrations([{"name": n, "sql": (sql or {}).get(n)} for n in names])
    except SchemaParserMissing:
        raise AnsibleFilterError(PGLAST_MISSING) from None
    took = durations(rehearsal)
    lines = []
    created = {}  # (schema, table) -> the earlier migration of this list that creates it
    for m in verdict["migrations"]:
        seconds = took.get(m["name"])
        touched = [table_size(t, tables, fallback, created.get((t["schema"], t["name"]))
                              or created.get(("", t["name"])) if not t["new"] else None, large_mb, large_rows)
                   for t in m["tables"]]
        for t in m["tables"]:
            if t["new"]:
                created.setdefault((t["schema"], t["name"]), m["name"])
                created.setdefault(("", t["name"]), m["name"])
        large = {t["table"] for t in touched if t["large"]}
        lint = [dict(f, large=[t for t in f["tables"] if t in large] if f["locks"] else []) for f in m["lint"]]
        result["migrations"].append({"name": m["name"], "class": m["class"], "lint": lint, "tables": touched,
                                     "duration_s": seconds})
        lines.append("%s: %s with older code%s%s; %d lint finding(s)" % (
            m["name"], m["class"], "; touches " + ", ".join(t["text"] for t in touched) if touched else "",
            "" if seconds is None else "; %s s on the rehearsal copy" % seconds, len(lint)))
        for f in lint:
            flag = ""
            if f["large"]:
                result["large_findings"] += 1
                flag = " - LARGE TABLE %s: writes wait for as long as this takes" % ", ".join(
                    "%s (%s)" % (t["table"], t["sizes"]) for t in touched if t["table"] in f["large"])
            lines.append("  %s: %s (%s)%s" % (f["rule"], f["reason"], " ".join(f["statement"].split()), flag))
    result["findings"] = len(verdict["lint"])
    limits = "over %s MB or %s rows" % (_num(large_mb), _num(large_rows))
    if sizes_error:
        sizes = "table sizes: not read (%s)" % sizes_error
    elif tables:
        sizes = "table sizes: %s (~: PostgreSQL's estimate; LARGE: %s)" % (sizes_of, limits)
    else:
        sizes = ""
    result["lines"] = ["migration lint (%d finding(s)%s, policy %s):" % (
        result["findings"], ", %d on a large table" % result["large_findings"] if result["large_findings"] else "",
        policy)] + ["  " + line for line in lines + ([sizes] if sizes else [])]
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
