"""_pg and _pg_runner: tables of inputs and what each helper must make of them.

Fixtures (tests/unit/fixtures/pg) are real: dumps of a small PostgreSQL 15 database
(custom, directory, tar, plain, gzip), damaged copies of them (truncated, 0 bytes,
corrupt) and captured tool output.
"""

import datetime
import gzip
import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils import _pg_runner
from ansible_collections.maverick.rollback.plugins.module_utils._dotenv import parse_env_file
from ansible_collections.maverick.rollback.plugins.module_utils._pg import (
    PgError, backup_name, build_manifest, check_app_name, check_db_name, compare_row_counts,
    compose_prefix, count_command_tags, create_database_sql, derived_db_name, describe_exit, detect_format,
    drop_database_sql, parse_iso, parse_row_counts,
    parse_swap_output, parse_toc, parse_tool_version, major_version, pg_dump_argv, pg_restore_argv, pg_restore_list_argv,
    pg_restore_read_argv, psql_argv, quote_ident, quote_literal, read_manifest,
    restore_plan, select_for_removal, sha256_path, short_commit, sniff, swap_script, terminate_sql,
    tool_failure, tool_judged_input, write_manifest, failure_cause, database_listing_sql, parse_database_listing,
    parse_table_stats, table_stats_sql)
from ansible_collections.maverick.rollback.plugins.module_utils._pg_runner import PgOps, Runner, pgpass_line
from ansible_collections.maverick.rollback.plugins.module_utils._rules import (
    MASK, is_derived_db, mask_text, parse_backup_name)

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pg"
REAL_PG_RESTORE = shutil.which("pg_restore")
needs_pg_restore = pytest.mark.skipif(not REAL_PG_RESTORE, reason="pg_restore (PostgreSQL client) not installed")

HOST = {"via": "host", "host": "127.0.0.1", "port": 5433, "user": "lifetracker", "password": "s3cret-Canary",
        "database": "lifetracker", "project_dir": "/opt/lifetracker", "service": "postgres", "project": None,
        "maintenance_db": "postgres"}
COMPOSE = dict(HOST, via="compose")
COMPOSE_P = dict(COMPOSE, project="mr-dev")


# --------------------------------------------------------------------------- .env + connection

ENV_CASES = [
    ("plain", "POSTGRES_USER=lifetracker\nPOSTGRES_DB=lt\n", {"POSTGRES_USER": "lifetracker", "POSTGRES_DB": "lt"}),
    ("comments-blank", "# c\n\nA=1\n  # x\n", {"A": "1"}),
    ("export", "export A=1\n", {"A": "1"}),
    ("double-quoted", 'A="x y # z"\n', {"A": "x y # z"}),
    ("single-quoted", "A='p@ss:w=rd'\n", {"A": "p@ss:w=rd"}),
    ("inline-comment", "A=value # comment\n", {"A": "value"}),
    ("hash-in-value", "A=pa#ss\n", {"A": "pa#ss"}),
    ("equals-in-value", "A=a=b\n", {"A": "a=b"}),
    ("no-equals", "JUNK\nB=2\n", {"B": "2"}),
    ("bad-key", "1A=x\nB-C=y\n", {}),
    ("empty-value", "A=\n", {"A": ""}),
    ("crlf", "A=1\r\nB=2\r\n", {"A": "1", "B": "2"}),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in ENV_CASES], ids=[c[0] for c in ENV_CASES])
def test_parse_env_file(text, expected):
    assert parse_env_file(text) == expected


# --------------------------------------------------------------------------- masking, messages

MASK_CASES = [
    ("secret", "auth failed for pw s3cret", ["s3cret"], "auth failed for pw " + MASK),
    ("uri", "postgresql://lt:hunter2@db:5432/lt", [], "postgresql://lt:%s@db:5432/lt" % MASK),
    ("kv", "PGPASSWORD=hunter2 password: x", [], "PGPASSWORD=%s password: %s" % (MASK, MASK)),
    ("longest-first", "abcdef", ["abc", "abcdef"], MASK),
    ("empty-secret-ignored", "text", ["", None], "text"),
    ("none", None, ["x"], ""),
]


@pytest.mark.parametrize("text,secrets,expected", [c[1:] for c in MASK_CASES], ids=[c[0] for c in MASK_CASES])
def test_mask(text, secrets, expected):
    assert mask_text(text, secrets) == expected


@pytest.mark.parametrize("rc,expected", [
    (1, "exit code 1"), (-9, "killed by signal 9"), (137, "exit code 137 (killed by signal 9)"), (None, "no exit code"),
])
def test_describe_exit(rc, expected):
    assert describe_exit(rc) == expected


def test_tool_failure_from_captured_stderr():
    err = (FIX / "pg_dump_auth.err").read_text()
    msg = tool_failure("pg_dump (host, 127.0.0.1:25710)", 1, err + "\nDETAIL: password=fixpw-Canary9\n",
                       ["fixpw-Canary9"])
    assert msg.startswith("pg_dump (host, 127.0.0.1:25710) failed (exit code 1): authentication failed for user fix "
                          "(the password from login_password or the env file is not the server's): pg_dump: error: "
                          "connection")
    assert "password authentication failed" in msg and "fixpw-Canary9" not in msg


@pytest.mark.parametrize("fixture,cause,reason", [
    ("pg_dump_auth.err", "authentication failed for user fix", 'FATAL:  password authentication failed for user "fix"'),
    ("pg_dump_nodb.err", "database nosuchdb does not exist on the server", 'FATAL:  database "nosuchdb" does not exist'),
])
def test_tool_failure_names_the_real_reason(fixture, cause, reason):
    msg = tool_failure("pg_dump (host, 127.0.0.1:25710)", 1, (FIX / fixture).read_text())
    assert msg.endswith(reason) and "(exit code 1): %s" % cause in msg and ": pg_dump: error: connection to server" in msg


