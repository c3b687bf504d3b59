# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers of the database modules (pg_backup, pg_restore, release_facts).

Everything here is a small function without side effects on the database: argument
list builders, parsers of the tools' output, format detection, backup names,
retention selection, manifests (names and masking come from _rules). The process plumbing (running the tools,
streaming dumps) lives in _pg_runner.py.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import re
import zlib

from ansible_collections.maverick.rollback.plugins.module_utils._cli import compose_exec_argv
from ansible_collections.maverick.rollback.plugins.module_utils._rules import is_derived_db, is_valid, mask_text


CHUNK = 1 << 20  # streaming block size: memory stays flat whatever the dump size
HEAD_BYTES = 64 * 1024
TAIL_BYTES = 4 * 1024


class PgError(Exception):
    """A failure the module reports as its msg (already masked and readable)."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


def tail_lines(text, count=8, width=2000):
    """The last `count` non-empty lines of text (at most `width` characters)."""
    lines = [ln.rstrip() for ln in (text or "").splitlines() if ln.strip()]
    out = "\n".join(lines[-count:])
    return out[-width:]


def describe_exit(rc):
    """'exit code 1' or 'killed by signal 9' for a subprocess return code."""
    if rc is None:
        return "no exit code"
    if rc < 0:
        return "killed by signal %d" % -rc
    if rc in (137, 143):
        return "exit code %d (killed by signal %d)" % (rc, rc - 128)
    return "exit code %d" % rc


# What a client tool's or docker's stderr means, first match wins: (cause, pattern, message).
# The message names the real cause and what to do; {0}, {1} are the pattern's groups.
FAILURE_CAUSES = [
    ("no_library", r"(?:[^\s:]*/)?([\w.-]+): error while loading shared libraries: ([^:\s]+)",
     "{0} cannot start: the shared library {1} is missing on the server (apt-get install --reinstall "
     "postgresql-client libpq5)"),
    ("no_python_module", r"(?:ModuleNotFoundError|ImportError): No module named '?([\w.]+)'?",
     "the Python module {0} is missing on the server (a library, not the database: install its package, "
     "e.g. apt-get install python3-{0})"),
    ("container_paused", r"[Cc]ontainer ([0-9a-f]+) is paused", "the database container {0} is paused (docker unpause {0})"),
    ("container_restarting", r"[Cc]ontainer ([0-9a-f]+) is restarting",
     "the database container {0} is restarting (a crash loop? docker compose logs; docker compose ps)"),
    ("container_stopped", r"[Cc]ontainer ([0-9a-f]+) is not running",
     "the database container {0} is not running (docker compose ps; docker compose up -d)"),
    ("db_starting", r"the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)",
     "the database server is {0} (wait for it, then run again)"),
    ("docker_daemon", r"Cannot connect to the Docker daemon|Is the docker daemon running\?",
     "the docker daemon does not answer (systemctl start docker)"),
    ("docker_permission", r"permission denied while trying to connect to the Docker daemon",
     "this user may not use docker (permission denied on the docker socket: run as root or join the docker group)"),
    ("no_compose", r"'compose' is not a docker command|unknown (?:shorthand flag|flag): '?-?-?project-directory",
     "docker compose v2 is not installed (apt-get install docker-compose-plugin)"),
    ("not_running", r'service "([^"]+)" is not running',
     "the compose service {0} is not running (docker compose ps; start it with docker compose up -d {0})"),
    ("no_service", r"no such service: ([^\s]+)", "the compose project has no service {0} (set compose_service)"),
    ("no_tool_in_container", r'exec: "([^"]+)": executable file not found',
     "{0} is not installed in the compose service's container"),
    ("auth", r'password authentication failed for user "([^"]+)"',
     "authentication failed for user {0} (the password from login_password or the env file is not the server's)"),
    ("no_password", r"fe_sendauth: no password supplied",
     "the server asks for a password and none was given (login_password, or the password key of the env file)"),
    ("no_role", r'role "([^"]+)" does not exist', "database user {0} does not exist on the server"),
    ("no_database", r'database "([^"]+)" does not exist', "database {0} does not exist on the server"),
    ("refused", r'connection to server at "([^"]+)", port (\d+) failed: Connection refused',
     "nothing listens at {0}:{1} (connection refused): is the database running and published there? "
     "(login_host, login_port or the port key of the env file)"),
    ("no_socket", r'connection to server on socket "([^"]+)" failed',
     "no PostgreSQL server on the local socket {0}: is the database running?"),
    ("host_unknown", r'could not translate host name "([^"]+)"', "unknown database host {0} (login_host)"),
    ("timeout", r"timeout expired|Connection timed out", "the database server did not answer in time (connection timed out)"),
    ("missing_table", r'relation "([^"]+)" does not exist', "table {0} does not exist"),
]
_FAILURE_RES = [(cause, re.compile(pattern), text) for cause, pattern, text in FAILURE_CAUSES]

# Causes that mean the tool itself could not start (it never looked at its input or the server).
START_CAUSES = ("no_library", "no_python_module", "no_tool", "cannot_start")
# Causes outside the tool's own input: docker, the container, the tools themselves.
# A backup read that fails for one of these says nothing about the backup.
INFRASTRUCTURE_CAUSES = ("docker_daemon", "docker_permission", "no_compose", "not_running", "no_service",
                         "no_tool_in_container", "no_docker", "container_paused", "container_restarting",
                         "container_stopped") + START_CAUSES
# Causes that mean the database server could not be reached or refused the login.
CONNECTION_CAUSES = ("auth", "no_password", "no_role", "no_database", "refused", "no_socket", "host_unknown",
                     "timeout", "db_starting")


def tool_judged_input(tool, stderr):
    """True when the tool itself ran and reported an error (`pg_restore: error: ...`), so a failure is
    about its input, not about docker, the container or the tool's installation."""
    return re.search(r"^(?:\S*/)?%s: (?:error: |fatal: |\[archiver)" % re.escape(tool), stderr or "", re.M) is not None


