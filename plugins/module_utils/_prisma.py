# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prisma Migrate CLI helpers for maverick.rollback.prisma_migrate.

Pure functions (argv builders, output parsers, error explanations, planning) plus one
small runner around AnsibleModule.run_command. Everything that decides something is a
pure function so it can be tested against the CLI's real captured output.

Parsed against Prisma 7.10.1 (`migrate status|deploy|resolve`); see
tests/unit/fixtures/prisma/ for the outputs each parser is tested with.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

from ansible_collections.maverick.rollback.plugins.module_utils._cli import compose_exec_argv
from ansible_collections.maverick.rollback.plugins.module_utils._connection import (
    DEFAULT_HOST, EnvFileError, read_env, resolve_connection)
from ansible_collections.maverick.rollback.plugins.module_utils._pg import failure_cause
from ansible_collections.maverick.rollback.plugins.module_utils._rules import is_valid, mask_text, unanchored

# What a postgres URL without a port means (libpq's default); our own default is DEFAULT_PORT.
LIBPQ_DEFAULT_PORT = 5432

# A migration name (the migration_name rule) anywhere in a text (Prisma quotes it with `...`, "..." or nothing).
_NAME_IN_TEXT_RE = re.compile("(%s)" % unanchored("migration_name"))
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ERROR_CODE_RE = re.compile(r"^Error: (P\d{4})\b:?\s*(.*)$", re.MULTILINE)
_FOUND_RE = re.compile(r"^(\d+) migrations? found in ", re.MULTILINE)
_TREE_ENTRY_RE = re.compile(r"^\s*\S+\s+(%s)/\s*$" % unanchored("migration_name"))
_DB_CREATED_RE = re.compile(r"^\S+ database .+ created at ", re.MULTILINE)

DEFAULT_COMMAND = ["bunx", "--bun", "prisma"]
# Programs that run a package's CLI and, by default, download the package when it is not installed.
PACKAGE_RUNNERS = ("bunx", "npx", "pnpx", "pnpm", "yarn", "bun", "npm")
NO_INSTALL = "--no-install"
TABLE_COLUMNS = ("migration_name", "checksum", "started_at", "finished_at",
                 "rolled_back_at", "applied_steps_count", "logs")

RESOLVE_FLAGS = {"rolled_back": "--rolled-back", "applied": "--applied"}


# --------------------------------------------------------------------------- text

def strip_ansi(text):
    return _ANSI_RE.sub("", text or "")


def tail_lines(text, count=10):
    """The last `count` non-empty lines of a text, joined with newlines."""
    lines = [line.rstrip() for line in strip_ansi(text).splitlines() if line.strip()]
    return "\n".join(lines[-count:])


# --------------------------------------------------------------- names and paths

def validate_migration_name(name):
    """Return None when `name` looks like a Prisma migration directory, else why not."""
    if not isinstance(name, str) or not name:
        return "migration name is empty"
    if not is_valid("migration_name", name):
        return ("migration name %r is not a Prisma migration directory name "
                "(<14-digit timestamp>_<letters, digits, _>, e.g. 20250301000000_add_mood)" % name)
    return None


def default_migrations_dir(project_dir, schema=None):
    """Prisma's default: `migrations` beside the schema (prisma/ in the project)."""
    if schema:
        schema_path = schema if os.path.isabs(schema) else os.path.join(project_dir, schema)
        base = schema_path if os.path.isdir(schema_path) else os.path.dirname(schema_path)
        return os.path.join(base, "migrations")
    return os.path.join(project_dir, "prisma", "migrations")


def list_local_migrations(migrations_dir):
    """Sorted migration directory names in `migrations_dir` (as Prisma lists them)."""
    try:
        entries = os.listdir(migrations_dir)
    except OSError:
        return []
    return sorted(e for e in entries if os.path.isdir(os.path.join(migrations_dir, e)))


def migration_exists(migrations_dir, name):
    """True when `name` is a directory directly inside `migrations_dir`."""
    if validate_migration_name(name):
        return False
    base = os.path.realpath(migrations_dir)
    path = os.path.realpath(os.path.join(base, name))
    return os.path.dirname(path) == base and os.path.isdir(path)


def file_checksums(data):
    """(sha256 hex of the file, every digest a Prisma checksum may equal for it).

    Prisma stores the sha256 hex of migration.sql; it also accepts the file after a
    CRLF/LF conversion, so both line-ending variants count as "no drift"."""
    lf = data.replace(b"\r\n", b"\n")
    variants = (data, lf, lf.replace(b"\n", b"\r\n"))
    return hashlib.sha256(data).hexdigest(), set(hashlib.sha256(v).hexdigest() for v in variants)


def local_checksums(migrations_dir, names):
    """{name: (sha256 hex, accepted digests)} for every name with a readable migration.sql."""
    result = {}
    for name in names:
        path = os.path.join(migrations_dir, name, "migration.sql")
        try:
            with open(path, "rb") as handle:
                result[name] = file_checksums(handle.read())
        except (IOError, OSError):
            continue
    return result


# -------------------------------------------------------- database URL and .env

def database_url_from_connection(conn, env=None):
    """(url, source, missing env keys) for Prisma from the shared connection (_connection).

    The URL is built from the connection's user, password, host, port and database (options
    first, then the env file's keys). Only when the connection lacks a user or a database
    is the env file's own DATABASE_URL used as is.
    """
    missing = [conn["env_keys"][k] for k in ("user", "database") if not conn.get(k)]
    if not missing:
        auth = quote(conn["user"], safe="")
        if conn.get("password"):
            auth += ":" + quote(conn["password"], safe="")
        url = "postgresql://%s@%s:%s/%s" % (auth, _url_host(conn.get("host") or DEFAULT_HOST), conn["port"],
                                            quote(conn["database"], safe=""))
        return url, "connection", []
    if (env or {}).get("DATABASE_URL"):
        return env["DATABASE_URL"], "env_file:DATABASE_URL", []
    return None, None, missing