# (id, stderr as the tool or docker prints it, cause, the message's first words)
CAUSE_CASES = [
    ("compose-stopped", 'service "postgres" is not running\n', "not_running",
     "the compose service postgres is not running (docker compose ps; start it with docker compose up -d postgres)"),
    ("compose-stopped-old", 'service "db" is not running container #1\n', "not_running",
     "the compose service db is not running"),
    ("no-daemon", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
     "docker_daemon", "the docker daemon does not answer (systemctl start docker)"),
    ("docker-perm", "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock",
     "docker_permission", "this user may not use docker"),
    ("no-compose", "docker: 'compose' is not a docker command.\nSee 'docker --help'\n", "no_compose",
     "docker compose v2 is not installed (apt-get install docker-compose-plugin)"),
    ("no-tool-in-container", 'OCI runtime exec failed: exec failed: unable to start container process: exec: '
     '"pg_restore": executable file not found in $PATH: unknown\n', "no_tool_in_container",
     "pg_restore is not installed in the compose service's container"),
    ("auth", 'psql: error: connection to server at "127.0.0.1", port 5433 failed: FATAL:  password authentication '
     'failed for user "lifetracker"\n', "auth", "authentication failed for user lifetracker"),
    ("no-password", 'psql: error: connection to server at "127.0.0.1", port 5433 failed: fe_sendauth: no password '
     'supplied\n', "no_password", "the server asks for a password and none was given"),
    ("refused", 'psql: error: connection to server at "127.0.0.1", port 1 failed: Connection refused\n\tIs the server '
     'running on that host and accepting TCP/IP connections?\n', "refused", "nothing listens at 127.0.0.1:1 "
     "(connection refused)"),
    ("socket", 'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: No such file '
     'or directory\n', "no_socket", "no PostgreSQL server on the local socket /var/run/postgresql/.s.PGSQL.5432"),
    ("no-role", 'psql: error: connection to server on socket "/x" failed: FATAL:  role "bob" does not exist\n',
     "no_role", "database user bob does not exist on the server"),
    ("unknown-host", 'psql: error: could not translate host name "db" to address: Name or service not known\n',
     "host_unknown", "unknown database host db (login_host)"),
    ("timeout", 'psql: error: connection to server at "10.0.0.1", port 5433 failed: timeout expired\n', "timeout",
     "the database server did not answer in time"),
    ("missing-table", 'ERROR:  relation "_prisma_migrations" does not exist\nLINE 1: SELECT ...\n', "missing_table",
     "table _prisma_migrations does not exist"),
    ("corrupt-archive", "pg_restore: error: could not read from input file: end of file\n", None, ""),
    # fault 9: a tool that cannot start, a container that is not there to run it
    ("no-libpq", "/usr/lib/postgresql/15/bin/psql: error while loading shared libraries: libpq.so.5: cannot open "
     "shared object file: No such file or directory\n", "no_library",
     "psql cannot start: the shared library libpq.so.5 is missing on the server"),
    ("no-python-module", "Traceback (most recent call last):\nModuleNotFoundError: No module named 'psycopg2'\n",
     "no_python_module", "the Python module psycopg2 is missing on the server (a library, not the database"),
    ("paused", "Error response from daemon: Container 88dfd599f6c1 is paused, unpause the container before exec\n",
     "container_paused", "the database container 88dfd599f6c1 is paused (docker unpause 88dfd599f6c1)"),
    ("restarting", "Error response from daemon: Container 88df is restarting, wait until the container is running\n",
     "container_restarting", "the database container 88df is restarting"),
    ("daemon-not-running", "Error response from daemon: container 88df is not running\n", "container_stopped",
     "the database container 88df is not running"),
    ("starting-up", 'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  '
     "the database system is starting up\n", "db_starting", "the database server is starting up (wait for it"),
]


@pytest.mark.parametrize("tool,stderr,judged", [
    ("pg_restore", "pg_restore: error: could not read from input file: end of file\n", True),
    ("pg_restore", "pg_restore: [archiver] did not find magic string in file header\n", True),
    ("pg_restore", "/usr/bin/pg_restore: error: input file does not appear to be a valid archive\n", True),
    ("pg_restore", "pg_restore: error while loading shared libraries: libpq.so.5: cannot open shared object\n", False),
    ("pg_restore", 'service "postgres" is not running\n', False),
    ("pg_restore", "Error response from daemon: Container 88df is paused, unpause the container before exec\n", False),
    ("pg_restore", "", False),
])
def test_tool_judged_input(tool, stderr, judged):
    """Only the tool's own error about its input makes a backup 'truncated or corrupt?'."""
    assert tool_judged_input(tool, stderr) is judged


@pytest.mark.parametrize("stderr,cause,words", [c[1:] for c in CAUSE_CASES], ids=[c[0] for c in CAUSE_CASES])
def test_failure_cause(stderr, cause, words):
    found, message = failure_cause(stderr)
    assert found == cause and message.startswith(words)
    msg = tool_failure("psql", 1, stderr)
    assert msg.startswith("psql failed (exit code 1): " + (words or "pg_restore: error"))


def test_tool_failure_keeps_last_lines():
    msg = tool_failure("psql", 3, "\n".join("line %d" % i for i in range(40)))
    assert "line 39" in msg and "line 31" not in msg and "line 32" in msg


# --------------------------------------------------------------------------- names