def failure_cause(stderr):
    """(cause, readable message) of a tool failure from its stderr; (None, '') when unknown."""
    for cause, regex, text in _FAILURE_RES:
        match = regex.search(stderr or "")
        if match:
            return cause, text.format(*match.groups())
    return None, ""


def tool_failure(tool, rc, stderr, secrets=()):
    """One clear message: tool, exit code, the real cause when known, the last stderr lines, secrets masked."""
    last = tail_lines(mask_text(stderr, secrets))
    _cause, reason = failure_cause(stderr)
    msg = "%s failed (%s)" % (tool, describe_exit(rc))
    if reason:
        msg += ": " + mask_text(reason, secrets)
    return msg + (": " + last if last else "")


# --------------------------------------------------------------------------- names


APP_NAME_MAX = 64
TS_FORMAT = "%Y%m%dT%H%M%SZ"
DB_TS_FORMAT = "%Y%m%d%H%M%S"


def check_db_name(name, what="database"):
    """Return '' when name is a usable database name, else the reason."""
    if not name:
        return "%s name is empty" % what
    if len(name.encode()) > 63:
        return "%s name %r is longer than 63 bytes (PostgreSQL would truncate it)" % (what, name)
    if not is_valid("db_name", name):
        return "%s name %r: use letters, digits, _ and - (no leading digit)" % (what, name)
    return ""


def check_app_name(name):
    if name and len(name) > APP_NAME_MAX:
        return "app %r is longer than %d characters" % (name, APP_NAME_MAX)
    if not is_valid("app_name", name):
        return "app %r: use letters, digits, '.' and '-' (no '_': it separates the name's fields)" % (name,)
    return ""


def short_commit(commit, length=12):
    """Normalised short commit for file names: lower-case hex, or 'unknown'."""
    if not commit or commit == "unknown":
        return "unknown"
    if not is_valid("sha", commit):
        raise PgError("commit %r is not a git SHA (4-40 hex digits)" % (commit,))
    return commit.lower()[:length]


def utc_stamp(when, fmt=TS_FORMAT):
    return when.astimezone(datetime.timezone.utc).strftime(fmt)


def backup_name(app, database, when, commit, seq=0):
    """`<app>_<db>_<YYYYmmddTHHMMSSZ>_<commit>[-N].dump`."""
    suffix = "-%d" % seq if seq else ""
    return "%s_%s_%s_%s%s.dump" % (app, database, utc_stamp(when), short_commit(commit), suffix)


def derived_db_name(database, kind, when):
    """`<db>_restore_<ts>`, `<db>_pre_restore_<ts>`, `<db>_verify_<ts>`; checked length."""
    name = "%s_%s_%s" % (database, kind, utc_stamp(when, DB_TS_FORMAT))
    problem = check_db_name(name, kind + " database")
    if problem:
        raise PgError(problem)
    return name


# --------------------------------------------------------------------------- retention


def select_for_removal(backups, keep, protect=()):
    """Which backups retention removes.

    backups: dicts with path, stamp (sortable), seq and verified. Keeps the newest
    `keep` (0 = keep everything), the newest verified one and every path in protect.
    Returns the paths to remove, oldest first.
    """
    if keep <= 0:
        return []
    protected = {os.path.realpath(p) for p in protect if p}
    ordered = sorted(backups, key=lambda b: (b["stamp"], b.get("seq", 0), b["path"]), reverse=True)
    newest_verified = next((b["path"] for b in ordered if b.get("verified")), None)
    remove = []
    for index, backup in enumerate(ordered):
        if index < keep or backup["path"] == newest_verified:
            continue
        if os.path.realpath(backup["path"]) in protected:
            continue
        remove.append(backup["path"])
    return list(reversed(remove))


# --------------------------------------------------------------------------- argv


def compose_prefix(docker, conn, env_names=(), env_values=None):
    """`docker compose --project-directory D [--project-name P] exec -T [-e ...] <service>` (_cli builds it).

    env_names are passed by name only (`-e PGPASSWORD`): docker takes the value from
    its own environment, so it never appears in an argument list.
    """
    return compose_exec_argv(conn["project_dir"], conn.get("project"), conn["service"], [],
                             env_values=env_values, env_names=env_names, docker=docker)


def conn_args(conn):
    """-h/-p for host mode (compose mode uses the container's socket), then -U."""
    argv = []
    if conn["via"] == "host":
        argv += ["-h", conn["host"], "-p", str(conn["port"])]
    if conn.get("user"):
        argv += ["-U", conn["user"]]
    return argv + ["-w"]  # never prompt: a prompt would hang the module


