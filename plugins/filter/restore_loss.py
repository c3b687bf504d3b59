# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a restore would set aside, table by table, and how to get those rows back."""

from __future__ import annotations

DOCUMENTATION = r"""
name: restore_loss
short_description: Per table, rows in the live database against a backup - what a restore sets aside
version_added: 0.1.0
description:
  - Compares the rows of every table of the live database (O(_input)) with those of the backup - its
    manifest's C(tables), or the restored scratch database - and says per table what the restore
    changes - rows written since the backup (they stay only in O(kept)), rows deleted since (the
    restore brings them back), tables only on one side.
  - Counts are net - a table with as many rows deleted as inserted, or with rows only updated, shows
    no difference. Exact counts are used where there are some (C(rows)); otherwise PostgreSQL's
    estimate (C(estimate)), marked C(~).
  - For every table with rows set aside and O(kept_database) given, a psql script listing them - the
    rows of O(kept_database) whose primary key is not in the live table (without a primary key, rows
    that differ from every live row in some column, and it says so).
  - The input shape is what M(maverick.rollback.pg_backup) writes into the manifest and
    M(maverick.rollback.pg_restore) O(maverick.rollback.pg_restore#module:state=inspected) returns - a dict
    from table name to C(rows), C(estimate), C(bytes) and C(pk).
options:
  _input:
    description: Tables of the live database (table name to C(rows), C(estimate), C(bytes), C(pk)); empty when unknown.
    type: dict
    required: true
  backup:
    description: Tables of the backup (same shape); null when the manifest has none.
    type: dict
  fallback:
    description: Tables used where O(backup) has no count for a table (the manifest's, when O(backup) is a scratch database not analyzed yet).
    type: dict
  database:
    description: The live database (named in the script).
    type: str
    required: true
  kept:
    description: Where the rows set aside stay, in words (a database name, or "the safety backup").
    type: str
    required: true
  kept_database:
    description: The database that keeps them (swap mode), for the script; empty when none does (in place mode).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: What the restore would set aside
  ansible.builtin.set_fact:
    loss: >-
      {{ inspected.tables[db] | maverick.rollback.restore_loss(checked.backup_tables, database=db,
           kept=db ~ '_pre_restore_' ~ stamp, kept_database=db ~ '_pre_restore_' ~ stamp) }}

- name: Show it
  ansible.builtin.debug:
    msg: "{{ loss.lines }}"
"""

RETURN = r"""
_value:
  description: The comparison.
  type: dict
  contains:
    known: {description: Both sides have table counts (else RV(_value.lines) says why not)., type: bool}
    tables:
      description: Per table, sorted by name - C(table), C(live), C(backup) (null when not on that side or unknown),
        C(exact) (both counts exact), C(delta) (live minus backup), C(set_aside) (rows written since the backup),
        C(pk) (primary key columns of the live table), C(line) (the sentence) and C(recover) (psql script lines,
        empty when there is nothing to recover or no O(kept_database)).
      type: list
      elements: dict
    lines: {description: One sentence per table that differs and one for the others; what the plan shows., type: list, elements: str}
    set_aside: {description: Rows written since the backup, summed over the tables (net counts)., type: int}
    set_aside_tables: {description: Tables with rows set aside., type: list, elements: str}
    recover: {description: The psql script lines of every table with rows set aside, one script., type: list, elements: str}
"""

from ansible.errors import AnsibleFilterError


def _num(value, exact=True):
    """12410 -> '12 410' ('~12 410' when estimated)."""
    return ("" if exact else "~") + "{:,}".format(value).replace(",", " ")


def _rows(value, exact=True):
    return "%s row%s" % (_num(value, exact), "" if value == 1 else "s")


def _count(stats, fallback=None):
    """(rows, exact) of a table's stats; (None, False) when unknown."""
    for entry in (stats, fallback):
        if not isinstance(entry, dict):
            continue
        if entry.get("rows") is not None:
            return int(entry["rows"]), True
    for entry in (stats, fallback):
        if isinstance(entry, dict) and entry.get("estimate") is not None and int(entry["estimate"]) > 0:
            return int(entry["estimate"]), False
    return None, False


def _ident(name):
    return '"%s"' % name.replace('"', '""')