WHEN = datetime.datetime(2026, 1, 5, 3, 15, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("args,expected", [
    (("lifetracker", "lifetracker", WHEN, "B65522E1BAB699CD5A9A58211CF8067BB51B2527"),
     "lifetracker_lifetracker_20260105T031500Z_b65522e1bab6.dump"),
    (("app", "db", WHEN, "abc1234"), "app_db_20260105T031500Z_abc1234.dump"),
    (("app", "db", WHEN, ""), "app_db_20260105T031500Z_unknown.dump"),
    (("app", "db", WHEN, "abc1234", 2), "app_db_20260105T031500Z_abc1234-2.dump"),
    (("app", "db", WHEN.astimezone(datetime.timezone(datetime.timedelta(hours=2))), "abcd"),
     "app_db_20260105T031500Z_abcd.dump"),
])
def test_backup_name(args, expected):
    assert backup_name(*args) == expected
    fields = parse_backup_name(expected, args[0], args[1])
    assert fields["stamp"] == "20260105T031500Z" and fields["seq"] == (args[4] if len(args) > 4 else 0)


@pytest.mark.parametrize("name,app,db,ok", [
    ("app_db_20260105T031500Z_abc1234.dump", "app", "db", True),
    ("app_db_20260105T031500Z_unknown-3.dump", "app", "db", True),
    ("app_db_20260105T031500Z_abc1234.dump.json", "app", "db", False),
    (".app_db_20260105T031500Z_abc1234.dump.partial-42", "app", "db", False),
    ("app_db_x_20260105T031500Z_abc1234.dump", "app", "db", False),
    ("other_db_20260105T031500Z_abc1234.dump", "app", "db", False),
    ("app_db_20260105_031500_abc1234.dump", "app", "db", False),
    ("app_my_db_20260105T031500Z_abc1234.dump", "app", "my_db", True),
])
def test_parse_backup_name(name, app, db, ok):
    """A backup's own name (a manifest's name parses to its backup's name, not to itself)."""
    fields = parse_backup_name(name, app, db)
    assert (fields is not None and fields["name"] == name) is ok


def test_short_commit_rejects_non_sha():
    with pytest.raises(PgError, match="not a git SHA"):
        short_commit("main; rm -rf /")


@pytest.mark.parametrize("name,problem", [
    ("lifetracker", ""), ("life_tracker-2", ""), ("", "empty"), ("9db", "no leading digit"),
    ("a b", "letters"), ("x=y", "letters"), ("a" * 64, "longer than 63"), ('a"b', "letters"), ("a$b", "letters"),
])
def test_check_db_name(name, problem):
    got = check_db_name(name)
    assert (problem in got) if problem else got == ""


@pytest.mark.parametrize("name,ok", [("lifetracker", True), ("life.tracker-2", True), ("life_tracker", False),
                                     ("", False), ("-x", False), ("a" * 64, True), ("a" * 65, False)])
def test_check_app_name(name, ok):
    assert (check_app_name(name) == "") is ok


def test_derived_db_names():
    assert derived_db_name("lifetracker", "restore", WHEN) == "lifetracker_restore_20260105031500"
    assert derived_db_name("lifetracker", "pre_restore", WHEN) == "lifetracker_pre_restore_20260105031500"
    with pytest.raises(PgError, match="longer than 63"):
        derived_db_name("d" * 40, "pre_restore", WHEN)


@pytest.mark.parametrize("name,ok", [
    ("lt_restore_20260105031500", True), ("lt_pre_restore_20260105031500", True), ("lt_verify_20260105031500", True),
    ("lt", False), ("lt_restore_x", False), ("other_restore_20260105031500", False), ("lt_restore_2026010503150", False),
])
def test_is_derived_db(name, ok):
    assert is_derived_db(name, "lt") is ok


# --------------------------------------------------------------------------- retention

def b(stamp, verified=True, seq=0):
    return {"path": "/b/%s-%d" % (stamp, seq), "stamp": stamp, "seq": seq, "verified": verified}


RETENTION_CASES = [
    # (id, backups, keep, protect, expected removed paths)
    ("keep-0-keeps-all", [b("1"), b("2"), b("3")], 0, [], []),
    ("keep-2", [b("1"), b("2"), b("3"), b("4")], 2, [], ["/b/1-0", "/b/2-0"]),
    ("keep-more-than-there", [b("1")], 5, [], []),
    ("newest-verified-kept", [b("1"), b("2", False), b("3", False)], 2, [], []),
    ("newest-verified-kept-only-it", [b("1"), b("2"), b("3", False), b("4", False)], 2, [], ["/b/1-0"]),
    ("protected", [b("1"), b("2"), b("3")], 1, ["/b/1-0"], ["/b/2-0"]),
    ("seq-orders-same-second", [b("1", seq=0), b("1", seq=1), b("1", seq=2)], 1, [], ["/b/1-0", "/b/1-1"]),
    ("unordered-input", [b("3"), b("1"), b("2")], 1, [], ["/b/1-0", "/b/2-0"]),
    ("nothing", [], 3, [], []),
]


@pytest.mark.parametrize("backups,keep,protect,expected", [c[1:] for c in RETENTION_CASES],
                         ids=[c[0] for c in RETENTION_CASES])
def test_select_for_removal(backups, keep, protect, expected):
    assert select_for_removal(backups, keep, protect) == expected


# --------------------------------------------------------------------------- argv (CmdRunner-style table)

ARGV_CASES = [
    ("dump-custom-host", pg_dump_argv, (HOST, "lifetracker"), {},
     ["pg_dump", "-h", "127.0.0.1", "-p", "5433", "-U", "lifetracker", "-w", "-Fc", "-Z0", "--dbname=lifetracker"]),
    ("dump-custom-compose-z6", pg_dump_argv, (COMPOSE, "lt"), {"compress": 6},
     ["pg_dump", "-U", "lifetracker", "-w", "-Fc", "-Z6", "--dbname=lt"]),
    ("dump-directory", pg_dump_argv, (HOST, "lt"), {"fmt": "directory", "jobs": 4, "out": "/b/.x"},
     ["pg_dump", "-h", "127.0.0.1", "-p", "5433", "-U", "lifetracker", "-w", "-Fd", "-j", "4", "-Z0", "-f", "/b/.x",
      "--dbname=lt"]),
    ("restore-path-jobs", pg_restore_argv, (HOST, "lt_restore_1"), {"jobs": 4, "src": "/b/x.dump"},
     ["pg_restore", "-h", "127.0.0.1", "-p", "5433", "-U", "lifetracker", "-w", "--exit-on-error", "--no-owner",
      "-j", "4", "--dbname=lt_restore_1", "/b/x.dump"]),
    ("restore-stdin-no-jobs", pg_restore_argv, (COMPOSE, "lt"), {"jobs": 4, "no_privileges": True},
     ["pg_restore", "-U", "lifetracker", "-w", "--exit-on-error", "--no-owner", "--no-privileges", "--dbname=lt"]),
    ("restore-keep-owner", pg_restore_argv, (COMPOSE, "lt"), {"no_owner": False},
     ["pg_restore", "-U", "lifetracker", "-w", "--exit-on-error", "--dbname=lt"]),
    ("list-path", pg_restore_list_argv, ("/b/x.dump",), {}, ["pg_restore", "--list", "/b/x.dump"]),
    ("list-stdin", pg_restore_list_argv, (), {}, ["pg_restore", "--list"]),
    ("read-all", pg_restore_read_argv, (), {}, ["pg_restore", "-f", "/dev/null"]),
    ("psql-plain-restore", psql_argv, (COMPOSE, "lt_restore_1"), {"single_transaction": True},
     ["psql", "-U", "lifetracker", "-w", "-X", "-v", "ON_ERROR_STOP=1", "--single-transaction",
      "--dbname=lt_restore_1", "-f", "-"]),
    ("psql-query", psql_argv, (HOST, "postgres"), {"tuples": True},
     ["psql", "-h", "127.0.0.1", "-p", "5433", "-U", "lifetracker", "-w", "-X", "-v", "ON_ERROR_STOP=1",
      "-A", "-t", "-q", "-F", "\t", "--dbname=postgres", "-f", "-"]),
    ("psql-no-stop", psql_argv, (COMPOSE, "postgres"), {"tuples": True, "stop_on_error": False},
     ["psql", "-U", "lifetracker", "-w", "-X", "-v", "ON_ERROR_STOP=0", "-A", "-t", "-q", "-F", "\t",
      "--dbname=postgres", "-f", "-"]),
    ("compose-prefix", compose_prefix, ("/usr/bin/docker", COMPOSE_P, ["PGPASSWORD"], {"LC_ALL": "C"}), {},
     ["/usr/bin/docker", "compose", "--project-directory", "/opt/lifetracker", "--project-name", "mr-dev", "exec", "-T",
      "-e", "LC_ALL=C", "-e", "PGPASSWORD", "postgres"]),
    ("compose-prefix-no-project", compose_prefix, ("docker", COMPOSE), {},
     ["docker", "compose", "--project-directory", "/opt/lifetracker", "exec", "-T", "postgres"]),
]


@pytest.mark.parametrize("builder,args,kwargs,expected", [c[1:] for c in ARGV_CASES], ids=[c[0] for c in ARGV_CASES])
def test_argv(builder, args, kwargs, expected):
    argv = builder(*args, **kwargs)
    assert argv == expected
    assert "s3cret-Canary" not in " ".join(argv)


def test_pg_dump_argv_refuses_unknown_format():
    with pytest.raises(PgError):
        pg_dump_argv(HOST, "lt", fmt="plain")


# --------------------------------------------------------------------------- SQL builders

@pytest.mark.parametrize("name,like,expected", [
    ("lt_restore_1", None, 'CREATE DATABASE "lt_restore_1";\n'),
    ("x", {"owner": "lifetracker", "encoding_name": "UTF8", "datcollate": "en_US.utf8", "datctype": "en_US.utf8",
           "datlocprovider": "c"},
     "CREATE DATABASE \"x\" WITH TEMPLATE template0 OWNER \"lifetracker\" ENCODING 'UTF8' "
     "LC_COLLATE 'en_US.utf8' LC_CTYPE 'en_US.utf8';\n"),
    ("x", {"owner": "o", "encoding_name": "UTF8", "datcollate": "C", "datctype": "C", "datlocprovider": "i",
           "daticulocale": "und"},
     "CREATE DATABASE \"x\" WITH TEMPLATE template0 OWNER \"o\" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' "
     "LOCALE_PROVIDER icu ICU_LOCALE 'und';\n"),
    ("x", {"owner": 'we"ird'}, 'CREATE DATABASE "x" WITH TEMPLATE template0 OWNER "we""ird";\n'),
])
def test_create_database_sql(name, like, expected):
    assert create_database_sql(name, like) == expected


@pytest.mark.parametrize("num,expected", [
    (150018, 'DROP DATABASE IF EXISTS "x" WITH (FORCE);\n'), (120000, 'DROP DATABASE IF EXISTS "x";\n')])
def test_drop_database_sql(num, expected):
    assert drop_database_sql("x", num) == expected


def test_terminate_sql_waits_on_14_plus():
    assert "pg_terminate_backend(pid, 5000)" in terminate_sql(["a"], server_num=150000)
    assert "pg_terminate_backend(pid)" in terminate_sql(["a"], server_num=130000)


def test_quoting():
    assert quote_ident('a"b') == '"a""b"' and quote_literal("it's") == "'it''s'"


def test_swap_script_shape():
    sql = swap_script("lt", "lt_restore_1", "lt_pre_restore_1")
    first_allow = sql.index("ALLOW_CONNECTIONS false")
    do_block = sql.index("DO $swap$")
    enable = sql.index("ALLOW_CONNECTIONS true")
    state = sql.index("'maverick-swap-state:'")
    assert first_allow < do_block < enable < state
    assert "EXECUTE 'ALTER DATABASE \"lt\" RENAME TO \"lt_pre_restore_1\"'" in sql
    assert "EXECUTE 'ALTER DATABASE \"lt_restore_1\" RENAME TO \"lt\"'" in sql
    assert sql.count("\\gexec") == 3
    # a killed psql ends the session (PG 14+) before the retries end the app's sessions again
    assert sql.index("client_connection_check_interval") < first_allow
    assert "server_version_num')::int >= 140000" in sql


SWAP_OUTPUT_CASES = [
    ("swapped", "maverick-swap-state:lt\nmaverick-swap-state:lt_pre\n", "", ({"lt", "lt_pre"}, "")),
    ("failed-warning", "maverick-swap-state:lt\nmaverick-swap-state:lt_r\n",
     'psql:<stdin>:40: WARNING:  maverick-swap-failed: database "lt" is being accessed by other users\n',
     ({"lt", "lt_r"}, 'database "lt" is being accessed by other users')),
    ("plain-error", "", "psql:<stdin>:1: ERROR:  must be owner of database lt\n",
     (set(), "must be owner of database lt")),
]


@pytest.mark.parametrize("out,err,expected", [c[1:] for c in SWAP_OUTPUT_CASES], ids=[c[0] for c in SWAP_OUTPUT_CASES])
def test_parse_swap_output(out, err, expected):
    assert parse_swap_output(out, err) == expected


# --------------------------------------------------------------------------- parsers

def test_parse_toc_custom_fixture():
    toc = parse_toc((FIX / "list_custom.txt").read_text())
    assert toc["toc_entries"] == 23 and toc["listed"] == 19
    assert toc["format"] == "custom" and toc["compression"] == "0"
    assert toc["server_version"].startswith("15.18") and toc["pg_dump_version"].startswith("15.18")
    assert toc["table_count"] == 3 and toc["tables"] == ["public.Entry", "public.Tag", "public.notes"]
    assert toc["types"] == {"TABLE": 3, "SEQUENCE": 2, "SEQUENCE OWNED BY": 2, "DEFAULT": 2, "TABLE DATA": 3,
                            "SEQUENCE SET": 2, "CONSTRAINT": 4, "INDEX": 1}


def test_parse_toc_tar_fixture():
    toc = parse_toc((FIX / "list_tar.txt").read_text())
    assert toc["format"] == "tar" and toc["table_count"] == 3


@pytest.mark.parametrize("line,kind", [
    ("1; 0 0 ENCODING - ENCODING ", "ENCODING"),
    ("5; 2615 2200 SCHEMA - public pg_database_owner", "SCHEMA"),
    ("3361; 0 16386 TABLE DATA public Entry fix", "TABLE DATA"),
    ("3371; 0 0 SEQUENCE OWNED BY public Entry_id_seq fix", "SEQUENCE OWNED BY"),
    ("230; 1259 16500 MATERIALIZED VIEW public mv fix", "MATERIALIZED VIEW"),
    ("3400; 0 16500 MATERIALIZED VIEW DATA public mv fix", "MATERIALIZED VIEW DATA"),
    ("3401; 2606 16600 FK CONSTRAINT public Tag fk fix", "FK CONSTRAINT"),
    ("3402; 0 0 ACL - SCHEMA public pg_database_owner", "ACL"),
])
def test_parse_toc_types(line, kind):
    assert parse_toc(line)["types"] == {kind: 1}


def test_parse_toc_rejects_noise():
    with pytest.raises(PgError, match="no table of contents"):
        parse_toc("pg_restore: warning: something\n")


@pytest.mark.parametrize("text,version", [
    ("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", "15.18"),
    ("pg_restore (PostgreSQL) 16.4\n", "16.4"), ("pg_dump (PostgreSQL) 17devel\n", "17devel"), ("", None),
])
def test_parse_tool_version(text, version):
    assert parse_tool_version(text) == version


@pytest.mark.parametrize("text,version,major", [
    ("pg_dump (PostgreSQL) 18devel\n", "18devel", 18),
    ("pg_dump (PostgreSQL) 17beta1\n", "17beta1", 17),
    ("pg_dump (PostgreSQL) 17rc1\n", "17rc1", 17),
    ("pg_dump (PostgreSQL) 16.2 (Debian 16.2-1)\n", "16.2", 16),
    ("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", "15.18", 15),
    ("pg_dump (PostgreSQL) 9.6.24\n", "9.6.24", 9),
    ("pg_dump (PostgreSQL) 17\n", "17", 17),
    ("pg_dump (PostgreSQL) 14.1 (Ubuntu 14.1-1.pgdg20.04+1)\n", "14.1", 14),
    ("garbage\n", None, None),
])
def test_tool_versions_of_every_shape(text, version, major):
    """Fault 10: a development, beta or distribution version string never raises."""
    assert parse_tool_version(text) == version
    assert major_version(version) == major


def test_parse_tool_version_fixture():
    assert parse_tool_version((FIX / "pg_dump_version.txt").read_text()) == "15.18"


def test_count_command_tags_from_real_psql_output():
    objects, rows = count_command_tags((FIX / "psql_restore.out").read_text().splitlines())
    assert objects == {"CREATE TABLE": 3, "ALTER TABLE": 11, "CREATE SEQUENCE": 2, "ALTER SEQUENCE": 2, "COPY": 3,
                       "CREATE INDEX": 1}
    assert rows == 35


def test_parse_row_counts():
    assert parse_row_counts('public."Entry"\t25\npublic.notes\t7\n\nnoise\n') == {'public."Entry"': 25,
                                                                                  "public.notes": 7}


ROWS_CASES = [
    ("equal", {"t": 5}, {"t": 5}, None, []),
    ("between-before-after", {"t": 5}, {"t": 6}, {"t": 8}, []),
    ("below", {"t": 5}, {"t": 4}, {"t": 8}, ["t: restored 4 rows, live 5..8"]),
    ("missing-table", {"t": 5, "u": 1}, {"t": 5}, None, ["u: missing from the restored copy"]),
    ("extra-table", {}, {"x": 1}, None, ["x: not in the live database"]),
    ("new-table-during-dump", {}, {"x": 0}, {"x": 0}, []),
]


@pytest.mark.parametrize("before,restored,after,expected", [c[1:] for c in ROWS_CASES], ids=[c[0] for c in ROWS_CASES])
def test_compare_row_counts(before, restored, after, expected):
    assert compare_row_counts(before, restored, after) == expected


# --------------------------------------------------------------------------- formats (real files)

@pytest.mark.parametrize("head,kind", [
    (b"", "empty"), (b"PGDMP\x01\x0e", "custom"), (b"\x1f\x8b\x08", "gzip"), (b"--\n-- PostgreSQL", "plain"),
    (b"\x00\x01\x02", "unknown"), (b"\xff\xfe\xfa garbage", "unknown"), (b"x" * 257 + b"ustar\x0000", "tar"),
    (b"SELECT 1; -- caf\xc3", "plain"),  # a multi-byte character cut at the end of the sample
])
def test_sniff(head, kind):
    assert sniff(head) == kind


DETECT_CASES = [
    # (fixture, format, compression) or (fixture, None, error substring)
    ("custom.dump", "custom", None),
    ("custom.dump.gz", "custom", "gzip"),
    ("plain.sql", "plain", None),
    ("plain.sql.gz", "plain", "gzip"),
    ("dir.dump", "directory", None),
    ("tar.dump", "tar", None),
    ("truncated.dump", "custom", None),  # only pg_restore can tell (see test_archive_checks)
    ("empty.dump", None, "is empty (0 bytes)"),
    ("truncated.sql", None, "truncated: pg_dump's last line"),
    ("truncated.sql.gz", None, "is truncated (ends before the gzip trailer)"),
    ("notadump.bin", None, "is not a PostgreSQL dump"),
    ("create.sql", None, "creates or connects to its own database"),
    ("missing.dump", None, "does not exist"),
]


@pytest.mark.parametrize("name,fmt,extra", DETECT_CASES, ids=[c[0] for c in DETECT_CASES])
def test_detect_format(name, fmt, extra):
    path = str(FIX / name)
    if fmt is None:
        with pytest.raises(PgError, match=extra.replace("(", r"\(").replace(")", r"\)")):
            detect_format(path)
    else:
        info = detect_format(path)
        assert (info["format"], info["compression"]) == (fmt, extra)
        assert info["size"] > 0


@pytest.mark.parametrize("content,error", [
    (b"   \n\n", "only whitespace"),
    (b"-- PostgreSQL database cluster dump\n\\connect x\n", "pg_dumpall"),
    (b"CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n", None),  # hand-written SQL is fine
    (b"PGDMP", "a custom-format header alone"),
])
def test_detect_format_edge_files(tmp_path, content, error):
    path = tmp_path / "x"
    path.write_bytes(content)
    if error:
        with pytest.raises(PgError, match=error):
            detect_format(str(path))
    else:
        assert detect_format(str(path))["format"] == "plain"


def test_detect_format_directory_without_toc(tmp_path):
    with pytest.raises(PgError, match="without toc.dat"):
        detect_format(str(tmp_path))


def test_detect_format_gzip_of_empty(tmp_path):
    path = tmp_path / "e.gz"
    path.write_bytes(gzip.compress(b""))
    with pytest.raises(PgError, match="decompresses to nothing"):
        detect_format(str(path))


PLAN_CASES = [
    # (via, format, compression, jobs) -> (tool, feed, gunzip, jobs used, note?)
    (("host", "custom", None, 4), ("pg_restore", "path", False, 4, False)),
    (("host", "directory", None, 4), ("pg_restore", "path", False, 4, False)),
    (("host", "tar", None, 4), ("pg_restore", "path", False, 1, True)),
    (("host", "custom", "gzip", 4), ("pg_restore", "stdin", True, 1, True)),
    (("compose", "custom", None, 4), ("pg_restore", "stdin", False, 1, True)),
    (("compose", "custom", None, 1), ("pg_restore", "stdin", False, 1, False)),
    (("compose", "plain", "gzip", 1), ("psql", "stdin", True, 1, False)),
    (("host", "plain", None, 2), ("psql", "stdin", False, 1, True)),
]


@pytest.mark.parametrize("args,expected", PLAN_CASES, ids=["-".join(str(a) for a in c[0]) for c in PLAN_CASES])
def test_restore_plan(args, expected):
    plan = restore_plan(*args)
    assert (plan["tool"], plan["feed"], plan["gunzip"], plan["jobs"], bool(plan["note"])) == expected


def test_restore_plan_directory_needs_host():
    with pytest.raises(PgError, match="via: host"):
        restore_plan("compose", "directory", None, 2)


# --------------------------------------------------------------------------- files, manifest

def test_sha256_path_file_and_directory():
    data = (FIX / "custom.dump").read_bytes()
    assert sha256_path(str(FIX / "custom.dump")) == hashlib.sha256(data).hexdigest()
    listing = "".join("%s  %s\n" % (hashlib.sha256((FIX / "dir.dump" / n).read_bytes()).hexdigest(), n)
                      for n in sorted(os.listdir(FIX / "dir.dump")))
    assert sha256_path(str(FIX / "dir.dump")) == hashlib.sha256(listing.encode()).hexdigest()


def test_manifest_roundtrip_is_private(tmp_path):
    backup = tmp_path / "a.dump"
    backup.write_bytes(b"PGDMP")
    manifest = build_manifest(app="a", sha256="0" * 64, size=5, created_at="2026-01-05T03:15:00Z")
    write_manifest(str(backup) + ".json", manifest)
    assert stat.S_IMODE(os.stat(str(backup) + ".json").st_mode) == 0o600
    got = read_manifest(str(backup))
    assert got["sha256"] == "0" * 64 and got["manifest_version"] == 1 and got["verified"] is None
    assert list(got)[:3] == ["app", "database", "path"]
    assert [p.name for p in tmp_path.iterdir()] == ["a.dump", "a.dump.json"] or \
        sorted(p.name for p in tmp_path.iterdir()) == ["a.dump", "a.dump.json"]


@pytest.mark.parametrize("content,error", [("{not json", "unreadable"), ('{"sha256": "xyz"}', "no valid sha256"),
                                           ("[]", "no valid sha256")])
def test_read_manifest_refuses_bad_ones(tmp_path, content, error):
    (tmp_path / "a.dump.json").write_text(content)
    with pytest.raises(PgError, match=error):
        read_manifest(str(tmp_path / "a.dump"))


def test_read_manifest_none_when_absent(tmp_path):
    assert read_manifest(str(tmp_path / "a.dump")) is None


def test_fixture_manifest_matches_fixture():
    assert read_manifest(str(FIX / "with_manifest.dump"))["sha256"] == sha256_path(str(FIX / "with_manifest.dump"))


@pytest.mark.parametrize("text,ok", [("2026-01-05T03:15:00Z", True), ("2026-01-05", False), ("", False), (None, False)])
def test_parse_iso(text, ok):
    assert (parse_iso(text) is not None) is ok


@pytest.mark.parametrize("password,line", [("simple", "*:*:*:*:simple\n"), ("a:b\\c", "*:*:*:*:a\\:b\\\\c\n")])
def test_pgpass_line(password, line):
    assert pgpass_line(password) == line


# --------------------------------------------------------------------------- Runner with real processes

def sh_runner(conn=None, **kw):
    """A host-mode Runner whose 'tools' resolve to real binaries (sh, cat ...)."""
    return Runner(conn or dict(HOST), which=shutil.which, secrets=["s3cret-Canary"], **kw)


def test_runner_host_password_goes_to_private_pgpass():
    runner = sh_runner()
    try:
        passfile = runner.env["PGPASSFILE"]
        assert stat.S_IMODE(os.stat(passfile).st_mode) == 0o600
        assert "s3cret-Canary" in Path(passfile).read_text()
        assert "PGPASSWORD" not in runner.env and runner.env["LC_ALL"] == "C"
        out = runner.check(["sh", "-c", 'echo "$PGPASSFILE"'])
        assert out.strip() == passfile
    finally:
        runner.close()
    assert not os.path.exists(passfile)


def test_runner_compose_passes_password_by_name_only():
    runner = Runner(dict(COMPOSE), docker="/usr/bin/docker", secrets=["s3cret-Canary"])
    try:
        argv = runner.full_argv(["pg_dump", "-U", "lifetracker", "--dbname=lt"])
        assert argv[:8] == ["/usr/bin/docker", "compose", "--project-directory", "/opt/lifetracker", "exec", "-T",
                            "-e", "LC_ALL=C"]
        assert "PGPASSWORD" in argv and not any("s3cret" in a for a in argv)
        assert runner.env["PGPASSWORD"] == "s3cret-Canary" and "PGPASSFILE" not in runner.env
    finally:
        runner.close()


def test_runner_compose_needs_docker():
    with pytest.raises(PgError, match="docker CLI"):
        Runner(dict(COMPOSE), docker=None)


def test_runner_host_tool_missing():
    runner = sh_runner()
    try:
        with pytest.raises(PgError, match="not found on the host"):
            runner.full_argv(["no-such-tool-xyz"])
    finally:
        runner.close()


def test_stream_out_hashes_while_writing(tmp_path):
    runner = sh_runner()
    dest = tmp_path / "out.dump"
    try:
        size, digest = runner.stream_out(["sh", "-c", "head -c 5000000 /dev/zero"], str(dest))
    finally:
        runner.close()
    assert size == 5000000 == dest.stat().st_size
    assert digest == hashlib.sha256(b"\0" * 5000000).hexdigest()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


STREAM_FAIL_CASES = [
    ("exit-code", "printf partial; echo 'pg_dump: error: password=s3cret-Canary bad' >&2; exit 3",
     "sh (host, 127.0.0.1:5433) failed (exit code 3): pg_dump: error: password=******** bad (partial file removed)"),
    ("killed", "printf partial; kill -9 $$", "failed (killed by signal 9)"),
]


@pytest.mark.parametrize("script,message", [c[1:] for c in STREAM_FAIL_CASES], ids=[c[0] for c in STREAM_FAIL_CASES])
def test_stream_out_failure_removes_the_file(tmp_path, script, message):
    runner = sh_runner()
    dest = tmp_path / "out.dump"
    try:
        with pytest.raises(PgError) as info:
            runner.stream_out(["sh", "-c", script], str(dest))
    finally:
        runner.close()
    assert message in info.value.msg and "s3cret" not in info.value.msg
    assert list(tmp_path.iterdir()) == []


def test_stream_out_disk_full_kills_tool_and_removes_file(tmp_path, monkeypatch):
    real_write = os.write
    written = {"n": 0}

    def write(fd, data):
        if written["n"] > 2_000_000:
            raise OSError(28, "No space left on device")
        written["n"] += len(data)
        return real_write(fd, data)

    monkeypatch.setattr(_pg_runner.os, "write", write)
    runner = sh_runner()
    dest = tmp_path / "out.dump"
    marker = tmp_path / "tool-finished"
    try:
        with pytest.raises(PgError, match="No space left on device; stopped sh"):
            runner.stream_out(["sh", "-c", "head -c 50000000 /dev/zero; touch %s" % marker], str(dest))
    finally:
        runner.close()
    assert not dest.exists() and not marker.exists()


def test_stream_out_interrupted_by_a_signal_cleans_up(tmp_path):
    """What pg_backup's SIGTERM handler relies on: an exception raised mid-stream removes the file."""
    import signal
    import threading

    class Stop(Exception):
        pass

    def handler(signum, frame):
        raise Stop()

    previous = signal.signal(signal.SIGTERM, handler)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    runner = sh_runner()
    dest = tmp_path / "out.dump"
    marker = tmp_path / "tool-finished"
    try:
        timer.start()
        with pytest.raises(Stop):
            runner.stream_out(["sh", "-c", "printf started; sleep 5; touch %s" % marker], str(dest))
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)
        runner.close()
    assert not dest.exists() and not marker.exists()