def with_database(url, name):
    """The same URL pointing at another database (a scratch copy for a rehearsal)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(name, safe=""), parts.query, parts.fragment))


def _url_host(host):
    return "[%s]" % host if ":" in host and not host.startswith("[") else host


def parse_database_url(url):
    """Connection parts of a postgres URL (percent-decoded); password kept separately."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError("DATABASE_URL must start with postgresql:// or postgres://")
    query = dict((k, v[-1]) for k, v in parse_qs(parts.query).items())
    host = parts.hostname or query.get("host") or ""
    try:
        port = parts.port
    except ValueError:
        raise ValueError("DATABASE_URL has an invalid port")
    user = unquote(parts.username) if parts.username else ""
    return {
        "host": host,
        "port": port or (int(query["port"]) if query.get("port", "").isdigit() else LIBPQ_DEFAULT_PORT),
        "user": user,
        "password": unquote(parts.password) if parts.password is not None else "",
        "dbname": unquote(parts.path.lstrip("/")) or user,
        "schema": query.get("schema") or "public",
        "sslmode": query.get("sslmode", ""),
    }


def describe_database(conn):
    """user@host:port/db (no password), for messages and results."""
    return "%s@%s:%s/%s" % (conn.get("user") or "", conn.get("host") or "localhost",
                            conn.get("port"), conn.get("dbname"))


# ------------------------------------------------------------------ the installed CLI

def local_prisma_cli(prisma_dir, project_dir):
    """node_modules/.bin/prisma in prisma_dir or a directory above it up to project_dir, else None
    (where bunx/npx find the project's own CLI)."""
    here = os.path.normpath(prisma_dir)
    top = os.path.normpath(project_dir)
    while True:
        path = os.path.join(here, "node_modules", ".bin", "prisma")
        if os.path.isfile(path):
            return path
        if here == top or os.path.dirname(here) == here or not here.startswith(top + os.sep):
            return None
        here = os.path.dirname(here)


def is_package_runner(command):
    return bool(command) and os.path.basename(command[0]) in PACKAGE_RUNNERS


def offline_command(command):
    """The command with the package runner told never to download (`bunx --no-install`,
    `npx --no-install`, `bun x --no-install`); other commands as they are."""
    command = list(command)
    program = os.path.basename(command[0]) if command else ""
    at = {"bunx": 1, "npx": 1}.get(program)
    if program == "bun" and command[1:2] == ["x"]:
        at = 2
    if at is None or NO_INSTALL in command:
        return command
    return command[:at] + [NO_INSTALL] + command[at:]


def not_installed_message(command, prisma_dir, project_dir):
    return ("the Prisma CLI is not installed in the project: no node_modules/.bin/prisma in %s or %s, and %s would "
            "download it from the npm registry, which prisma_migrate never does; install the app's dependencies "
            "(bun install or npm ci in %s), or give command as the path of an installed prisma"
            % (prisma_dir, project_dir, os.path.basename(command[0]), project_dir))


# ------------------------------------------------------------------ argv builders

def build_environ(database_url=None):
    env = {"LC_ALL": "C", "CHECKPOINT_DISABLE": "1", "NO_COLOR": "1",
           "PRISMA_HIDE_UPDATE_MESSAGE": "1"}
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def build_prisma_argv(command, action, migration=None, schema=None, config=None, to_schema=None):
    """argv for `prisma migrate <action>`: status, deploy, rolled_back, applied or diff.

    diff compares the live database (the config's datasource, DATABASE_URL) with the
    schema file `to_schema` and prints the SQL script that gets from one to the other
    (Prisma 7 flags; `--schema` does not apply to diff)."""
    argv = list(command or DEFAULT_COMMAND) + ["migrate"]
    if action == "diff":
        if not to_schema:
            raise ValueError("diff needs a schema file to compare the database with")
        argv += ["diff", "--from-config-datasource", "--to-schema", to_schema, "--script"]
        if config:
            argv += ["--config", config]
        return argv
    if action in ("status", "deploy"):
        argv.append(action)
    elif action in RESOLVE_FLAGS:
        err = validate_migration_name(migration)
        if err:
            raise ValueError(err)
        argv += ["resolve", RESOLVE_FLAGS[action], migration]
    else:
        raise ValueError("unknown prisma migrate action %r" % action)
    if schema:
        argv += ["--schema", schema]
    if config:
        argv += ["--config", config]
    return argv


def with_timeout(argv, timeout, timeout_bin):
    """Prefix argv with coreutils timeout (TERM, then KILL 10 s later) when asked."""
    if timeout and timeout > 0 and timeout_bin:
        return [timeout_bin, "--kill-after=10", str(int(timeout))] + list(argv)
    return list(argv)


def table_query(schema="public"):
    """One JSON array of _prisma_migrations rows (robust against newlines in logs)."""
    ident = '"%s"."_prisma_migrations"' % schema.replace('"', '""')
    return ("SELECT coalesce(json_agg(t ORDER BY t.started_at, t.migration_name), '[]') "
            "FROM (SELECT %s FROM %s) t" % (", ".join(TABLE_COLUMNS), ident))