def pg_dump_argv(conn, database, fmt="custom", compress=0, jobs=1, out=None):
    argv = ["pg_dump"] + conn_args(conn)
    if fmt == "custom":
        argv += ["-Fc", "-Z%d" % compress]
        if out:
            argv += ["-f", out]
    elif fmt == "directory":
        if not out:
            raise PgError("directory format needs an output path")
        argv += ["-Fd", "-j", str(max(1, jobs)), "-Z%d" % compress, "-f", out]
    else:
        raise PgError("unknown dump format %r" % (fmt,))
    return argv + ["--dbname=%s" % database]


def pg_restore_argv(conn, database, jobs=1, no_owner=True, no_privileges=False, src=None):
    """Restore an archive (src path, or stdin when src is None) into database."""
    argv = ["pg_restore"] + conn_args(conn) + ["--exit-on-error"]
    if no_owner:
        argv.append("--no-owner")
    if no_privileges:
        argv.append("--no-privileges")
    if src is not None and jobs > 1:
        argv += ["-j", str(jobs)]
    argv.append("--dbname=%s" % database)
    return argv + ([src] if src is not None else [])


def pg_restore_list_argv(src=None):
    return ["pg_restore", "--list"] + ([src] if src is not None else [])


def pg_restore_read_argv(src=None):
    """Read the whole archive without a database (catches truncated data blocks)."""
    return ["pg_restore", "-f", "/dev/null"] + ([src] if src is not None else [])


def psql_argv(conn, database, single_transaction=False, tuples=False, stop_on_error=True):
    argv = ["psql"] + conn_args(conn) + ["-X", "-v", "ON_ERROR_STOP=%d" % (1 if stop_on_error else 0)]
    if single_transaction:
        argv.append("--single-transaction")
    if tuples:
        argv += ["-A", "-t", "-q", "-F", "\t"]
    return argv + ["--dbname=%s" % database, "-f", "-"]


# --------------------------------------------------------------------------- SQL


def quote_ident(name):
    return '"%s"' % name.replace('"', '""')


def quote_literal(value):
    return "'%s'" % str(value).replace("'", "''")


def list_databases_sql(database):
    like = database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "\\_%"
    return ("SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY datname;\n"
            % quote_literal(like))


def database_listing_sql(database):
    """The live database and every `<database>_*` one: name, oid (text), size (bytes; null without
    CONNECT on it) and whether it accepts connections, as one JSON array ordered by name."""
    like = database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "\\_%"
    return ("SELECT coalesce(json_agg(json_build_object('datname', datname, 'oid', oid::text, 'size', "
            "CASE WHEN has_database_privilege(oid, 'CONNECT') THEN pg_database_size(oid) END, "
            "'datallowconn', datallowconn) ORDER BY datname), '[]') "
            "FROM pg_database WHERE datname = %s OR datname LIKE %s;\n" % (quote_literal(database), quote_literal(like)))


def parse_database_listing(text, database):
    """Rows of database_listing_sql's answer, each with `derived` (a scratch, pre-restore or verify
    database of `database`). Raises PgError on anything but a JSON array."""
    try:
        rows = json.loads((text or "").strip() or "[]")
    except ValueError as exc:
        raise PgError("unexpected answer to the database listing: %s" % exc)
    if not isinstance(rows, list):
        raise PgError("unexpected answer to the database listing: not a JSON array")
    return [dict(row, derived=is_derived_db(row.get("datname") or "", database)) for row in rows]


def refusing_connections_sql(database):
    """The live database and its `<database>_*` copies that refuse new connections (datallowconn off:
    only an interrupted swap leaves them so)."""
    like = database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "\\_%"
    return ("SELECT datname FROM pg_database WHERE NOT datallowconn AND (datname = %s OR datname LIKE %s) "
            "ORDER BY datname;\n" % (quote_literal(database), quote_literal(like)))


def allow_connections_sql(names):
    return "".join("ALTER DATABASE %s WITH ALLOW_CONNECTIONS true;\n" % quote_ident(n) for n in names)


def create_database_sql(name, like=None):
    """CREATE DATABASE name, copying owner, encoding and locale of `like` (pg_database row)."""
    sql = "CREATE DATABASE %s" % quote_ident(name)
    if not like:
        return sql + ";\n"
    opts = ["TEMPLATE template0"]
    if like.get("owner"):
        opts.append("OWNER %s" % quote_ident(like["owner"]))
    if like.get("encoding_name"):
        opts.append("ENCODING %s" % quote_literal(like["encoding_name"]))
    if like.get("datcollate"):
        opts.append("LC_COLLATE %s" % quote_literal(like["datcollate"]))
    if like.get("datctype"):
        opts.append("LC_CTYPE %s" % quote_literal(like["datctype"]))
    icu = like.get("daticulocale") or like.get("datlocale")
    if like.get("datlocprovider") == "i" and icu:
        opts.append("LOCALE_PROVIDER icu ICU_LOCALE %s" % quote_literal(icu))
    return sql + " WITH " + " ".join(opts) + ";\n"


def database_info_full_sql(name):
    """pg_database row as JSON plus owner and encoding names (works on PG 9.5+)."""
    return ("SELECT to_jsonb(d) || jsonb_build_object('owner', pg_get_userbyid(d.datdba), "
            "'encoding_name', pg_encoding_to_char(d.encoding)) "
            "FROM pg_database d WHERE datname = %s;\n" % quote_literal(name))


def terminate_sql(names, wait_ms=5000, server_num=150000):
    """End the sessions on these databases (PG 14+: wait until they are gone)."""
    call = "pg_terminate_backend(pid, %d)" % wait_ms if server_num >= 140000 else "pg_terminate_backend(pid)"
    return ("SELECT count(%s) FROM pg_stat_activity WHERE datname IN (%s) AND pid <> pg_backend_pid();\n"
            % (call, ", ".join(quote_literal(n) for n in names)))