def test_stream_out_refuses_existing_destination(tmp_path):
    dest = tmp_path / "out.dump"
    dest.write_bytes(b"good backup")
    runner = sh_runner()
    try:
        with pytest.raises(FileExistsError):
            runner.stream_out(["sh", "-c", "echo x"], str(dest))
    finally:
        runner.close()
    assert dest.read_bytes() == b"good backup"


def test_stream_in_gunzips_on_the_way():
    runner = sh_runner()
    try:
        with runner.stream_in(["sh", "-c", "wc -c"], str(FIX / "plain.sql.gz"), gunzip=True) as out:
            assert int(out.read().decode().strip()) == (FIX / "plain.sql").stat().st_size
    finally:
        runner.close()


def test_stream_in_kills_the_tool_before_eof_on_a_bad_source(tmp_path):
    """A truncated gzip must not reach EOF: psql --single-transaction would COMMIT the part it got."""
    marker = tmp_path / "committed"
    runner = sh_runner()
    try:
        with pytest.raises(PgError, match=r"stopped sh \(host, .*\) before it could commit anything"):
            runner.stream_in(["sh", "-c", "cat >/dev/null && touch %s" % marker], str(FIX / "truncated.sql.gz"),
                             gunzip=True)
    finally:
        runner.close()
    assert not marker.exists()


