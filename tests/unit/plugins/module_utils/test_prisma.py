"""_prisma: parsers, argv builders, masking and planning, from real Prisma 7.10.1 output.

Fixtures: tests/unit/fixtures/prisma/<case>.{stdout,stderr,rc} (see its README.md).
"""

import json
from pathlib import Path

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils import _prisma as P
from ansible_collections.maverick.rollback.plugins.module_utils._connection import resolve_connection
from ansible_collections.maverick.rollback.plugins.module_utils._dotenv import parse_env_file
from ansible_collections.maverick.rollback.plugins.module_utils._rules import mask_text

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "prisma"
PW = "s3cr3t/p@ss:word"  # needs URL-encoding: / @ :
MOOD = "20250301000000_add_mood_constraint"
INIT = "20250101000000_init"
TAGS = "20250201000000_add_tags"
NEVER = "20991231000000_never_existed"


def case(name):
    """(rc, stdout, stderr) of a captured CLI run."""
    rc = int((FIXTURES / (name + ".rc")).read_text().strip())
    return rc, (FIXTURES / (name + ".stdout")).read_text(), (FIXTURES / (name + ".stderr")).read_text()


def test_every_fixture_is_complete():
    names = {p.stem for p in FIXTURES.glob("*.rc")}
    assert len(names) >= 25
    for name in names:
        assert (FIXTURES / (name + ".stdout")).exists() and (FIXTURES / (name + ".stderr")).exists()


# ------------------------------------------------------------------ migrate status

STATUS_CASES = [
    # case, diagnostic, up_to_date, pending, failed, error code, migrations found
    ("status_up_to_date", "up_to_date", True, [], [], None, 2),
    ("status_after_applied", "up_to_date", True, [], [], None, 3),
    ("status_pending", "pending", False, [MOOD], [], None, 3),
    ("status_rolled_back", "pending", False, [MOOD], [], None, 3),
    ("status_failed", "failed", False, [], [MOOD], None, 3),
    ("status_db_missing", "error", False, [], [], "P1003", None),
    ("status_unreachable", "error", False, [], [], "P1001", None),
    ("status_auth_failed", "error", False, [], [], "P1000", None),
]


@pytest.mark.parametrize("name,diag,up,pending,failed,code,found", STATUS_CASES,
                         ids=[c[0] for c in STATUS_CASES])
def test_parse_status_captured(name, diag, up, pending, failed, code, found):
    st = P.parse_status(*case(name))
    assert st["diagnostic"] == diag
    assert st["up_to_date"] is up
    assert st["pending"] == pending
    assert st["failed"] == failed
    assert (st["error"] or {}).get("code") == code
    assert st["migrations_found"] == found


def test_status_exit_semantics_match_prisma7():
    """0 = up to date; 1 = pending, failed or error: never up to date."""
    for name, diag, up, *_ in STATUS_CASES:
        rc = case(name)[0]
        assert (rc == 0) is up, name