def build_psql_argv(psql, conn, query, local=False):
    """psql argv: no password (PGPASSWORD in the environment), no psqlrc, unaligned.

    local: psql runs inside the database's container (its socket; no -h/-p)."""
    argv = [psql, "-X", "-w", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose"]
    if conn.get("host") and not local:
        argv += ["-h", conn["host"]]
    if conn.get("port") and not local:
        argv += ["-p", str(conn["port"])]
    if conn.get("user"):
        argv += ["-U", conn["user"]]
    argv += ["-d", conn.get("dbname") or "postgres", "-c", query]
    return argv


def compose_psql_argv(docker, compose, conn, query):
    """`docker compose ... exec -T -e PGPASSWORD ... <service> psql ...` (password by name only).

    compose: dict project_dir, project, service."""
    env_values = {"LC_ALL": "C", "PGCONNECT_TIMEOUT": "10", "PGAPPNAME": "maverick.rollback.prisma_migrate"}
    if conn.get("sslmode"):
        env_values["PGSSLMODE"] = conn["sslmode"]
    names = ["PGPASSWORD"] if conn.get("password") else []
    return compose_exec_argv(compose["project_dir"], compose["project"], compose["service"],
                             build_psql_argv("psql", conn, query, local=True), env_values=env_values,
                             env_names=names, docker=docker)


def psql_environ(conn):
    env = {"LC_ALL": "C", "PGCONNECT_TIMEOUT": "10", "PGAPPNAME": "maverick.rollback.prisma_migrate"}
    if conn.get("password"):
        env["PGPASSWORD"] = conn["password"]
    if conn.get("sslmode"):
        env["PGSSLMODE"] = conn["sslmode"]
    return env


# ------------------------------------------------------------------------ parsers

def parse_error(stdout, stderr):
    """The CLI's `Error: Pxxxx` block: code, message, migration and DB error when given."""
    text = strip_ansi(stderr) + "\n" + strip_ansi(stdout)
    match = _ERROR_CODE_RE.search(text)
    if not match:
        generic = re.search(r"^Error: (.+)$", text, re.MULTILINE)
        if not generic:
            return None
        return {"code": None, "message": generic.group(1).strip(), "migration": None,
                "db_error_code": None, "db_error": None}
    code, first = match.group(1), match.group(2).strip()
    body = text[match.end():]
    lines = [first] if first else []
    for line in body.splitlines():
        if line.startswith("DbError {"):
            break
        lines.append(line.rstrip())
    message = "\n".join(lines).strip()
    named = re.search(r"^Migration name: (\S+)", message, re.MULTILINE)
    migration = named.group(1) if named else None
    if not migration:
        found = _NAME_IN_TEXT_RE.search(message)
        migration = found.group(1) if found else None
    db_code = re.search(r"^Database error code: (\S+)", message, re.MULTILINE)
    db_error = None
    block = re.search(r"^Database error:\n(.*?)(?:\n\s*\n|\Z)", message, re.MULTILINE | re.DOTALL)
    if block:
        db_error = block.group(1).strip()
    return {"code": code, "message": message, "migration": migration,
            "db_error_code": db_code.group(1) if db_code else None, "db_error": db_error}


def _names_after(text, header_re):
    """Migration names on the lines right after a header line, up to a blank line."""
    match = re.search(header_re, text, re.MULTILINE)
    if not match:
        return None
    names = []
    for line in text[match.end():].lstrip("\n").splitlines():
        line = line.strip().strip('"')
        if not line:
            break
        if is_valid("migration_name", line):
            names.append(line)
        else:
            break
    return names


def parse_status(rc, stdout, stderr):
    """Parse `prisma migrate status` (Prisma 7: exit 0 = up to date, 1 = anything else).

    diagnostic: up_to_date | pending | failed | diverged | not_managed | error | unknown.
    pending/failed are lists; last_common_migration and missing_locally only when the
    histories diverge."""
    out, err = strip_ansi(stdout), strip_ansi(stderr)
    both = out + "\n" + err
    result = {"rc": rc, "diagnostic": "unknown", "up_to_date": False, "pending": [],
              "failed": [], "missing_locally": [], "last_common_migration": None,
              "migrations_found": None, "error": None}
    found = _FOUND_RE.search(out)
    if found:
        result["migrations_found"] = int(found.group(1))
    elif "No migration found in " in out:
        result["migrations_found"] = 0

    error = parse_error(stdout, stderr)
    if error and error["code"]:
        result.update(diagnostic="error", error=error)
        return result

    if "Your local migration history and the migrations table from your database are different" in both:
        result["diagnostic"] = "diverged"
        common = re.search(r"^The last common migration is: (\S*)", both, re.MULTILINE)
        result["last_common_migration"] = common.group(1) if common and common.group(1) else None
        result["pending"] = _names_after(both, r"^The migrations? have not yet been applied:$") or []
        result["missing_locally"] = _names_after(
            both, r"^The migrations? from the database are not found locally in .*:$") or []
        return result

    pending = _names_after(out, r"^Following migrations? have not yet been applied:$")
    if pending is not None:
        result.update(diagnostic="pending", pending=pending)
        return result

    failed = _names_after(err, r"^Following migrations? have failed:$")
    if failed is not None:
        result.update(diagnostic="failed", failed=failed)
        return result

    if "The current database is not managed by Prisma Migrate" in both:
        result["diagnostic"] = "not_managed"
        return result

    if rc == 0 and "Database schema is up to date!" in both:
        result.update(diagnostic="up_to_date", up_to_date=True)
        return result

    if error:
        result.update(diagnostic="error", error=error)
    elif rc == 0:
        # exit 0 without the usual line: Prisma says all is well.
        result.update(diagnostic="up_to_date", up_to_date=True)
    return result


def parse_deploy(rc, stdout, stderr):
    """Parse `prisma migrate deploy`: which migrations this run applied."""
    out = strip_ansi(stdout)
    applied = []
    section = re.search(r"^The following migration(?:s|\(s\))? ha(?:ve|s) been applied:$", out, re.MULTILINE)
    if section:
        for line in out[section.end():].splitlines():
            entry = _TREE_ENTRY_RE.match(line)
            if entry:
                applied.append(entry.group(1))
            elif line.strip().startswith("All migrations have been successfully applied"):
                break
    found = _FOUND_RE.search(out)
    error = parse_error(stdout, stderr) if rc != 0 else None
    return {
        "rc": rc,
        "ok": rc == 0,
        "applied": applied,
        "database_created": bool(_DB_CREATED_RE.search(out)),
        "nothing_pending": "No pending migrations to apply." in out,
        "migrations_found": int(found.group(1)) if found else None,
        "error": error,
    }


def parse_resolve(rc, stdout, stderr):
    """Parse `prisma migrate resolve`: which migration was marked, and how."""
    out = strip_ansi(stdout)
    marked = re.search(r"^Migration (\S+) marked as (rolled back|applied)\.$", out, re.MULTILINE)
    return {
        "rc": rc,
        "ok": rc == 0 and bool(marked),
        "migration": marked.group(1) if marked else None,
        "marked_as": marked.group(2).replace(" ", "_") if marked else None,
        "error": parse_error(stdout, stderr) if rc != 0 else None,
    }


EMPTY_DIFF = "-- This is an empty migration."


def parse_diff(rc, stdout, stderr):
    """Parse `prisma migrate diff --script`: the SQL script, and whether it is empty.

    Prisma prints only the script on stdout ("-- This is an empty migration." when the
    two sides match); its own messages go to stderr."""
    script = strip_ansi(stdout).strip("\n")
    body = [line for line in script.splitlines()
            if line.strip() and not line.strip().startswith("--")]
    return {
        "rc": rc,
        "ok": rc == 0,
        "script": script + "\n" if script else "",
        "empty": rc == 0 and (not body or script.strip() == EMPTY_DIFF),
        "statements": len([line for line in body if line.rstrip().endswith(";")]),
        "error": parse_error(stdout, stderr) if rc != 0 else None,
    }


def parse_table_json(stdout):
    """Rows of _prisma_migrations from the table_query() output."""
    text = (stdout or "").strip()
    if not text:
        return []
    rows = json.loads(text)
    if not isinstance(rows, list):
        raise ValueError("unexpected psql output (not a JSON array)")
    clean = []
    for row in rows:
        clean.append(dict((col, row.get(col)) for col in TABLE_COLUMNS))
    return clean


def psql_missing_table(stderr):
    """True when psql failed because _prisma_migrations (or its schema) does not exist."""
    return bool(re.search(r"\b(42P01|3F000)\b", stderr or ""))


# ------------------------------------------------------------- table-derived facts

def row_state(row):
    if row.get("rolled_back_at"):
        return "rolled_back"
    if row.get("finished_at"):
        return "applied"
    return "failed"


def migration_state_from_rows(rows, name):
    """failed | applied | rolled_back | unapplied, as Prisma's resolve logic sees it."""
    states = [row_state(r) for r in rows if r.get("migration_name") == name]
    if not states:
        return "unapplied"
    if "failed" in states:
        return "failed"
    if "applied" in states:
        return "applied"
    return "rolled_back"


def summarize_rows(rows):
    """(applied, failed, rolled_back-only) name lists from table rows."""
    names = []
    for row in rows:
        if row.get("migration_name") not in names:
            names.append(row.get("migration_name"))
    by_state = {"applied": [], "failed": [], "rolled_back": []}
    for name in names:
        state = migration_state_from_rows(rows, name)
        if state in by_state:
            by_state[state].append(name)
    return by_state["applied"], by_state["failed"], by_state["rolled_back"]


def checksum_drift(rows, checksums):
    """Applied or failed rows whose migration.sql no longer matches the stored checksum.

    `checksums` is local_checksums() output."""
    drift = []
    for row in rows:
        name = row.get("migration_name")
        if row_state(row) == "rolled_back" or name not in checksums or not row.get("checksum"):
            continue
        digest, accepted = checksums[name]
        if row["checksum"].lower() not in accepted:
            drift.append({"migration": name, "table_checksum": row["checksum"],
                          "file_checksum": digest})
    return drift


def missing_locally_from_rows(rows, local):
    applied, failed, _rolled = summarize_rows(rows)
    return [n for n in applied + failed if n not in local]


def classify_migration(name, status, rows=None):
    """Where `name` stands: from the table when read (authoritative), else from status.

    Returns failed | applied | rolled_back | unapplied | pending (rolled back or never
    applied: status cannot tell) | unknown."""
    if rows is not None:
        return migration_state_from_rows(rows, name)
    diag = status.get("diagnostic")
    if name in status.get("failed", []):
        return "failed"
    if name in status.get("pending", []):
        return "pending"
    if diag in ("up_to_date", "failed"):
        return "applied"
    if diag == "not_managed":
        return "unapplied"
    return "unknown"


def plan_resolve(action, state):
    """What `migrate resolve --<action>` would do for a migration in `state`.

    Returns dict(run, changed, error_code, warning). run=False + error_code = refuse
    before running (Prisma would fail with that code); run=False without it = already
    in the wanted state."""
    plan = {"run": False, "changed": False, "error_code": None, "warning": None}
    if action == "rolled_back":
        if state == "failed":
            plan.update(run=True, changed=True)
        elif state == "rolled_back":
            pass
        elif state == "applied":
            plan["error_code"] = "P3012"
        elif state == "unapplied":
            plan["error_code"] = "P3011"
        elif state == "pending":
            # Not failed: Prisma either does nothing (already rolled back) or says P3011.
            plan.update(run=True, changed=False, warning=(
                "could not read _prisma_migrations: the migration is not failed; it is "
                "either already rolled back or was never applied (Prisma decides)"))
        else:
            plan.update(run=True, changed=True, warning=(
                "could not tell the migration's state from `migrate status` alone "
                "(read_table needs psql); assuming it changes"))
    elif action == "applied":
        if state == "applied":
            pass
        elif state in ("failed", "rolled_back", "unapplied", "pending"):
            plan.update(run=True, changed=True)
        else:
            plan.update(run=True, changed=True, warning=(
                "could not tell the migration's state from `migrate status` alone; "
                "assuming it changes (P3008 from Prisma would mean it was already applied)"))
    else:
        raise ValueError("unknown resolve action %r" % action)
    return plan


# --------------------------------------------------------------- error messages

_ADVICE = {
    "P1000": ("authentication failed for database user '{user}' at {server}: the password in "
              "database_url / env_file (POSTGRES_PASSWORD) is not the server's; fix the "
              "credentials (editing .env does not change an existing database's password)"),
    "P1001": ("cannot reach the database server at {server}: check that the postgres service is "
              "up and published there (docker compose ps postgres; playbooks/emergency_restart.yml), "
              "or set login_host/login_port"),
    "P1003": ("database '{dbname}' does not exist on {server}: check POSTGRES_DB or the URL's "
              "database name; on a new server state=deployed creates it"),
    "P3005": ("the database is not empty but has no migration history: baseline it with "
              "playbooks/migration_resolve.yml -e migration=<first migration> -e action=applied"),
    "P3008": ("migration {migration} is already recorded as applied: nothing to resolve "
              "(state=applied treats this as ok; check the name)"),
    "P3009": ("a failed migration ({migration}) blocks deploy: run playbooks/migration_resolve.yml "
              "-e migration={migration} -e action=rolled_back after reversing its partial changes "
              "(or action=applied if you completed it by hand), then deploy again"),
    "P3011": ("migration {migration} was never applied to this database, so it cannot be marked "
              "rolled back: check the name against state=status (only failed migrations can be "
              "rolled back)"),
    "P3012": ("migration {migration} is not in a failed state (it succeeded), so it cannot be marked "
              "rolled back: to undo a succeeded migration restore the pre-deploy backup "
              "(playbooks/full_rollback.yml or playbooks/db_restore.yml) or revert it with a new "
              "migration: playbooks/migration_resolve.yml -e migration={migration} -e action=reverted"),
    "P3017": ("migration {migration} is not in {migrations_dir}: pass the whole directory name of a "
              "migration of the checked-out release (e.g. 20250301000000_add_mood)"),
    "P3018": ("migration {migration} failed{db_error_part}; statements before the failure may be "
              "committed. Reverse those partial changes, then run playbooks/migration_resolve.yml "
              "-e migration={migration} -e action=rolled_back, fix the migration and deploy again "
              "(or roll the app back)"),
}


def explain_error(code, migration=None, conn=None, migrations_dir=None,
                  db_error_code=None, db_error=None):
    """A one-line message that says what went wrong and what to do next."""
    conn = conn or {}
    server = "%s:%s" % (conn.get("host") or "localhost", conn.get("port") or LIBPQ_DEFAULT_PORT) if conn else "the database server"
    db_error_part = ""
    if db_error_code or db_error:
        first = (db_error or "").splitlines()[0] if db_error else ""
        db_error_part = " (database error %s%s)" % (db_error_code or "", (": " + first) if first else "")
    template = _ADVICE.get(code)
    if not template:
        return ("Prisma error %s: see https://www.prisma.io/docs/orm/reference/error-reference#%s"
                % (code, (code or "").lower()))
    return template.format(migration=migration or "<name>", user=conn.get("user") or "?",
                           server=server, dbname=conn.get("dbname") or "?",
                           migrations_dir=migrations_dir or "prisma/migrations",
                           db_error_part=db_error_part)


# ------------------------------------------------------------------------- runner

class CommandRunner(object):
    """Runs argv lists through module.run_command; masks secrets; times each run."""

    def __init__(self, module, cwd, environ, timeout=0, secrets=()):
        self.module = module
        self.cwd = cwd
        self.environ = environ
        self.timeout = timeout
        self.secrets = [s for s in secrets if s]
        self.timeout_bin = module.get_bin_path("timeout") if timeout else None
        self.duration = 0.0
        self.runs = []

    def run(self, argv, environ=None, cwd=None):
        full = with_timeout(argv, self.timeout, self.timeout_bin)
        env = dict(self.environ)
        env.update(environ or {})
        started = time.monotonic()
        rc, out, err = self.module.run_command(full, cwd=cwd or self.cwd, environ_update=env,
                                               check_rc=False)
        elapsed = time.monotonic() - started
        self.duration += elapsed
        res = {"cmd": full, "rc": rc, "stdout": self.mask(strip_ansi(out)), "stderr": self.mask(strip_ansi(err)),
               "duration_s": round(elapsed, 3), "timed_out": bool(self.timeout_bin) and rc in (124, 137),
               "timeout": self.timeout}
        self.runs.append(res)
        return res

    def mask(self, text):
        return mask_text(text, self.secrets)


def failure_message(tool, res, explanation=None, lines=10):
    """`<tool> failed (exit N[, Pxxxx]): <explanation>. Last stderr lines: ...`."""
    code = None
    if isinstance(explanation, tuple):
        code, explanation = explanation
    head = "%s failed (exit %s%s)" % (tool, res.get("rc"), (", " + code) if code else "")
    if res.get("timed_out"):
        head = "%s timed out after %s s (exit %s; raise timeout if it needs longer)" % (
            tool, res.get("timeout"), res.get("rc"))
    msg = head + (": " + explanation if explanation else "")
    last = tail_lines(res.get("stderr") or res.get("stdout") or "", lines)
    if last:
        msg += ". Last output lines:\n" + last
    return msg


# ------------------------------------------------------------- module logic

class PrismaMigrate(object):
    """One module run: validate, probe (status + table), then act."""

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.conn = None
        self.runner = None
        self.command = None
        self.prisma_dir = None
        self.migrations_dir = None
        self.local = []
        self.result = dict(changed=False, state=self.p["state"], up_to_date=False,
                           diagnostic="unknown", pending=[], failed_migrations=[], applied=None,
                           missing_locally=[], error_code=None, database_url_source="none")

    def run(self):
        self.validate()
        self.setup()
        state = self.p["state"]
        if state == "status":
            self.run_status()
        elif state == "deployed":
            self.run_deploy()
        elif state == "diff":
            self.run_diff()
        else:
            self.run_resolve(state)

    # ------------------------------------------------------------------ setup
    def fail(self, msg, **extra):
        self.result.update(extra)
        self.result["msg"] = msg
        self.result["duration_s"] = round(self.runner.duration if self.runner else 0.0, 3)
        self.module.fail_json(**self.result)

    def exit(self, msg, **extra):
        self.result.update(extra)
        self.result["msg"] = msg
        # Prisma's exit 1 for pending/failed migrations is not a task failure; without an
        # explicit failed=False the task executor would fail any result whose rc != 0.
        self.result["failed"] = False
        self.result["duration_s"] = round(self.runner.duration, 3)
        self.module.exit_json(**self.result)

    def validate(self):
        p = self.p
        if p["migration"] is not None:
            err = validate_migration_name(p["migration"])
            if err:
                self.fail(err)
        if not os.path.isdir(p["project_dir"]):
            self.fail("project_dir %s does not exist or is not a directory" % p["project_dir"])
        self.prisma_dir = os.path.normpath(os.path.join(p["project_dir"], p["prisma_dir"] or "."))
        if not os.path.isdir(self.prisma_dir):
            self.fail("prisma_dir %s (%s) does not exist or is not a directory" % (p["prisma_dir"], self.prisma_dir))
        self.result["prisma_dir"] = self.prisma_dir
        self.migrations_dir = p["migrations_dir"] or default_migrations_dir(self.prisma_dir, p["schema"])
        if not os.path.isabs(self.migrations_dir):
            self.migrations_dir = os.path.join(self.prisma_dir, self.migrations_dir)
        self.local = list_local_migrations(self.migrations_dir)
        self.result.update(migrations_dir=self.migrations_dir, local_migrations=self.local)
        if p["migration"] is not None and not migration_exists(self.migrations_dir, p["migration"]):
            self.fail(explain_error("P3017", migration=p["migration"], migrations_dir=self.migrations_dir),
                      error_code="P3017")
        if not p["command"]:
            self.fail("command must not be empty")
        if not os.path.isabs(p["command"][0]) and not self.module.get_bin_path(p["command"][0]):
            self.fail("Prisma command %r not found on PATH" % p["command"][0])
        # Never a download at run time: a package runner runs the project's installed CLI only.
        if is_package_runner(p["command"]) and not local_prisma_cli(self.prisma_dir, p["project_dir"]):
            self.fail(not_installed_message(p["command"], self.prisma_dir, p["project_dir"]))
        self.command = offline_command(p["command"])
        if p["read_table"]:
            why = self.psql_unavailable()
            if why:
                self.fail("read_table: " + why)
        if p["database"] is not None and not is_valid("db_name", p["database"]):
            self.fail("database must be letters, digits, '_' or '-' (at most 63), got %r" % p["database"])
        if p["timeout"] < 0:
            self.fail("timeout must be 0 (no limit) or more seconds")
        if p["state"] == "diff" and p["to_schema"] and not os.path.isfile(p["to_schema"]):
            self.fail("to_schema %s does not exist or is not a file" % p["to_schema"])

    def psql_path(self):
        """(via, psql path or None, docker path or None) for reading the table, by O(via)."""
        via = self.p["via"]
        psql = self.module.get_bin_path("psql") if via in ("auto", "host") else None
        if psql:
            return "host", psql, None
        docker = self.module.get_bin_path("docker") if via in ("auto", "compose") else None
        return ("compose", None, docker) if docker else (via, None, None)

    def psql_unavailable(self):
        via, psql, docker = self.psql_path()
        if psql or docker:
            return None
        if via == "host":
            return "psql not found on the managed host (apt-get install postgresql-client, or via: compose)"
        if via == "compose":
            return "via: compose needs the docker CLI (apt-get install docker.io docker-compose-plugin)"
        return "no psql on the managed host and no docker CLI for docker compose exec psql"

    def database_url(self):
        """(url or None, source): database_url, else built from the shared connection."""
        p = self.p
        if p["database_url"]:
            url = p["database_url"]
            return (with_database(url, p["database"]) if p["database"] else url), "option"
        try:
            env_path, env = read_env(p)
        except EnvFileError as exc:
            self.fail(str(exc))
        conn = resolve_connection(p, env)
        for value in (conn["password"], env.get("DATABASE_URL")):
            if value:
                self.module.no_log_values.add(value)
        url, source, missing = database_url_from_connection(conn, env)
        if url:
            return url, source
        if p["env_file"] or p["login_user"] or p["database"] or p["login_password"]:
            self.fail("cannot build DATABASE_URL: no %s (set %s, or %s in %s)" % (
                " and no ".join(w for k, w in (("user", "database user"), ("database", "database name"))
                                if conn["env_keys"][k] in missing),
                " / ".join(o for k, o in (("user", "login_user"), ("database", "database"))
                           if conn["env_keys"][k] in missing),
                ", ".join(missing), env_path or "the env file"))
        return None, "none"

    def setup(self):
        url, source = self.database_url()
        self.result["database_url_source"] = source
        secrets = []
        if url:
            self.module.no_log_values.add(url)
            try:
                self.conn = parse_database_url(url)
            except ValueError as exc:
                self.fail("database URL from %s: %s" % (source, exc))
            if self.conn["password"]:
                self.module.no_log_values.add(self.conn["password"])
                secrets.append(self.conn["password"])
            secrets.append(url)
            self.result["database"] = describe_database(self.conn)
        elif self.p["read_table"]:
            self.fail("read_table: no database URL (set database_url, or login_user and database, or the "
                      "env file's keys)")
        self.runner = CommandRunner(self.module, self.prisma_dir, build_environ(url),
                                    timeout=self.p["timeout"], secrets=secrets)

    # ------------------------------------------------------------------ probes
    def prisma(self, action, migration=None):
        argv = build_prisma_argv(self.command, action, migration, self.p["schema"], self.p["config"])
        res = self.runner.run(argv)
        self.result.update(rc=res["rc"], cmd=res["cmd"], stdout=res["stdout"], stderr=res["stderr"])
        return res

    def read_table(self, required):
        """Rows of _prisma_migrations, or None when it cannot be read (fails if required).

        Host psql against the URL's server, else `docker compose exec -T <service> psql` on the
        container's socket (O(via)); the password only in the environment (by name to docker)."""
        why = "no database URL (set database_url, or login_user and database)" if not self.conn \
            else self.psql_unavailable()
        if why:
            if required:
                self.fail("read_table: " + why)
            self.module.warn("not reading _prisma_migrations: %s; deciding from `migrate status` only" % why)
            return None
        via, psql, docker = self.psql_path()
        query = table_query(self.conn["schema"])
        if via == "host":
            argv = build_psql_argv(psql, self.conn, query)
            tool = "psql (reading _prisma_migrations)"
        else:
            compose = {"project_dir": self.p["project_dir"], "project": self.p["compose_project"],
                       "service": self.p["compose_service"]}
            argv = compose_psql_argv(docker, compose, self.conn, query)
            tool = "psql (docker compose exec %s, reading _prisma_migrations)" % compose["service"]
        self.result["via"] = via
        res = self.runner.run(argv, environ=psql_environ(self.conn))
        if res["rc"] != 0:
            if psql_missing_table(res["stderr"]):
                return []
            message = failure_message(tool, res, failure_cause(res["stderr"])[1] or None)
            if required:
                self.fail(message)
            self.module.warn(message)
            return None
        try:
            return parse_table_json(res["stdout"])
        except ValueError as exc:
            self.fail("psql (reading _prisma_migrations): cannot parse its output: %s" % exc)

    def use_table(self, rows):
        if rows is None:
            return
        applied, failed, _rolled_back = summarize_rows(rows)
        self.result["migrations_table"] = rows
        self.result["applied"] = applied
        self.result["failed_migrations"] = _union(self.result["failed_migrations"], failed)
        self.result["missing_locally"] = _union(self.result["missing_locally"],
                                                missing_locally_from_rows(rows, self.local))
        self.result["checksum_drift"] = checksum_drift(rows, local_checksums(self.migrations_dir, self.local))
        if self.result["failed_migrations"]:
            self.result["up_to_date"] = False

    def explain(self, error, res=None, tool="prisma migrate"):
        code = error.get("code") if error else None
        migration = (error or {}).get("migration") or self.p["migration"]
        if code:
            text = explain_error(code, migration=migration, conn=self.conn,
                                 migrations_dir=self.migrations_dir,
                                 db_error_code=error.get("db_error_code"), db_error=error.get("db_error"))
        else:
            text = (error or {}).get("message")
        return failure_message(tool, res or {}, (code, text) if code else text)

    def status(self, table_required=False, table_wanted=False):
        res = self.prisma("status")
        st = parse_status(res["rc"], res["stdout"], res["stderr"])
        self.result.update(diagnostic=st["diagnostic"], up_to_date=st["up_to_date"],
                           pending=st["pending"], failed_migrations=st["failed"],
                           missing_locally=st["missing_locally"])
        if st["last_common_migration"]:
            self.result["last_common_migration"] = st["last_common_migration"]
        if st["diagnostic"] in ("up_to_date", "pending", "failed"):
            self.result["applied"] = [n for n in self.local if n not in st["pending"] and n not in st["failed"]]
        elif st["diagnostic"] == "not_managed":
            self.result["applied"] = []
        if st["diagnostic"] in ("error", "unknown"):
            return st, res, None
        rows = self.read_table(table_required) if (table_required or table_wanted) else None
        self.use_table(rows)
        return st, res, rows

    def fail_status(self, st, res):
        if st["error"]:
            self.result.update(error_code=st["error"]["code"], error=st["error"])
            self.fail(self.explain(st["error"], res, "prisma migrate status"))
        self.fail(failure_message("prisma migrate status", res, "unrecognised output"))

    # ------------------------------------------------------------------ states
    def run_status(self):
        st, res, _rows = self.status(table_required=self.p["read_table"])
        if st["diagnostic"] in ("error", "unknown"):
            self.fail_status(st, res)
        r = self.result
        failed = r["failed_migrations"]
        if failed:
            msg = ("%d failed migration%s: %s (resolve with playbooks/migration_resolve.yml -e migration=%s "
                   "-e action=rolled_back)" % (len(failed), "s" if len(failed) > 1 else "", ", ".join(failed), failed[0]))
        elif st["diagnostic"] == "diverged":
            msg = "local migration history and the database differ: not applied %s, not in %s: %s" % (
                ", ".join(r["pending"]) or "-", self.migrations_dir, ", ".join(r["missing_locally"]) or "-")
        elif st["diagnostic"] == "not_managed":
            msg = "the database is not managed by Prisma Migrate (no _prisma_migrations table)"
        elif r["pending"]:
            msg = "%d pending migration%s: %s" % (
                len(r["pending"]), "s" if len(r["pending"]) > 1 else "", ", ".join(r["pending"]))
        else:
            msg = "database schema is up to date (%d migrations applied)" % len(r["applied"] or [])
        self.exit(msg)

    def run_resolve(self, action):
        name = self.p["migration"]
        st, res, rows = self.status(table_required=self.p["read_table"], table_wanted=True)
        if st["diagnostic"] in ("error", "unknown"):
            self.fail_status(st, res)
        state = classify_migration(name, st, rows)
        self.result["migration_state"] = state
        plan = plan_resolve(action, state)
        if plan["error_code"]:
            self.result["error_code"] = plan["error_code"]
            self.fail("refusing to run prisma migrate resolve (%s): %s" % (plan["error_code"], explain_error(
                plan["error_code"], migration=name, conn=self.conn, migrations_dir=self.migrations_dir)))
        if plan["warning"]:
            self.module.warn(plan["warning"])
        word = action.replace("_", " ")
        if not plan["run"]:
            self.exit("migration %s is already %s" % (name, word))
        argv = build_prisma_argv(self.command, action, name, self.p["schema"], self.p["config"])
        if self.module.check_mode:
            self.result.update(changed=plan["changed"], planned_cmd=self.runner_cmd(argv))
            if plan["changed"]:
                self._after_resolve(action, name)
            self.exit("would mark migration %s as %s (check mode)" % (name, word) if plan["changed"]
                      else "migration %s needs no change (check mode)" % name)
        res = self.prisma(action, name)
        parsed = parse_resolve(res["rc"], res["stdout"], res["stderr"])
        if res["rc"] != 0:
            error = parsed["error"] or {}
            if action == "applied" and error.get("code") == "P3008":
                self.exit("migration %s is already applied (Prisma: P3008)" % name)
            self.result.update(error_code=error.get("code"), error=parsed["error"])
            self.fail(self.explain(parsed["error"], res, "prisma migrate resolve"))
        self.result["changed"] = plan["changed"]
        self._after_resolve(action, name)
        if self.p["read_table"]:
            self.use_table(self.read_table(True))
        self.exit("migration %s marked as %s" % (name, word) if plan["changed"]
                  else "migration %s was already %s (nothing changed)" % (name, word))

    def _after_resolve(self, action, name):
        r = self.result
        r["failed_migrations"] = [n for n in r["failed_migrations"] if n != name]
        applied = [n for n in (r["applied"] or []) if n != name]
        pending = [n for n in r["pending"] if n != name]
        if action == "rolled_back":
            pending = sorted(pending + [name])
        else:
            applied = sorted(applied + [name])
        r.update(applied=applied if r["applied"] is not None or action == "applied" else None,
                 pending=pending, up_to_date=not pending and not r["failed_migrations"] and r["diagnostic"] != "diverged")

    def runner_cmd(self, argv):
        return with_timeout(argv, self.runner.timeout, self.runner.timeout_bin)

    def run_deploy(self):
        if self.module.check_mode:
            return self.check_deploy()
        res = self.prisma("deploy")
        parsed = parse_deploy(res["rc"], res["stdout"], res["stderr"])
        self.result.update(deployed_migrations=parsed["applied"], database_created=parsed["database_created"])
        if res["rc"] != 0:
            error = parsed["error"] or {}
            self.result.update(error_code=error.get("code"), error=parsed["error"], diagnostic="error")
            name = error.get("migration")
            if error.get("code") in ("P3009", "P3018") and name:
                # deploy runs migrations in name order and stops at the failed one
                self.result.update(failed_migrations=[name],
                                   applied=[n for n in self.local if n < name],
                                   pending=[n for n in self.local if n > name])
            if self.p["read_table"]:
                self.use_table(self.read_table(False))
            self.fail(self.explain(parsed["error"], res, "prisma migrate deploy"))
        self.result.update(changed=bool(parsed["applied"]) or parsed["database_created"],
                           pending=[], failed_migrations=[], applied=list(self.local), up_to_date=True,
                           diagnostic="up_to_date")
        if self.p["read_table"]:
            self.use_table(self.read_table(True))
        if parsed["applied"]:
            msg = "applied %d migration%s: %s" % (
                len(parsed["applied"]), "s" if len(parsed["applied"]) > 1 else "", ", ".join(parsed["applied"]))
        else:
            msg = "no pending migrations"
        self.exit(msg)

    def run_diff(self):
        """Read-only (also in check mode): the SQL from the live database to `to_schema`
        (or to `to_schema_content`, written to a 0600 file in the module's private tmpdir)."""
        schema, label = self.p["to_schema"], self.p["to_schema"]
        if self.p["to_schema_content"] is not None:
            fd, schema = tempfile.mkstemp(suffix=".prisma", dir=self.module.tmpdir)
            with os.fdopen(fd, "w") as handle:
                handle.write(self.p["to_schema_content"])
            label = "the given schema"
        argv = build_prisma_argv(self.command, "diff", config=self.p["config"], to_schema=schema)
        res = self.runner.run(argv)
        self.result.update(rc=res["rc"], cmd=res["cmd"], stdout=res["stdout"], stderr=res["stderr"])
        parsed = parse_diff(res["rc"], res["stdout"], res["stderr"])
        if res["rc"] != 0:
            error = parsed["error"] or {}
            self.result.update(error_code=error.get("code"), error=parsed["error"], diagnostic="error")
            self.fail(self.explain(parsed["error"], res, "prisma migrate diff") if parsed["error"]
                      else failure_message("prisma migrate diff", res))
        self.result.update(script=parsed["script"], empty_diff=parsed["empty"], statements=parsed["statements"])
        if parsed["empty"]:
            self.exit("the database already matches %s (empty diff)" % label)
        self.exit("%d statement%s from the database to %s" % (
            parsed["statements"], "" if parsed["statements"] == 1 else "s", label))

    def check_deploy(self):
        argv = build_prisma_argv(self.command, "deploy", None, self.p["schema"], self.p["config"])
        st, res, _rows = self.status(table_required=self.p["read_table"], table_wanted=True)
        if st["diagnostic"] in ("error", "unknown"):
            if st["error"] and st["error"]["code"] == "P1003":
                self.result.update(changed=True, database_created=True, deployed_migrations=list(self.local),
                                   pending=list(self.local), planned_cmd=self.runner_cmd(argv))
                self.exit("would create the database and apply %d migrations (check mode)" % len(self.local))
            self.fail_status(st, res)
        if self.result["failed_migrations"]:
            name = self.result["failed_migrations"][0]
            self.result["error_code"] = "P3009"
            self.fail("prisma migrate deploy would fail (P3009, check mode): " + explain_error(
                "P3009", migration=name, conn=self.conn))
        would = list(self.result["pending"])
        self.result.update(changed=bool(would), deployed_migrations=would, database_created=False)
        if would:
            self.result["planned_cmd"] = self.runner_cmd(argv)
            self.exit("would apply %d migration%s: %s (check mode)" % (
                len(would), "s" if len(would) > 1 else "", ", ".join(would)))
        self.exit("no pending migrations (check mode)")


def _union(first, second):
    out = list(first or [])
    for item in second or []:
        if item not in out:
            out.append(item)
    return out