def test_stream_in_reports_tool_failure():
    runner = sh_runner()
    try:
        with pytest.raises(PgError, match=r"failed \(exit code 3\): psql:<stdin>:34: ERROR"):
            runner.stream_in(["sh", "-c", "head -c 10 >/dev/null; echo 'psql:<stdin>:34: ERROR:  x' >&2; exit 3"],
                             str(FIX / "plain.sql"))
    finally:
        runner.close()


# --------------------------------------------------------------------------- archive checks with real pg_restore

ARCHIVE_CASES = [
    # (fixture, tables or error)
    ("custom.dump", 3),
    ("custom.dump.gz", 3),
    ("tar.dump", 3),
    ("dir.dump", 3),
    ("truncated.dump", "could not read from input file: end of file"),
    ("corrupt.dump", "pg_restore"),
]


@pytest.fixture
def fake_docker(tmp_path):
    """A `docker` that drops `compose ... exec -T [-e ..] postgres` and runs the rest here."""
    path = tmp_path / "docker"
    path.write_text('#!/bin/sh\nwhile [ "$1" != postgres ]; do shift; done\nshift\nexec "$@"\n')
    path.chmod(0o755)
    return str(path)


# A directory archive cannot be streamed on stdin (restore_plan refuses it),
# so it is checked in host mode only.
ARCHIVE_RUNS = [(name, expected, via) for via in ("host", "compose") for name, expected in ARCHIVE_CASES
                if not (via == "compose" and name == "dir.dump")]