# Shapes the sandbox cannot produce, written from Prisma 7.10.1's own templates
# (cli build, `migrate status`): plural lists, diverged histories, unmanaged databases.
STATUS_SYNTHETIC = [
    ("pending-plural", 1,
     'Datasource "db": x\n\n4 migrations found in prisma/migrations\n'
     "Following migrations have not yet been applied:\n%s\n%s\n\n"
     "To apply migrations in development run prisma migrate dev.\n" % (TAGS, MOOD), "",
     {"diagnostic": "pending", "pending": [TAGS, MOOD], "migrations_found": 4}),
    ("failed-plural", 1, "\n3 migrations found in prisma/migrations\n",
     "Following migrations have failed:\n%s\n%s\n\nDuring development ...\n" % (TAGS, MOOD),
     {"diagnostic": "failed", "failed": [TAGS, MOOD]}),
    ("diverged", 1, "\n2 migrations found in prisma/migrations\n",
     "Your local migration history and the migrations table from your database are different:\n\n"
     "The last common migration is: %s\n\n"
     "The migration have not yet been applied:\n%s\n\n"
     "The migrations from the database are not found locally in prisma/migrations:\n"
     "20250401000000_a\n20250402000000_b" % (INIT, TAGS),
     {"diagnostic": "diverged", "pending": [TAGS], "last_common_migration": INIT,
      "missing_locally": ["20250401000000_a", "20250402000000_b"]}),
    ("not-managed", 1, "\nNo migration found in prisma/migrations\n",
     "The current database is not managed by Prisma Migrate.\n\nRead more ...",
     {"diagnostic": "not_managed", "migrations_found": 0}),
    ("coloured", 0, "\n2 migrations found in prisma/migrations\n\n\x1b[32mDatabase schema is up to date!\x1b[39m\n", "",
     {"diagnostic": "up_to_date", "up_to_date": True}),
    ("generic-error", 1, "",
     "Failed to load config file \"/x\" as a TypeScript/JavaScript module. Error: "
     "PrismaConfigEnvError: Cannot resolve environment variable: DATABASE_URL.\n",
     {"diagnostic": "unknown", "error": None}),
    ("uncoded-error-line", 1, "", "Error: Could not find Prisma Schema\n",
     {"diagnostic": "error", "up_to_date": False}),
]


@pytest.mark.parametrize("rc,out,err,expected", [c[1:] for c in STATUS_SYNTHETIC],
                         ids=[c[0] for c in STATUS_SYNTHETIC])
def test_parse_status_synthetic(rc, out, err, expected):
    st = P.parse_status(rc, out, err)
    for key, value in expected.items():
        assert st[key] == value, key


# ------------------------------------------------------------------ migrate deploy

DEPLOY_CASES = [
    # case, ok, applied, database_created, nothing pending, error code, migration, sqlstate
    ("deploy_ok", True, [INIT, TAGS], True, False, None, None, None),
    ("deploy_no_pending", True, [], False, True, None, None, None),
    ("deploy_p3018", False, [], False, False, "P3018", MOOD, "42703"),
    ("deploy_p3018_rerun", False, [], False, False, "P3018", MOOD, "42701"),
    ("deploy_p3009", False, [], False, False, "P3009", MOOD, None),
]


@pytest.mark.parametrize("name,ok,applied,created,nothing,code,migration,sqlstate", DEPLOY_CASES,
                         ids=[c[0] for c in DEPLOY_CASES])
def test_parse_deploy(name, ok, applied, created, nothing, code, migration, sqlstate):
    d = P.parse_deploy(*case(name))
    assert d["ok"] is ok
    assert d["applied"] == applied
    assert d["database_created"] is created
    assert d["nothing_pending"] is nothing
    err = d["error"] or {}
    assert err.get("code") == code
    assert err.get("migration") == migration
    assert err.get("db_error_code") == sqlstate


def test_p3018_database_error_text():
    err = P.parse_deploy(*case("deploy_p3018"))["error"]
    assert err["db_error"].splitlines() == [
        'ERROR: column "mood_score" does not exist',
        'HINT: Perhaps you meant to reference the column "Entry.mood_note".']
    assert "DbError {" not in err["message"]


def test_p3018_with_position_block_and_ansi():
    """The sandbox app's v4 deploy: a Position block with ANSI bold/red before DbError."""
    err = P.parse_deploy(*case("sandbox_v4_deploy_p3018"))["error"]
    assert err["code"] == "P3018"
    assert err["migration"] == "20250301000000_entry_mood_required"
    assert err["db_error_code"] == "42703"
    assert err["db_error"].splitlines()[0] == 'ERROR: column "mod" does not exist'
    assert "\x1b[" not in err["message"]


# ----------------------------------------------------------------- migrate resolve

RESOLVE_CASES = [
    # case, ok, migration marked, marked as, error code, migration named in the error
    ("resolve_rolled_back_ok", True, MOOD, "rolled_back", None, None),
    ("resolve_rolled_back_again", True, MOOD, "rolled_back", None, None),
    ("resolve_applied_ok", True, MOOD, "applied", None, None),
    ("resolve_p3011", False, None, None, "P3011", NEVER),
    ("resolve_p3012", False, None, None, "P3012", TAGS),
    ("resolve_applied_p3008", False, None, None, "P3008", TAGS),
    ("resolve_applied_p3017", False, None, None, "P3017", NEVER),
]