def existing_sql(names):
    return ("SELECT datname FROM pg_database WHERE datname IN (%s) ORDER BY datname;\n"
            % ", ".join(quote_literal(n) for n in names))


SWAP_FAILED = "maverick-swap-failed:"
SWAP_STATE = "maverick-swap-state:"


def swap_script(live, replacement, old, attempts=10):
    """One psql script (run with ON_ERROR_STOP=0) that swaps database names with minimal downtime.

    0. (PG 14+) the server checks every second that psql is still there: a killed psql
       ends the session, and with it the retries;
    1. new connections to live and replacement are refused (committed, so it holds for
       everyone);
    2. in one transaction: end their sessions, wait until they are gone, rename
       live -> old and replacement -> live (retried while a session is still there);
       any failure is reported as a WARNING starting with SWAP_FAILED and renames nothing;
    3. connections are allowed again on whichever of the names exist now;
    4. the names that exist are printed (SWAP_STATE lines), so the caller sees the outcome.
    When live does not exist, replacement is only renamed to live.
    """
    names = [live, replacement, old]
    in_list = ", ".join(quote_literal(n) for n in (live, replacement))

    def rename(src, dst):
        return quote_literal("ALTER DATABASE %s RENAME TO %s" % (quote_ident(src), quote_ident(dst)))

    # PG 14+: the session ends within 1 s once its psql is gone (killed, connection lost),
    # instead of going on ending the app's sessions through the retries after the caller
    # allowed connections again.
    check = ("SELECT set_config('client_connection_check_interval', '1000', false) "
             "WHERE current_setting('server_version_num')::int >= 140000;\n")
    lines = [check] + ["SELECT format('ALTER DATABASE %%I WITH ALLOW_CONNECTIONS false', datname) "
                       "FROM pg_database WHERE datname = %s \\gexec\n" % quote_literal(name)
                       for name in (live, replacement)]
    body = """DO $swap$
DECLARE
  attempt int;
  waited int;
  has_live boolean := EXISTS (SELECT 1 FROM pg_database WHERE datname = %(live)s);
BEGIN
  FOR attempt IN 1..%(attempts)d LOOP
    PERFORM pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE datname IN (%(in_list)s) AND pid <> pg_backend_pid();
    FOR waited IN 1..50 LOOP
      PERFORM pg_stat_clear_snapshot();
      EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity
                            WHERE datname IN (%(in_list)s) AND pid <> pg_backend_pid());
      PERFORM pg_sleep(0.1);
    END LOOP;
    BEGIN
      IF has_live THEN
        EXECUTE %(live_to_old)s;
      END IF;
      EXECUTE %(replacement_to_live)s;
      RETURN;
    EXCEPTION WHEN object_in_use THEN
      IF attempt = %(attempts)d THEN
        RAISE WARNING '%(failed)s %%', SQLERRM;
        RETURN;
      END IF;
      PERFORM pg_sleep(0.2);
    END;
  END LOOP;
EXCEPTION WHEN others THEN
  RAISE WARNING '%(failed)s %%', SQLERRM;
END
$swap$;
""" % {"live": quote_literal(live), "attempts": attempts, "in_list": in_list,
       "live_to_old": rename(live, old), "replacement_to_live": rename(replacement, live),
       "failed": SWAP_FAILED}
    enable = ("SELECT format('ALTER DATABASE %%I WITH ALLOW_CONNECTIONS true', datname) "
              "FROM pg_database WHERE datname IN (%s) \\gexec\n" % ", ".join(quote_literal(n) for n in names))
    state = ("SELECT %s || datname FROM pg_database WHERE datname IN (%s) ORDER BY datname;\n"
             % (quote_literal(SWAP_STATE), ", ".join(quote_literal(n) for n in names)))
    return "".join(lines) + body + enable + state


def parse_swap_output(stdout, stderr):
    """(names that exist after the swap script, failure message or '')."""
    exists = {line[len(SWAP_STATE):] for line in (stdout or "").splitlines() if line.startswith(SWAP_STATE)}
    failure = ""
    for line in (stderr or "").splitlines():
        if SWAP_FAILED in line:
            failure = line.split(SWAP_FAILED, 1)[1].strip()
        elif not failure and "ERROR:" in line:
            failure = line.split("ERROR:", 1)[1].strip()
    return exists, failure


def drop_database_sql(name, server_num=150000):
    force = " WITH (FORCE)" if server_num >= 130000 else ""
    return "DROP DATABASE IF EXISTS %s%s;\n" % (quote_ident(name), force)