@needs_pg_restore
@pytest.mark.parametrize("name,expected,via", ARCHIVE_RUNS, ids=["%s-%s" % (r[2], r[0]) for r in ARCHIVE_RUNS])
def test_archive_checks(name, expected, via, fake_docker):
    """--list then a full read: host mode opens the file, compose mode streams it on stdin."""
    runner = Runner(dict(HOST, via=via), docker=fake_docker, which=shutil.which)
    ops = PgOps(runner)
    path = str(FIX / name)
    info = detect_format(path)
    try:
        if isinstance(expected, int):
            toc = ops.archive_list(path, info)
            ops.archive_read(path, info)
            assert toc["table_count"] == expected
        else:
            with pytest.raises(PgError, match=expected):
                ops.archive_list(path, info)
                ops.archive_read(path, info)
    finally:
        runner.close()


def test_json_of_fixture_manifest_is_what_pg_backup_writes():
    data = json.loads((FIX / "with_manifest.dump.json").read_text())
    assert set(build_manifest()) == set(data)


@pytest.mark.parametrize("database,like", [
    ("lifetracker", "'lifetracker\\_%'"),
    ("life_tracker", "'life\\_tracker\\_%'"),
    ("o'neil", "'o''neil\\_%'"),
])
def test_database_listing_sql_escapes_like_and_quotes(database, like):
    sql = database_listing_sql(database)
    assert sql.endswith("WHERE datname = %s OR datname LIKE %s;\n" % (quote_literal(database), like))
    assert "has_database_privilege(oid, 'CONNECT') THEN pg_database_size(oid)" in sql