@pytest.mark.parametrize("name,ok,marked,how,code,err_migration", RESOLVE_CASES,
                         ids=[c[0] for c in RESOLVE_CASES])
def test_parse_resolve(name, ok, marked, how, code, err_migration):
    r = P.parse_resolve(*case(name))
    assert r["ok"] is ok
    assert r["migration"] == marked
    assert r["marked_as"] == how
    assert (r["error"] or {}).get("code") == code
    assert (r["error"] or {}).get("migration") == err_migration


# --------------------------------------------------------------- error messages

EXPLAIN_CASES = [
    # captured case, expected code, substrings the message must hold
    ("deploy_p3009", "P3009", ["a failed migration (%s) blocks deploy" % MOOD,
                               "run playbooks/migration_resolve.yml -e migration=%s -e action=rolled_back" % MOOD,
                               "after reversing its partial changes"]),
    ("deploy_p3018", "P3018", ["migration %s failed (database error 42703: ERROR: column \"mood_score\"" % MOOD,
                               "Reverse those partial changes",
                               "-e migration=%s -e action=rolled_back" % MOOD]),
    ("resolve_p3011", "P3011", ["%s was never applied" % NEVER, "only failed migrations can be rolled back"]),
    ("resolve_p3012", "P3012", ["%s is not in a failed state" % TAGS, "restore the pre-deploy backup"]),
    ("resolve_applied_p3008", "P3008", ["%s is already recorded as applied" % TAGS]),
    ("resolve_applied_p3017", "P3017", ["%s is not in /app/prisma/migrations" % NEVER,
                                        "whole directory name"]),
    ("status_unreachable", "P1001", ["cannot reach the database server at 127.0.0.1:5433",
                                     "docker compose ps postgres"]),
    ("status_auth_failed", "P1000", ["authentication failed for database user 'lifetracker' at 127.0.0.1:5433"]),
    ("status_db_missing", "P1003", ["database 'lifetracker' does not exist on 127.0.0.1:5433",
                                    "state=deployed creates it"]),
]

CONN = {"host": "127.0.0.1", "port": 5433, "user": "lifetracker", "dbname": "lifetracker"}


@pytest.mark.parametrize("name,code,parts", EXPLAIN_CASES, ids=[c[0] for c in EXPLAIN_CASES])
def test_explain_captured_errors(name, code, parts):
    err = P.parse_error(*case(name)[1:])
    assert err["code"] == code
    msg = P.explain_error(err["code"], migration=err["migration"], conn=CONN,
                          migrations_dir="/app/prisma/migrations",
                          db_error_code=err["db_error_code"], db_error=err["db_error"])
    for part in parts:
        assert part in msg


def test_explain_unknown_code_links_reference():
    assert "error-reference#p3999" in P.explain_error("P3999")


def test_failure_message_names_tool_exit_and_last_lines():
    rc, out, err = case("deploy_p3009")
    res = {"rc": rc, "stdout": out, "stderr": err}
    msg = P.failure_message("prisma migrate deploy", res, ("P3009", "explained"))
    assert msg.startswith("prisma migrate deploy failed (exit 1, P3009): explained. Last output lines:\n")
    assert msg.endswith("The `%s` migration started at 2026-11-27 14:55:52.977 UTC failed" % MOOD)
    assert "timed out" in P.failure_message("psql", {"rc": 124, "timed_out": True, "stderr": ""})


# --------------------------------------------------------------- migration names

NAME_CASES = [
    ("20250301000000_entry_mood_required", True),
    ("20250101000000_init", True),
    ("20250101000000_A_b_9", True),
    ("../../etc/passwd", False),
    ("20250301000000_x/../../etc", False),
    ("20250301000000_ok\n", False),
    ("20250301000000_has-dash", False),
    ("20250301000000_has space", False),
    ("20250301000000_", False),
    ("2025030100000_short", False),
    ("init", False),
    ("", False),
    ("20250301000000_x;rm -rf /", False),
]