TABLE_COUNT_SQL = ("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                   "AND n.nspname NOT LIKE 'pg\\_toast%';\n")

# Exact row count of every user table in one statement (query_to_xml runs a count per table).
ROW_COUNTS_SQL = (
    "SELECT format('%I.%I', n.nspname, c.relname), "
    "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), "
    "false, true, '')))[1]::text "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1;\n")

# Rows, size and primary key of every user table, as one JSON array ordered by name: `rows` is an
# exact count for a table of at most `exact_limit` bytes (null above it, where counting would read
# the whole table), `estimate` PostgreSQL's own estimate (pg_class.reltuples: -1 or 0 when the
# table was never analyzed), `bytes` its size with indexes and TOAST, `pk` its primary key
# columns in key order (null without one). CASE evaluates the count only under the limit.
TABLE_STATS_MARK = "maverick-table-stats"
# The size (MiB) up to which a table's rows are counted exactly, unless the caller says otherwise.
EXACT_COUNT_LIMIT_MB = 64


def table_stats_sql(exact_limit):
    """SQL of the per-table statistics (see above); exact_limit in bytes (0: estimates only)."""
    return (
        "/* %s */ SELECT coalesce(json_agg(t ORDER BY t.name), '[]') FROM ("
        "SELECT format('%%I.%%I', n.nspname, c.relname) AS name, pg_total_relation_size(c.oid) AS bytes, "
        "c.reltuples::bigint AS estimate, "
        "CASE WHEN pg_total_relation_size(c.oid) <= %d THEN (xpath('/row/c/text()', query_to_xml("
        "format('SELECT count(*) AS c FROM %%I.%%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint END "
        "AS rows, "
        "(SELECT json_agg(a.attname ORDER BY k.ord) FROM pg_index i "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = c.oid AND i.indisprimary) AS pk "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_toast%%') t;\n" % (TABLE_STATS_MARK, max(0, int(exact_limit))))


def parse_table_stats(text):
    """table_stats_sql's answer -> {table: {rows, estimate, bytes, pk}}; PgError on anything but a JSON array."""
    try:
        rows = json.loads((text or "").strip() or "[]")
    except ValueError as exc:
        raise PgError("unexpected answer to the table statistics: %s" % exc)
    if not isinstance(rows, list):
        raise PgError("unexpected answer to the table statistics: not a JSON array")
    stats = {}
    for row in rows:
        if not isinstance(row, dict) or not row.get("name"):
            continue
        stats[row["name"]] = {"rows": _int_or_none(row.get("rows")), "estimate": _int_or_none(row.get("estimate")),
                              "bytes": _int_or_none(row.get("bytes")), "pk": list(row["pk"]) if row.get("pk") else None}
    return stats


def _int_or_none(value):
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


SERVER_VERSION_SQL = "SELECT current_setting('server_version'), current_setting('server_version_num');\n"


def parse_row_counts(text):
    """`schema.table<TAB>count` lines -> {name: int}."""
    counts = {}
    for line in (text or "").splitlines():
        name, sep, value = line.rpartition("\t")
        if sep and value.strip().isdigit():
            counts[name] = int(value)
    return counts


def compare_row_counts(before, restored, after=None):
    """Tables whose restored count is not between the live counts before and after the dump.

    Returns a list of 'table: restored N, live M' strings (empty = all match).
    """
    after = before if after is None else after
    problems = []
    for table in sorted(set(before) | set(restored) | set(after)):
        got = restored.get(table)
        low, high = before.get(table), after.get(table)
        if got is None:
            problems.append("%s: missing from the restored copy" % table)
            continue
        if low is None and high is None:
            problems.append("%s: not in the live database" % table)
            continue
        bounds = [v for v in (low, high) if v is not None]
        if not min(bounds) <= got <= max(bounds):
            live = str(low) if low == high or high is None else "%s..%s" % (low, high)
            problems.append("%s: restored %d rows, live %s" % (table, got, live))
    return problems


# --------------------------------------------------------------------------- parsers


_VERSION = re.compile(r"(?:\(PostgreSQL\)\s+)?(\d+(?:\.\d+)*(?:devel|alpha\d*|beta\d*|rc\d*)?)")


def parse_tool_version(text):
    """'pg_dump (PostgreSQL) 15.18 (Debian ...)' -> '15.18'; also '18devel', '17beta1', '16rc1'."""
    text = text or ""
    match = re.search(r"\(PostgreSQL\)\s+(\d[^\s]*)", text) or _VERSION.search(text)
    return _VERSION.match(match.group(1)).group(1) if match else None


def major_version(version):
    """The major version (int) of '15.18', '18devel', '17beta1', '16.2 (Debian 16.2-1)', '9.6.24'; None if none."""
    match = re.match(r"\s*(\d+)", str(version or ""))
    return int(match.group(1)) if match else None


# TOC entry types of pg_restore --list, the longest ones first (types can have spaces).
TOC_TYPES = sorted([
    "ACCESS METHOD", "ACL", "AGGREGATE", "BLOB", "BLOB METADATA", "BLOBS", "CAST", "CHECK CONSTRAINT",
    "COLLATION", "COMMENT", "CONSTRAINT", "CONVERSION", "DATABASE", "DATABASE PROPERTIES",
    "DEFAULT", "DEFAULT ACL", "DOMAIN", "ENCODING", "EVENT TRIGGER", "EXTENSION", "FK CONSTRAINT",
    "FOREIGN DATA WRAPPER", "FOREIGN SERVER", "FOREIGN TABLE", "FUNCTION", "INDEX",
    "INDEX ATTACH", "LARGE OBJECT", "MATERIALIZED VIEW", "MATERIALIZED VIEW DATA", "OPERATOR",
    "OPERATOR CLASS", "OPERATOR FAMILY", "POLICY", "PROCEDURE", "PROCEDURAL LANGUAGE",
    "PUBLICATION", "PUBLICATION TABLE", "PUBLICATION TABLES IN SCHEMA", "ROW SECURITY", "RULE",
    "SCHEMA", "SEARCHPATH", "SECURITY LABEL", "SEQUENCE", "SEQUENCE OWNED BY", "SEQUENCE SET",
    "SERVER", "SHELL TYPE", "STATISTICS", "STDSTRINGS", "SUBSCRIPTION", "SUBSCRIPTION TABLE",
    "TABLE", "TABLE ATTACH", "TABLE DATA", "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY",
    "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE", "TRANSFORM", "TRIGGER", "TYPE", "USER MAPPING",
    "VIEW",
], key=len, reverse=True)

_TOC_LINE = re.compile(r"^(\d+); (\d+) (\d+) (.*)$")
_HEADER = re.compile(r"^;\s+([A-Za-z][A-Za-z_ ]*?):\s*(.*)$")


def parse_toc(text):
    """Parse `pg_restore --list` output: header fields and entries per type.

    Returns dict: toc_entries (header count, else listed lines), format, compression,
    server_version, pg_dump_version, dbname, created (archive time), types ({type: n}),
    table_count, tables (["schema.name", ...]), listed (entries listed).
    """
    header = {}
    types = {}
    tables = []
    listed = 0
    for line in (text or "").splitlines():
        entry = _TOC_LINE.match(line)
        if entry:
            listed += 1
            rest = entry.group(4)
            kind = next((t for t in TOC_TYPES if rest == t or rest.startswith(t + " ")), rest.split(" ")[0])
            types[kind] = types.get(kind, 0) + 1
            if kind == "TABLE":
                fields = rest[len(kind) + 1:].split(" ")
                if len(fields) >= 2:
                    tables.append("%s.%s" % (fields[0], fields[1]))
            continue
        if line.startswith("; Archive created at "):
            header["created"] = line[len("; Archive created at "):].strip()
            continue
        field = _HEADER.match(line)
        if field:
            header[field.group(1).strip().lower()] = field.group(2).strip()
    if not listed and "format" not in header:
        raise PgError("pg_restore --list printed no table of contents")
    toc = header.get("toc entries", "")
    return {
        "toc_entries": int(toc) if toc.isdigit() else listed,
        "listed": listed,
        "format": header.get("format", "").lower() or None,
        "compression": header.get("compression"),
        "server_version": header.get("dumped from database version"),
        "pg_dump_version": header.get("dumped by pg_dump version"),
        "dbname": header.get("dbname"),
        "created": header.get("created"),
        "types": types,
        "table_count": types.get("TABLE", 0),
        "tables": tables,
    }


_TAG = re.compile(r"^(?:[A-Z]+)(?: [A-Z]+)*(?: \d+)*$")


def count_command_tags(lines):
    """Count psql command tags ('CREATE TABLE', 'COPY 25', ...) from its stdout.

    Returns (objects {tag: n}, rows copied by COPY). Query results (setval rows,
    headers) are ignored.
    """
    objects = {}
    rows = 0
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line or not _TAG.match(line):
            continue
        words = line.split(" ")
        numbers = [w for w in words if w.isdigit()]
        tag = " ".join(w for w in words if not w.isdigit())
        if tag in ("SET", "SELECT", "BEGIN", "COMMIT", "ROLLBACK"):
            continue
        if tag == "COPY" and numbers:
            rows += int(numbers[-1])
        objects[tag] = objects.get(tag, 0) + 1
    return objects, rows


# --------------------------------------------------------------------------- formats


PLAIN_MARK = b"-- PostgreSQL database dump"
PLAIN_DONE = b"-- PostgreSQL database dump complete"
CLUSTER_MARK = b"-- PostgreSQL database cluster dump"


def sniff(head):
    """Format of a file from its first bytes: custom, gzip, tar, plain, empty or unknown."""
    if not head:
        return "empty"
    if head.startswith(b"PGDMP"):
        return "custom"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if b"\x00" in head[:8192]:
        return "unknown"
    try:
        head[:8192].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head[:8192]) - 4:  # a multi-byte char cut at the end is fine
            return "unknown"
    return "plain"