def recover_script(table, pk, database, kept_database):
    """psql lines listing the rows of kept_database.table that the live table does not have.

    table is `schema.table` as format('%I.%I') wrote it (already quoted where needed). The live
    keys travel through a psql variable (\\gset), as a database cannot read another one."""
    if pk:
        key = "ROW(%s)::text" % ", ".join(_ident(col) for col in pk)
        order = " ORDER BY %s" % ", ".join(_ident(col) for col in pk)
        alias = ""
    else:
        key = "t::text"
        order = ""
        alias = " t"
    return [
        "\\connect %s" % database,
        "SELECT coalesce(array_agg(%s), '{}') AS live_keys FROM %s%s \\gset" % (key, table, alias),
        "\\connect %s" % kept_database,
        "SELECT * FROM %s%s WHERE NOT (%s = ANY (:'live_keys'::text[]))%s;" % (table, alias, key, order),
    ]


def restore_loss(live, backup=None, fallback=None, database="", kept="", kept_database=""):
    if not database or not kept:
        raise AnsibleFilterError("restore_loss needs database and kept")
    for name, value in (("live tables", live), ("backup", backup), ("fallback", fallback)):
        if value is not None and not isinstance(value, dict):
            raise AnsibleFilterError("restore_loss: %s must be a dict of tables, got %s" % (name, type(value).__name__))
    result = {"known": False, "tables": [], "lines": [], "set_aside": 0, "set_aside_tables": [], "recover": []}
    if not backup and not fallback:
        result["lines"] = ["rows per table: the backup's manifest has no table counts (a backup taken before they were "
                           "recorded, or without a manifest): the restore's cost in rows cannot be shown"]
        return result
    if not live:
        result["lines"] = ["rows per table: the live database's tables could not be read: the restore's cost in rows "
                           "cannot be shown"]
        return result
    result["known"] = True
    backup = backup or {}
    fallback = fallback or {}
    same = 0
    for table in sorted(set(live) | set(backup) | set(fallback)):
        in_live = table in live
        in_backup = table in backup or table in fallback
        live_n, live_exact = _count(live.get(table)) if in_live else (None, True)
        back_n, back_exact = _count(backup.get(table), fallback.get(table)) if in_backup else (None, True)
        exact = live_exact and back_exact
        pk = (live.get(table) or {}).get("pk") if in_live else None
        entry = {"table": table, "live": live_n, "backup": back_n, "exact": exact, "delta": None,
                 "set_aside": 0, "pk": pk, "line": "", "recover": []}
        if in_live and in_backup and live_n is not None and back_n is not None:
            delta = live_n - back_n
            entry["delta"] = delta
            head = "%s: live %s, backup %s" % (table, _num(live_n, live_exact), _num(back_n, back_exact))
            if delta > 0:
                entry["set_aside"] = delta
                entry["line"] = "%s: %s written since the backup stay in %s" % (
                    head, _rows(delta, exact), kept)
            elif delta < 0:
                entry["line"] = "%s: %s deleted since the backup come back" % (head, _rows(-delta, exact))
            else:
                same += 1
        elif in_live and not in_backup:
            entry["delta"] = live_n
            entry["set_aside"] = live_n or 0
            entry["line"] = "%s: live %s, not in the backup: the table %s only in %s" % (
                table, "?" if live_n is None else _num(live_n, live_exact),
                "and its rows stay" if live_n else "stays", kept)
        elif in_backup and not in_live:
            entry["line"] = "%s: not in the live database, backup %s: the restore brings it back" % (
                table, "?" if back_n is None else _num(back_n, back_exact))
        else:
            entry["line"] = "%s: rows unknown (%s: over the exact-count limit and never analyzed)" % (
                table, "live" if live_n is None else "backup")
        if entry["set_aside"] and kept_database:
            if not in_backup:
                note = "all its rows (the restored database has no such table)"
                script = ["\\connect %s" % kept_database, "SELECT * FROM %s;" % table]
            else:
                note = ("rows of %s whose primary key (%s) is not in %s" % (kept_database, ", ".join(pk), database) if pk
                        else "no primary key: rows of %s that differ from every row of %s in some column"
                        % (kept_database, database))
                script = recover_script(table, pk, database, kept_database)
            entry["recover"] = ["-- %s: %s" % (table, note)] + script
        if entry["line"]:
            result["lines"].append(entry["line"])
        result["tables"].append(entry)
    if same:
        result["lines"].append("%d other table%s: same row count as the backup (rows only updated are not counted)"
                               % (same, "" if same == 1 else "s"))
    aside = [t for t in result["tables"] if t["set_aside"]]
    result["set_aside"] = sum(t["set_aside"] for t in aside)
    result["set_aside_tables"] = [t["table"] for t in aside]
    for entry in aside:
        result["recover"] += entry["recover"]
    return result


class FilterModule:
    """maverick.rollback restore filters."""

    def filters(self):
        return {"restore_loss": restore_loss}