@pytest.mark.parametrize("name,good", NAME_CASES, ids=[repr(c[0]) for c in NAME_CASES])
def test_validate_migration_name(name, good):
    assert (P.validate_migration_name(name) is None) is good


def test_migration_exists(tmp_path):
    mig = tmp_path / "migrations"
    (mig / MOOD).mkdir(parents=True)
    (mig / "migration_lock.toml").write_text("provider = \"postgresql\"\n")
    (tmp_path / "20250101000000_outside").mkdir()
    assert P.migration_exists(str(mig), MOOD)
    assert not P.migration_exists(str(mig), INIT)
    assert not P.migration_exists(str(mig), "../20250101000000_outside")
    assert not P.migration_exists(str(mig), "migration_lock.toml")
    assert P.list_local_migrations(str(mig)) == [MOOD]
    assert P.list_local_migrations(str(tmp_path / "nope")) == []


def test_default_migrations_dir(tmp_path):
    (tmp_path / "db").mkdir()
    assert P.default_migrations_dir("/p") == "/p/prisma/migrations"
    assert P.default_migrations_dir("/p", "other/schema.prisma") == "/p/other/migrations"
    assert P.default_migrations_dir("/p", str(tmp_path / "db")) == str(tmp_path / "db" / "migrations")


# ------------------------------------------------------------------ argv building

CMD = ["bunx", "--bun", "prisma"]
ARGV_CASES = [
    ("status", {}, CMD + ["migrate", "status"]),
    ("deploy", {}, CMD + ["migrate", "deploy"]),
    ("rolled_back", {"migration": MOOD}, CMD + ["migrate", "resolve", "--rolled-back", MOOD]),
    ("applied", {"migration": MOOD}, CMD + ["migrate", "resolve", "--applied", MOOD]),
    ("status", {"schema": "db/schema.prisma", "config": "p.config.ts"},
     CMD + ["migrate", "status", "--schema", "db/schema.prisma", "--config", "p.config.ts"]),
    ("status", {"command": ["npx", "prisma"]}, ["npx", "prisma", "migrate", "status"]),
]


@pytest.mark.parametrize("action,kwargs,expected", ARGV_CASES)
def test_build_prisma_argv(action, kwargs, expected):
    kwargs = dict(kwargs)
    command = kwargs.pop("command", CMD)
    assert P.build_prisma_argv(command, action, **kwargs) == expected


@pytest.mark.parametrize("action,migration", [("rolled_back", "../../etc/passwd"), ("applied", None),
                                              ("reset", None)])
def test_build_prisma_argv_refuses(action, migration):
    with pytest.raises(ValueError):
        P.build_prisma_argv(CMD, action, migration)


def test_with_timeout():
    assert P.with_timeout(["a"], 30, "/usr/bin/timeout") == ["/usr/bin/timeout", "--kill-after=10", "30", "a"]
    assert P.with_timeout(["a"], 0, "/usr/bin/timeout") == ["a"]
    assert P.with_timeout(["a"], 30, None) == ["a"]


def test_environ_carries_url_and_locale():
    env = P.build_environ("postgresql://u:p@h:1/d")
    assert env["DATABASE_URL"] == "postgresql://u:p@h:1/d"
    assert env["LC_ALL"] == "C" and env["CHECKPOINT_DISABLE"] == "1"
    assert "DATABASE_URL" not in P.build_environ(None)