def check_plain(head, tail):
    """Problems with a plain SQL dump, from its first and last bytes ('' = fine)."""
    text = head.decode("utf-8", "replace")
    if not text.strip():
        return "plain SQL file contains only whitespace"
    if CLUSTER_MARK in head:
        return ("this is a pg_dumpall cluster dump (roles, several databases, \\connect); "
                "restore one database's dump instead")
    if re.search(r"^CREATE DATABASE\s", text, re.M):
        return ("the SQL creates or connects to its own database (pg_dump --create); it would not "
                "restore into the target database: dump without --create")
    if PLAIN_MARK in head and PLAIN_DONE not in tail:
        return ("plain SQL dump is truncated: pg_dump's last line '-- PostgreSQL database dump "
                "complete' is missing")
    return ""


# psql meta-commands in a plain SQL file. psql runs them on the server as the restoring user
# (\! runs a shell, \o and \copy ... to write files: CVE-2025-8714), so a file with any of
# them is refused, but the \restrict <key> ... \unrestrict <key> guards current pg_dump
# versions write around the dump (psql itself refuses other meta-commands between them).
_SQL_TOKEN = re.compile(r"""--|/\*|(?<![A-Za-z0-9_])[Ee]'|'|"|(?<![A-Za-z0-9_$])\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$|\\""")
_COPY_FROM_STDIN = re.compile(r"\ACOPY\s.*\sFROM\s+stdin\s*;\s*\Z", re.I | re.S)
_GUARD = re.compile(r"\A\\(restrict|unrestrict)[ \t]+([A-Za-z0-9]+)[ \t]*\Z")