def test_parse_database_listing():
    text = ('[{"datname" : "lifetracker", "oid" : "16384", "size" : 7471619, "datallowconn" : true}, '
            '{"datname" : "lifetracker_restore_20260101000000", "oid" : "16385", "size" : null, "datallowconn" : false}]\n')
    rows = parse_database_listing(text, "lifetracker")  # captured from PostgreSQL 15.18
    assert [(r["datname"], r["derived"], r["size"]) for r in rows] == [
        ("lifetracker", False, 7471619), ("lifetracker_restore_20260101000000", True, None)]
    assert parse_database_listing("", "x") == []
    with pytest.raises(PgError, match="unexpected answer to the database listing"):
        parse_database_listing("ERROR", "x")


def test_table_stats_sql_counts_only_under_the_limit():
    sql = table_stats_sql(64 * 1024 * 1024)
    assert "CASE WHEN pg_total_relation_size(c.oid) <= 67108864 THEN" in sql and "indisprimary" in sql
    assert "<= 0 THEN" in table_stats_sql(-5)


@pytest.mark.parametrize("text,expected", [
    ('[{"name": "public.\\"Entry\\"", "bytes": 8192, "estimate": -1, "rows": 5, "pk": ["id"]},'
     ' {"name": "public.big", "bytes": "99", "estimate": 10, "rows": null, "pk": null}, {"bytes": 1}]',
     {'public."Entry"': {"rows": 5, "estimate": -1, "bytes": 8192, "pk": ["id"]},
      "public.big": {"rows": None, "estimate": 10, "bytes": 99, "pk": None}}),
    ("", {}),
    ("[]\n", {}),
])
def test_parse_table_stats(text, expected):
    assert parse_table_stats(text) == expected


@pytest.mark.parametrize("text", ["not json", '{"a": 1}'])
def test_parse_table_stats_refuses_other_answers(text):
    with pytest.raises(PgError, match="table statistics"):
        parse_table_stats(text)


def test_manifest_keeps_the_tables_only_when_given():
    assert "tables" not in build_manifest(app="a")
    manifest = build_manifest(app="a", tables={"public.t": {"rows": 1}}, tables_exact_limit=5)
    assert manifest["tables"] == {"public.t": {"rows": 1}} and manifest["tables_exact_limit"] == 5