def test_psql_argv_has_no_password():
    conn = P.parse_database_url("postgresql://app%40x:" + P.quote(PW, safe="")
                                + "@db.example:6543/life?schema=app&sslmode=require")
    argv = P.build_psql_argv("/usr/bin/psql", conn, P.table_query(conn["schema"]))
    assert argv[:4] == ["/usr/bin/psql", "-X", "-w", "-q"]
    assert ["-h", "db.example"] == argv[argv.index("-h"):argv.index("-h") + 2]
    assert ["-p", "6543", "-U", "app@x", "-d", "life"] == argv[argv.index("-p"):argv.index("-d") + 2]
    assert '"app"."_prisma_migrations"' in argv[-1]
    assert not any(PW in a or P.quote(PW, safe="") in a for a in argv)
    env = P.psql_environ(conn)
    assert env["PGPASSWORD"] == PW and env["PGSSLMODE"] == "require"


def test_table_query_quotes_schema():
    assert '"we""ird"."_prisma_migrations"' in P.table_query('we"ird')


# ---------------------------------------------------------------------- masking

MASK_CASES = [
    ("url-in-text", "at postgresql://u:hunter2@h:5433/d failed", [], "at postgresql://u:********@h:5433/d failed"),
    ("raw-secret", "password hunter2 leaked", ["hunter2"], "password ******** leaked"),
    ("encoded-secret", "x=%s" % P.quote(PW, safe=""), [PW], "x=********"),
    ("raw-special-secret", "x=%s" % PW, [PW], "x=********"),
    ("no-password-in-url", "postgresql://u@h/d", [], "postgresql://u@h/d"),
    ("empty", "", ["x"], ""),
]


@pytest.mark.parametrize("text,secrets,expected", [c[1:] for c in MASK_CASES], ids=[c[0] for c in MASK_CASES])
def test_runner_masking(text, secrets, expected):
    assert mask_text(text, secrets) == expected


def test_tail_lines_strips_ansi_and_blanks():
    assert P.tail_lines("a\n\n\x1b[1mb\x1b[0m\nc\n", 2) == "b\nc"


# ------------------------------------------------------------- .env and the URL

ENV_TEXT = """# LifeTracker
COMPOSE_PROJECT_NAME=lifetracker
export POSTGRES_USER=lifetracker
POSTGRES_DB="lifetracker"
POSTGRES_PASSWORD='%s'
POSTGRES_PORT=25610  # published port
BROKEN LINE
=novalue
""" % PW


def test_parse_env_file():
    env = parse_env_file(ENV_TEXT)
    assert env == {"COMPOSE_PROJECT_NAME": "lifetracker", "POSTGRES_USER": "lifetracker",
                   "POSTGRES_DB": "lifetracker", "POSTGRES_PASSWORD": PW, "POSTGRES_PORT": "25610"}


def test_url_from_connection_builds_and_encodes():
    env = parse_env_file(ENV_TEXT)
    url, source, missing = P.database_url_from_connection(resolve_connection({}, env), env)
    assert source == "connection" and missing == []
    assert url == "postgresql://lifetracker:%s@127.0.0.1:25610/lifetracker" % P.quote(PW, safe="")
    conn = P.parse_database_url(url)
    assert (conn["password"], conn["port"], conn["host"], conn["schema"]) == (PW, 25610, "127.0.0.1", "public")
    url2, _s, _m = P.database_url_from_connection(resolve_connection({"login_host": "db", "login_port": 5433}, env))
    assert url2.endswith("@db:5433/lifetracker")


def test_with_database_keeps_server_credentials_and_options():
    url = "postgresql://u:p%40ss@db:5433/app?schema=core&sslmode=require"
    assert P.with_database(url, "app_verify_20261127180000") == \
        "postgresql://u:p%40ss@db:5433/app_verify_20261127180000?schema=core&sslmode=require"