def _skip_quoted(line, start, quote):
    """Index after the end of a quoted part that starts inside line at start, or None when it goes on.

    quote: "'" (standard string), "E'" (backslash escapes), '"' (identifier) or a dollar tag."""
    if quote not in ("'", "E'", '"'):
        end = line.find(quote, start)
        return None if end < 0 else end + len(quote)
    mark = quote[-1]
    i = start
    while i < len(line):
        char = line[i]
        if quote == "E'" and char == "\\":
            i += 2
            continue
        if char == mark:
            if line[i + 1:i + 2] == mark:
                i += 2
                continue
            return i + 1
        i += 1
    return None


def psql_meta_commands(lines):
    """(line number, command text) of every psql meta-command in an SQL script, in order.

    Backslashes inside strings, quoted identifiers, dollar quotes, comments and COPY ... FROM
    stdin data are not meta-commands; a backslash anywhere else is one (psql runs it also in
    the middle of a line)."""
    quote = None  # the quoted part or comment the previous line left open
    depth = 0  # nesting of /* */ comments
    copy = False
    for number, line in enumerate(lines, 1):
        if copy:
            copy = line.rstrip("\r\n") != "\\."
            continue
        i = 0
        statement_end = True
        while i < len(line):
            if quote == "/*":
                close, open_ = line.find("*/", i), line.find("/*", i)
                if open_ >= 0 and (close < 0 or open_ < close):
                    depth, i = depth + 1, open_ + 2
                elif close >= 0:
                    depth, i = depth - 1, close + 2
                    quote = None if depth == 0 else quote
                else:
                    break
                continue
            if quote:
                end = _skip_quoted(line, i, quote)
                if end is None:
                    break
                quote, i = None, end
                continue
            token = _SQL_TOKEN.search(line, i)
            if not token:
                break
            text = token.group(0)
            if text == "--":
                break
            if text == "\\":
                yield number, line[token.start():].strip()
                statement_end = False
                break
            quote = {"/*": "/*", "'": "'", '"': '"'}.get(text, "E'" if text[0] in "Ee" else text)
            depth = 1 if text == "/*" else depth
            i = token.end()
        if quote is None and statement_end and _COPY_FROM_STDIN.match(line.strip()):
            copy = True


def meta_command_problem(lines):
    """Why an SQL script must not run through psql ('' = only pg_dump's guards, or none)."""
    key = None
    for number, command in psql_meta_commands(lines):
        guard = _GUARD.match(command)
        name = command.split()[0]
        if guard and guard.group(1) == "restrict" and key is None:
            key = guard.group(2)
            continue
        if guard and guard.group(1) == "unrestrict" and guard.group(2) == key:
            key = False  # closed: anything after it is refused
            continue
        why = ("pg_dump --create or pg_dumpall writes it to switch databases" if name in ("\\connect", "\\c")
               else "a pg_dump plain dump runs none but its \\restrict/\\unrestrict guards")
        return ("line %d runs the psql meta-command %s (%s): %s, and psql would run it on the database server as "
                "the restoring user: refusing the file" % (number, name, command[:80], why))
    return ""


def scan_plain_sql(path, compression=None):
    """meta_command_problem of a plain SQL file (gzip read as a stream), reading it line by line."""
    opener = gzip.open if compression == "gzip" else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as handle:
        return meta_command_problem(handle)


def read_head_tail(path, head_size=HEAD_BYTES, tail_size=TAIL_BYTES):
    """First and last bytes of a file, without reading the middle."""
    with open(path, "rb") as handle:
        head = handle.read(head_size)
        size = os.fstat(handle.fileno()).st_size
        if size <= head_size:
            return head, head[-tail_size:]
        handle.seek(max(head_size, size - tail_size))
        return head, handle.read()


def gzip_head_tail(path, head_size=HEAD_BYTES, tail_size=TAIL_BYTES):
    """Decompressed first and last bytes of a gzip file, reading it as a stream to the end.

    A truncated or corrupt stream raises PgError. Returns (head, tail, decompressed size).
    """
    head = b""
    tail = b""
    total = 0
    try:
        with gzip.open(path, "rb") as stream:
            while True:
                block = stream.read(CHUNK)
                if not block:
                    break
                total += len(block)
                if len(head) < head_size:
                    head += block[:head_size - len(head)]
                tail = (tail + block)[-tail_size:]
    except EOFError:
        raise PgError("gzip stream in %s is truncated (ends before the gzip trailer)" % path)
    except (OSError, zlib.error) as exc:
        raise PgError("gzip stream in %s is corrupt: %s" % (path, exc))
    return head, tail, total