URL_CASES = [
    # (id, options, env, (url, source, missing))
    ("env-keys", {}, {"POSTGRES_USER": "u", "POSTGRES_PASSWORD": "p", "POSTGRES_DB": "d"},
     ("postgresql://u:p@127.0.0.1:5433/d", "connection", [])),
    ("no-password-is-fine", {}, {"POSTGRES_USER": "u", "POSTGRES_DB": "d"}, ("postgresql://u@127.0.0.1:5433/d", "connection", [])),
    ("options-win-over-env-url", {"login_user": "o", "database": "od"}, {"DATABASE_URL": "postgresql://a:b@c/d"},
     ("postgresql://o@127.0.0.1:5433/od", "connection", [])),
    ("env-url-when-connection-incomplete", {}, {"DATABASE_URL": "postgresql://a:b@c/d", "POSTGRES_USER": "x"},
     ("postgresql://a:b@c/d", "env_file:DATABASE_URL", [])),
    ("missing", {}, {"POSTGRES_USER": "x"}, (None, None, ["POSTGRES_DB"])),
    ("app-keys", {"env_keys": {"user": "APP_DB_USER", "password": "APP_DB_PASS", "database": "APP_DB_NAME",
                               "port": "APP_DB_PORT"}},
     {"APP_DB_USER": "shop", "APP_DB_PASS": "p@ss", "APP_DB_NAME": "shop", "APP_DB_PORT": "6543"},
     ("postgresql://shop:p%40ss@127.0.0.1:6543/shop", "connection", [])),
    ("ipv6-host", {"login_host": "::1"}, {"POSTGRES_USER": "u", "POSTGRES_DB": "d"},
     ("postgresql://u@[::1]:5433/d", "connection", [])),
]


@pytest.mark.parametrize("options,env,expected", [c[1:] for c in URL_CASES], ids=[c[0] for c in URL_CASES])
def test_url_from_connection(options, env, expected):
    assert P.database_url_from_connection(resolve_connection(options, env), env) == expected


@pytest.mark.parametrize("url", ["mysql://u:p@h/d", "not a url", "postgresql://u:p@h:notaport/d"])
def test_parse_database_url_refuses(url):
    with pytest.raises(ValueError):
        P.parse_database_url(url)


def test_parse_database_url_defaults():
    conn = P.parse_database_url("postgres://app@/life?host=/var/run/postgresql")
    assert conn == {"host": "/var/run/postgresql", "port": 5432, "user": "app", "password": "",
                    "dbname": "life", "schema": "public", "sslmode": ""}
    assert P.describe_database(conn) == "app@/var/run/postgresql:5432/life"


# -------------------------------------------------- _prisma_migrations table

def row(name, state, checksum="c" * 64, steps=1):
    return {"migration_name": name, "checksum": checksum, "started_at": "2026-11-27T14:55:52.977+00:00",
            "finished_at": None if state == "failed" else "2026-11-27T14:55:53+00:00",
            "rolled_back_at": "2026-11-27T15:00:00+00:00" if state == "rolled_back" else None,
            "applied_steps_count": steps, "logs": "err\nline2" if state == "failed" else None}


def test_parse_table_json():
    rows = [row(INIT, "applied"), dict(row(MOOD, "failed"), id="x")]
    text = " " + json.dumps(rows).replace("}, {", "}, \n {") + "\n"
    parsed = P.parse_table_json(text)
    assert [r["migration_name"] for r in parsed] == [INIT, MOOD]
    assert "id" not in parsed[1] and parsed[1]["logs"] == "err\nline2"
    assert P.parse_table_json("") == []
    with pytest.raises(ValueError):
        P.parse_table_json('{"a": 1}')


ROW_STATE_CASES = [
    ("no-rows", [], "unapplied"),
    ("failed", [row(MOOD, "failed")], "failed"),
    ("rolled-back", [row(MOOD, "rolled_back")], "rolled_back"),
    ("resolve-applied-after-failure", [row(MOOD, "rolled_back"), row(MOOD, "applied")], "applied"),
    ("rolled-back-then-failed-again", [row(MOOD, "rolled_back"), row(MOOD, "failed")], "failed"),
    ("other-names-only", [row(INIT, "applied")], "unapplied"),
]


@pytest.mark.parametrize("rows,expected", [c[1:] for c in ROW_STATE_CASES], ids=[c[0] for c in ROW_STATE_CASES])
def test_migration_state_from_rows(rows, expected):
    assert P.migration_state_from_rows(rows, MOOD) == expected