def detect_format(path):
    """Detect a backup's format from its content and check what can be checked cheaply.

    Returns dict: format (custom, directory, tar, plain), compression (gzip or None),
    size (bytes on disk), kind (file or directory). Raises PgError for a missing,
    empty, truncated or unreadable backup. A gzip file is read to its end (that is
    how a truncated gzip stream shows).
    """
    if not os.path.exists(path):
        raise PgError("backup %s does not exist" % path)
    if os.path.isdir(path):
        toc = os.path.join(path, "toc.dat")
        if not os.path.isfile(toc):
            raise PgError("%s is a directory without toc.dat: not a directory-format dump" % path)
        with open(toc, "rb") as handle:
            if handle.read(5) != b"PGDMP":
                raise PgError("%s does not start with PGDMP: corrupt directory-format dump" % toc)
        return {"format": "directory", "compression": None, "size": tree_size(path), "kind": "directory"}
    size = os.path.getsize(path)
    if size == 0:
        raise PgError("backup %s is empty (0 bytes)" % path)
    head, tail = read_head_tail(path)
    kind = sniff(head)
    compression = None
    if kind == "gzip":
        compression = "gzip"
        head, tail, _size = gzip_head_tail(path)
        kind = sniff(head)
        if kind == "empty":
            raise PgError("backup %s decompresses to nothing" % path)
        if kind == "gzip":
            raise PgError("backup %s is gzip inside gzip; decompress it once first" % path)
    if kind == "unknown":
        raise PgError("backup %s is not a PostgreSQL dump (not custom, directory, tar, gzip or plain SQL)"
                      % path)
    if kind == "custom" and len(head) < 64:
        raise PgError("backup %s is truncated: a custom-format header alone" % path)
    if kind == "plain":
        problem = check_plain(head, tail) or scan_plain_sql(path, compression)
        if problem:
            raise PgError("backup %s: %s" % (path, problem))
    return {"format": kind, "compression": compression, "size": size, "kind": "file"}


def restore_plan(via, fmt, compression=None, jobs=1):
    """How a backup of this format is restored (pure: decides, runs nothing).

    Returns dict: tool (psql or pg_restore), feed (path: the tool opens the file
    itself; stdin: the module streams it, gunzipping on the way), jobs (used),
    note (why jobs was reduced, or ''). Raises PgError when it cannot work.
    """
    if fmt == "plain":
        note = "plain SQL runs in one psql session: jobs does not apply" if jobs > 1 else ""
        return {"tool": "psql", "feed": "stdin", "gunzip": compression == "gzip", "jobs": 1, "note": note}
    if fmt == "directory":
        if via != "host":
            raise PgError("a directory-format dump can only be restored with via: host (pg_restore in "
                          "the container cannot read a directory on the host, and a directory cannot be "
                          "streamed on stdin)")
        return {"tool": "pg_restore", "feed": "path", "gunzip": False, "jobs": max(1, jobs), "note": ""}
    if fmt not in ("custom", "tar"):
        raise PgError("unknown format %r" % (fmt,))
    if via == "host" and not compression:
        if fmt == "tar" and jobs > 1:
            return {"tool": "pg_restore", "feed": "path", "gunzip": False, "jobs": 1,
                    "note": "pg_restore cannot restore a tar-format archive in parallel: jobs=1"}
        return {"tool": "pg_restore", "feed": "path", "gunzip": False, "jobs": max(1, jobs), "note": ""}
    why = "via: compose streams the archive on stdin" if via != "host" else "a gzipped archive is streamed"
    note = ("%s and pg_restore cannot run parallel jobs from stdin: jobs=1 (use via: host with an "
            "uncompressed archive for -j)" % why) if jobs > 1 else ""
    return {"tool": "pg_restore", "feed": "stdin", "gunzip": compression == "gzip", "jobs": 1, "note": note}


# --------------------------------------------------------------------------- files


def tree_size(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_path(path):
    """sha256 of a file; for a directory, sha256 of its sorted `sha256sum` listing."""
    if not os.path.isdir(path):
        return sha256_file(path)
    names = []
    for root, _dirs, files in os.walk(path):
        names += [os.path.relpath(os.path.join(root, name), path) for name in files]
    listing = "".join("%s  %s\n" % (sha256_file(os.path.join(path, name)), name) for name in sorted(names))
    return hashlib.sha256(listing.encode()).hexdigest()


def manifest_path(path):
    return path.rstrip("/") + ".json"


def build_manifest(**fields):
    """The sidecar manifest: fixed key order, None values kept (explicitly unknown)."""
    keys = ["app", "database", "path", "format", "compression", "size", "sha256", "table_count",
            "toc_entries", "server_version", "commit", "created_at", "verified", "verification",
            "row_counts", "tools", "via"]
    manifest = {key: fields.get(key) for key in keys}
    if fields.get("source_database"):
        manifest["source_database"] = fields["source_database"]
    if fields.get("tables") is not None:  # per-table rows and sizes when the dump began (table_stats_sql)
        manifest["tables"] = fields["tables"]
        manifest["tables_exact_limit"] = fields.get("tables_exact_limit")
    manifest["manifest_version"] = 1
    return manifest


def write_private(path, data):
    """Write bytes to path mode 0600 through a temporary name, fsync, rename."""
    tmp = "%s.tmp-%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(os.path.dirname(path) or ".")


def write_manifest(path, manifest):
    write_private(path, (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode())


def read_manifest(path):
    """The manifest beside a backup: dict, or None when there is none; PgError when unreadable."""
    mpath = manifest_path(path)
    if not os.path.exists(mpath):
        return None
    try:
        with open(mpath, "rb") as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise PgError("manifest %s is unreadable: %s" % (mpath, exc))
    if not isinstance(data, dict) or not re.match(r"^[0-9a-f]{64}$", str(data.get("sha256", ""))):
        raise PgError("manifest %s has no valid sha256" % mpath)
    return data


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path):
    """fsync every file of a directory tree and the directories themselves."""
    for root, _dirs, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(root)


def parse_iso(text):
    """ISO-8601 UTC time ('2026-01-02T03:04:05Z') -> aware datetime, or None."""
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def iso(when):
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