def test_summarize_and_missing_locally():
    rows = [row(INIT, "applied"), row(TAGS, "applied"), row(MOOD, "rolled_back"),
            row("20250401000000_gone", "applied")]
    assert P.summarize_rows(rows) == ([INIT, TAGS, "20250401000000_gone"], [], [MOOD])
    assert P.missing_locally_from_rows(rows, [INIT, TAGS, MOOD]) == ["20250401000000_gone"]


def test_psql_missing_table():
    assert P.psql_missing_table('ERROR:  42P01: relation "public._prisma_migrations" does not exist')
    assert P.psql_missing_table('ERROR:  3F000: schema "app" does not exist')
    assert not P.psql_missing_table("psql: error: connection to server failed")


def test_checksum_drift(tmp_path):
    sql = b"CREATE TABLE a (id int);\n"
    for name, data in ((INIT, sql), (TAGS, sql.replace(b"\n", b"\r\n")), (MOOD, b"-- edited\n" + sql)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "migration.sql").write_bytes(data)
    import hashlib
    good = hashlib.sha256(sql).hexdigest()
    sums = P.local_checksums(str(tmp_path), [INIT, TAGS, MOOD, "20250501000000_missing"])
    assert set(sums) == {INIT, TAGS, MOOD}
    rows = [row(INIT, "applied", good), row(TAGS, "applied", good), row(MOOD, "applied", good),
            row("20250501000000_missing", "applied", good)]
    drift = P.checksum_drift(rows, sums)
    assert drift == [{"migration": MOOD, "table_checksum": good,
                      "file_checksum": hashlib.sha256(b"-- edited\n" + sql).hexdigest()}]
    # a rolled-back row does not count
    assert P.checksum_drift([row(MOOD, "rolled_back", good)], sums) == []


# ---------------------------------------------------------- classify and plan

def status(name):
    return P.parse_status(*case(name))


CLASSIFY_CASES = [
    # status fixture, table rows (None = not read), expected state of MOOD
    ("status_failed", None, "failed"),
    ("status_rolled_back", None, "pending"),
    ("status_pending", None, "pending"),
    ("status_after_applied", None, "applied"),
    ("status_rolled_back", [row(MOOD, "rolled_back")], "rolled_back"),
    ("status_pending", [], "unapplied"),
    ("status_failed", [row(MOOD, "failed")], "failed"),
]


@pytest.mark.parametrize("status_case,rows,expected", CLASSIFY_CASES)
def test_classify_migration(status_case, rows, expected):
    assert P.classify_migration(MOOD, status(status_case), rows) == expected


def test_classify_unknown_when_status_hides_failed():
    """Prisma prints only the pending list when the database is behind, hiding failed rows."""
    st = P.parse_status(1, "Following migration have not yet been applied:\n20250401000000_next\n", "")
    assert P.classify_migration(MOOD, st) == "unknown"


PLAN_CASES = [
    # action, state, run, changed, error code, warns
    ("rolled_back", "failed", True, True, None, False),
    ("rolled_back", "rolled_back", False, False, None, False),
    ("rolled_back", "applied", False, False, "P3012", False),
    ("rolled_back", "unapplied", False, False, "P3011", False),
    ("rolled_back", "pending", True, False, None, True),
    ("rolled_back", "unknown", True, True, None, True),
    ("applied", "applied", False, False, None, False),
    ("applied", "failed", True, True, None, False),
    ("applied", "rolled_back", True, True, None, False),
    ("applied", "unapplied", True, True, None, False),
    ("applied", "pending", True, True, None, False),
    ("applied", "unknown", True, True, None, True),
]


@pytest.mark.parametrize("action,state,run,changed,code,warns", PLAN_CASES)
def test_plan_resolve(action, state, run, changed, code, warns):
    plan = P.plan_resolve(action, state)
    assert (plan["run"], plan["changed"], plan["error_code"], bool(plan["warning"])) == (run, changed, code, warns)


def test_plan_resolve_unknown_action():
    with pytest.raises(ValueError):
        P.plan_resolve("deployed", "failed")
