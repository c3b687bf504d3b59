"""prisma_migrate main flow with run_command mocked by the real captured CLI outputs.

Each case: module args, what the fake CLI answers per command (captured fixtures), the
expected result, and which commands must (not) have run.
"""

import json
import os
from pathlib import Path

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.maverick.rollback.plugins.modules import prisma_migrate

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "prisma"
INIT = "20250101000000_init"
TAGS = "20250201000000_add_tags"
MOOD = "20250301000000_add_mood_constraint"
PW = "pw/with@special:chars"
URL = "postgresql://lifetracker:pw%2Fwith%40special%3Achars@127.0.0.1:25610/lifetracker"


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


def case(name):
    rc = int((FIXTURES / (name + ".rc")).read_text().strip())
    return rc, (FIXTURES / (name + ".stdout")).read_text(), (FIXTURES / (name + ".stderr")).read_text()


def row(name, state):
    return {"migration_name": name, "checksum": "0" * 64, "started_at": "2026-11-27T14:55:52.977+00:00",
            "finished_at": None if state == "failed" else "2026-11-27T14:55:53+00:00",
            "rolled_back_at": "2026-11-27T15:00:00+00:00" if state == "rolled_back" else None,
            "applied_steps_count": 0 if state == "failed" else 1, "logs": None}


class FakeCLI:
    """Answers run_command by the command: prisma status/deploy/resolve, or psql."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv, cwd=None, environ_update=None, check_rc=False, **_kw):
        self.calls.append({"argv": list(argv), "cwd": cwd, "env": dict(environ_update or {})})
        if any(a.endswith("psql") for a in argv):
            answer = self.answers.get("psql", (0, json.dumps([]), ""))
        else:
            i = argv.index("migrate")
            key = argv[i + 1] if argv[i + 1] != "resolve" else argv[i + 2]
            answer = self.answers[key]
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, str) and answer.startswith("table:"):
            states = answer[len("table:"):].split(",")
            return 0, json.dumps([row(n, st) for n, st in zip((INIT, TAGS, MOOD), states)]), ""
        if isinstance(answer, str):
            return case(answer)
        return answer

    def actions(self):
        out = []
        for c in self.calls:
            argv = c["argv"]
            if any(a.endswith("psql") for a in argv):
                out.append("psql")
            else:
                i = argv.index("migrate")
                out.append(" ".join(argv[i + 1:i + 3]) if argv[i + 1] == "resolve" else argv[i + 1])
        return out


@pytest.fixture
def project(tmp_path):
    core = tmp_path / "core"
    for name in (INIT, TAGS, MOOD):
        (core / "prisma" / "migrations" / name).mkdir(parents=True)
        (core / "prisma" / "migrations" / name / "migration.sql").write_text("-- %s\n" % name)
    (core / "prisma" / "migrations" / "migration_lock.toml").write_text('provider = "postgresql"\n')
    (core / "node_modules" / ".bin").mkdir(parents=True)  # the project's installed CLI, as in the sandbox
    (core / "node_modules" / ".bin" / "prisma").write_text("")
    env = tmp_path / ".env"
    env.write_text("POSTGRES_USER=lifetracker\nPOSTGRES_PASSWORD=%s\nPOSTGRES_DB=lifetracker\n"
                   "POSTGRES_PORT=25610\n" % PW)
    return {"app": str(tmp_path), "core": str(core), "env": str(env)}


def run_module(monkeypatch, args, answers, bins=("bunx", "psql", "timeout")):
    fake = FakeCLI(answers)

    def exit_json(self, **kw):
        raise ExitJson(kw)

    def fail_json(self, **kw):
        kw["failed"] = True
        raise FailJson(kw)

    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, *a, **kw: fake(*a, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **kw: "/usr/bin/" + name if name in bins else None)
    with patch_module_args(args):
        with pytest.raises((ExitJson, FailJson)) as info:
            prisma_migrate.main()
    result = info.value.args[0]
    result["_failed"] = isinstance(info.value, FailJson)
    # the task executor fails any result with rc != 0 unless it says failed=False
    assert result["failed"] is result["_failed"]
    result["_warnings"] = warnings
    return result, fake


def base(project, **kw):
    # The app checkout with its .env (found by default), the Prisma project in core/.
    args = {"project_dir": project["app"], "prisma_dir": "core", "via": "host"}
    args.update(kw)
    return args


def assert_no_secret(result, fake):
    text = json.dumps({k: v for k, v in result.items() if not k.startswith("_")})
    for secret in (PW, "pw%2Fwith%40special%3Achars"):
        assert secret not in text
        for call in fake.calls:
            assert not any(secret in a for a in call["argv"])


# ------------------------------------------------------------------------ status

STATUS_CASES = [
    # id, fixture, failed?, up_to_date, pending, failed list, applied, error code
    ("up-to-date", "status_after_applied", False, True, [], [], [INIT, TAGS, MOOD], None),
    ("pending-is-not-a-failure", "status_pending", False, False, [MOOD], [], [INIT, TAGS], None),
    ("failed-is-reported", "status_failed", False, False, [], [MOOD], [INIT, TAGS], None),
    ("unreachable", "status_unreachable", True, False, [], [], None, None),
    ("auth-failed", "status_auth_failed", True, False, [], [], None, None),
    ("db-missing", "status_db_missing", True, False, [], [], None, None),
]


@pytest.mark.parametrize("fixture,failed,up,pending,failed_list,applied,code",
                         [c[1:] for c in STATUS_CASES], ids=[c[0] for c in STATUS_CASES])
@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_status(monkeypatch, project, fixture, failed, up, pending, failed_list, applied, code, check_mode):
    result, fake = run_module(monkeypatch, base(project, _ansible_check_mode=check_mode), {"status": fixture})
    assert result["_failed"] is failed
    assert result["changed"] is False
    assert result["up_to_date"] is up
    assert result["pending"] == pending
    assert result["failed_migrations"] == failed_list
    assert result["applied"] == applied
    assert fake.actions() == ["status"]  # read_table false: no psql
    call = fake.calls[0]
    assert call["argv"] == ["/usr/bin/timeout", "--kill-after=10", "600", "bunx", "--no-install", "--bun", "prisma",
                            "migrate", "status"]
    assert call["cwd"] == project["core"]
    assert call["env"]["DATABASE_URL"] == URL
    assert call["env"]["LC_ALL"] == "C" and call["env"]["CHECKPOINT_DISABLE"] == "1"
    assert result["rc"] == case(fixture)[0]
    assert result["database"] == "lifetracker@127.0.0.1:25610/lifetracker"
    assert result["database_url_source"] == "connection"
    assert_no_secret(result, fake)


ERROR_MSG_CASES = [
    ("status_unreachable", "P1001", "prisma migrate status failed (exit 1, P1001): cannot reach the database server at 127.0.0.1:25610"),
    ("status_auth_failed", "P1000", "prisma migrate status failed (exit 1, P1000): authentication failed for database user 'lifetracker'"),
    ("status_db_missing", "P1003", "prisma migrate status failed (exit 1, P1003): database 'lifetracker' does not exist"),
]


@pytest.mark.parametrize("fixture,code,start", ERROR_MSG_CASES)
def test_status_errors_say_what_to_do(monkeypatch, project, fixture, code, start):
    result, _fake = run_module(monkeypatch, base(project), {"status": fixture})
    assert result["error_code"] == code
    assert result["msg"].startswith(start)
    assert "Last output lines:\n" in result["msg"] and "\nError: %s: " % code in result["msg"]


def test_password_in_cli_output_is_masked(monkeypatch, project):
    leaky = (1, "", "Error: P1001: Can't reach %s\nalso raw %s\n" % (URL, PW))
    result, fake = run_module(monkeypatch, base(project), {"status": leaky})
    assert result["_failed"]
    assert "********" in result["stderr"] and "********" in result["msg"]
    assert_no_secret(result, fake)


def test_status_read_table_and_drift(monkeypatch, project):
    rows = [row(INIT, "applied"), row(TAGS, "applied"), row(MOOD, "failed"), row("20240101000000_old", "applied")]
    result, fake = run_module(monkeypatch, base(project, read_table=True),
                              {"status": "status_failed", "psql": (0, json.dumps(rows), "")})
    assert fake.actions() == ["status", "psql"]
    psql = fake.calls[1]
    assert psql["argv"][0] == "/usr/bin/timeout" and psql["argv"][3] == "/usr/bin/psql"
    assert psql["env"]["PGPASSWORD"] == PW
    assert result["migrations_table"][2]["migration_name"] == MOOD
    assert result["applied"] == [INIT, TAGS, "20240101000000_old"]
    assert result["failed_migrations"] == [MOOD]
    assert result["missing_locally"] == ["20240101000000_old"]
    assert sorted(d["migration"] for d in result["checksum_drift"]) == [INIT, TAGS, MOOD]
    assert result["rc"] == 1 and result["cmd"][-2:] == ["migrate", "status"]  # rc/cmd stay Prisma's


def test_status_read_table_missing_table_is_empty(monkeypatch, project):
    missing = (1, "", 'ERROR:  42P01: relation "public._prisma_migrations" does not exist\n')
    result, _fake = run_module(monkeypatch, base(project, read_table=True),
                               {"status": "status_pending", "psql": missing})
    assert not result["_failed"] and result["migrations_table"] == []


NO_PSQL_CASES = [
    # (id, via, tools on PATH, message)
    ("host", "host", ("bunx",), "read_table: psql not found on the managed host (apt-get install postgresql-client, "
                                "or via: compose)"),
    ("compose", "compose", ("bunx", "psql"), "read_table: via: compose needs the docker CLI (apt-get install docker.io "
                                             "docker-compose-plugin)"),
    ("auto", "auto", ("bunx",), "read_table: no psql on the managed host and no docker CLI for docker compose exec psql"),
]


@pytest.mark.parametrize("via,bins,message", [c[1:] for c in NO_PSQL_CASES], ids=[c[0] for c in NO_PSQL_CASES])
@pytest.mark.parametrize("state", ["status", "deployed"])
def test_read_table_without_psql_fails_before_any_command(monkeypatch, project, state, via, bins, message):
    result, fake = run_module(monkeypatch, base(project, read_table=True, state=state, via=via),
                              {"status": "status_failed", "deploy": "deploy_ok"}, bins=bins)
    assert result["_failed"] and result["msg"] == message
    assert fake.calls == []


@pytest.mark.parametrize("via", ["auto", "compose"])
def test_read_table_through_compose_exec(monkeypatch, project, via):
    """No psql on the host: psql in the database's container, on its socket, password by name only."""
    rows = [row(INIT, "applied"), row(TAGS, "applied"), row(MOOD, "applied")]
    result, fake = run_module(monkeypatch, base(project, read_table=True, via=via, compose_project="lt"),
                              {"status": "status_after_applied", "psql": (0, json.dumps(rows), "")},
                              bins=("bunx", "docker", "timeout"))
    assert not result["_failed"] and result["via"] == "compose" and result["applied"] == [INIT, TAGS, MOOD]
    argv = fake.calls[1]["argv"][3:]  # after timeout --kill-after=10 600
    service = argv.index("postgres")
    assert argv[:service] == ["/usr/bin/docker", "compose", "--project-directory", project["app"],
                              "--project-name", "lt", "exec", "-T", "-e", "LC_ALL=C", "-e", "PGAPPNAME=maverick.rollback.prisma_migrate",
                              "-e", "PGCONNECT_TIMEOUT=10", "-e", "PGPASSWORD"]
    assert argv[service + 1] == "psql" and "-h" not in argv and "-p" not in argv
    assert argv[argv.index("-U") + 1] == "lifetracker" and argv[argv.index("-d") + 1] == "lifetracker"
    assert fake.calls[1]["env"]["PGPASSWORD"] == PW
    assert_no_secret(result, fake)


def test_read_table_names_a_stopped_container(monkeypatch, project):
    result, _fake = run_module(monkeypatch, base(project, read_table=True, via="compose"),
                               {"status": "status_after_applied", "psql": (1, "", 'service "postgres" is not running\n')},
                               bins=("bunx", "docker", "timeout"))
    assert result["_failed"] and result["msg"].startswith(
        "psql (docker compose exec postgres, reading _prisma_migrations) failed (exit 1): the compose service postgres "
        "is not running")


def test_read_table_without_url_fails_before_any_command(monkeypatch, project):
    result, fake = run_module(monkeypatch, {"project_dir": project["core"], "read_table": True, "state": "deployed"},
                              {"deploy": "deploy_ok"})
    assert result["msg"] == ("read_table: no database URL (set database_url, or login_user and database, or the env "
                             "file's keys)") and fake.calls == []


def test_timeout_is_reported(monkeypatch, project):
    result, _fake = run_module(monkeypatch, base(project, timeout=5), {"status": (124, "", "")})
    assert result["_failed"]
    assert result["msg"].startswith("prisma migrate status timed out after 5 s (exit 124")


# ------------------------------------------------------- inputs refused up front

BAD_INPUTS = [
    ("traversal", {"state": "rolled_back", "migration": "../../etc/passwd"}, "not a Prisma migration directory name"),
    ("trailing-newline", {"state": "rolled_back", "migration": MOOD + "\n"}, "not a Prisma migration directory name"),
    ("shell", {"state": "applied", "migration": "20250301000000_x;rm -rf /"}, "not a Prisma migration directory name"),
    ("unknown-name", {"state": "rolled_back", "migration": "20991231000000_never_existed"},
     "is not in %s/prisma/migrations"),
    ("missing-migration", {"state": "rolled_back"}, "state is rolled_back but all of the following are missing: migration"),
    ("bad-state", {"state": "reset"}, "value of state must be one of"),
    ("no-project", {"project_dir": "/nonexistent/core"}, "project_dir /nonexistent/core does not exist"),
    ("database-name", {"database": "x/../postgres?host=evil"}, "database must be"),
    ("no-prisma-dir", {"prisma_dir": "packages/nope"}, "prisma_dir packages/nope (%s/packages/nope) does not exist"),
]


@pytest.mark.parametrize("args,msg", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_inputs_refused_before_any_command(monkeypatch, project, args, msg):
    result, fake = run_module(monkeypatch, base(project, **args), {})
    assert result["_failed"]
    where = project["app"] if "prisma_dir" in args else project["core"]
    assert (msg % where if "%s" in msg else msg) in result["msg"]
    assert fake.calls == []


def test_missing_cli_refused(monkeypatch, project):
    result, fake = run_module(monkeypatch, base(project), {}, bins=())
    assert result["msg"] == "Prisma command 'bunx' not found on PATH" and fake.calls == []


def test_env_file_without_credentials(monkeypatch, project, tmp_path):
    env = tmp_path / "bare.env"
    env.write_text("POSTGRES_USER=x\n")
    result, fake = run_module(monkeypatch, base(project, env_file=str(env)), {})
    assert result["msg"] == ("cannot build DATABASE_URL: no database name (set database, or POSTGRES_DB in %s)"
                             % env) and fake.calls == []


# ----------------------------------------------------------------------- resolve

RESOLVE_CASES = [
    # id, state, table rows for MOOD, status fixture, resolve fixture, check, failed?, changed, commands, error code
    ("rolled-back-failed", "rolled_back", ["failed"], "status_failed", "resolve_rolled_back_ok", False,
     False, True, ["status", "psql", "resolve --rolled-back"], None),
    ("rolled-back-again-is-ok", "rolled_back", ["rolled_back"], "status_rolled_back", None, False,
     False, False, ["status", "psql"], None),
    ("rolled-back-check", "rolled_back", ["failed"], "status_failed", None, True,
     False, True, ["status", "psql"], None),
    ("rolled-back-again-check", "rolled_back", ["rolled_back"], "status_rolled_back", None, True,
     False, False, ["status", "psql"], None),
    ("rolled-back-succeeded-refused", "rolled_back", ["applied"], "status_after_applied", None, False,
     True, False, ["status", "psql"], "P3012"),
    ("rolled-back-never-applied-refused", "rolled_back", [], "status_pending", None, False,
     True, False, ["status", "psql"], "P3011"),
    ("rolled-back-then-applied-refused", "rolled_back", ["rolled_back", "applied"], "status_after_applied", None,
     False, True, False, ["status", "psql"], "P3012"),
    ("applied-failed", "applied", ["failed"], "status_failed", "resolve_applied_ok", False,
     False, True, ["status", "psql", "resolve --applied"], None),
    ("applied-again-is-ok", "applied", ["rolled_back", "applied"], "status_after_applied", None, False,
     False, False, ["status", "psql"], None),
    ("applied-check", "applied", ["rolled_back"], "status_rolled_back", None, True,
     False, True, ["status", "psql"], None),
]


@pytest.mark.parametrize("state,states,status,resolve,check,failed,changed,commands,code",
                         [c[1:] for c in RESOLVE_CASES], ids=[c[0] for c in RESOLVE_CASES])
def test_resolve(monkeypatch, project, state, states, status, resolve, check, failed, changed, commands, code):
    rows = [row(INIT, "applied"), row(TAGS, "applied")] + [row(MOOD, s) for s in states]
    answers = {"status": status, "psql": (0, json.dumps(rows), "")}
    if resolve:
        answers[{"rolled_back": "--rolled-back", "applied": "--applied"}[state]] = resolve
    args = base(project, state=state, migration=MOOD, _ansible_check_mode=check)
    result, fake = run_module(monkeypatch, args, answers)
    assert result["_failed"] is failed, result["msg"]
    assert result["changed"] is changed
    assert fake.actions() == commands
    assert result["error_code"] == code
    if check and changed:
        assert result["planned_cmd"][-4:] == ["migrate", "resolve", "--" + state.replace("_", "-"), MOOD]
        assert "(check mode)" in result["msg"]
    if not failed:
        if state == "rolled_back":
            assert MOOD in result["pending"] and MOOD not in result["failed_migrations"]
        else:
            assert MOOD in result["applied"] and MOOD not in result["pending"] + result["failed_migrations"]
    assert_no_secret(result, fake)


def test_refusal_messages(monkeypatch, project):
    rows = [row(MOOD, "applied")]
    result, _fake = run_module(monkeypatch, base(project, state="rolled_back", migration=MOOD),
                               {"status": "status_after_applied", "psql": (0, json.dumps(rows), "")})
    assert result["msg"].startswith("refusing to run prisma migrate resolve (P3012): migration %s is not in a failed state" % MOOD)
    assert result["migration_state"] == "applied"


def test_resolve_without_psql_decides_from_status(monkeypatch, project):
    """No psql: a pending migration is either rolled back already or never applied; Prisma decides."""
    result, fake = run_module(monkeypatch, base(project, state="rolled_back", migration=MOOD),
                              {"status": "status_rolled_back", "--rolled-back": "resolve_rolled_back_again"},
                              bins=("bunx",))
    assert not result["_failed"] and result["changed"] is False
    assert fake.actions() == ["status", "resolve --rolled-back"]
    assert result["migration_state"] == "pending"
    assert any("not reading _prisma_migrations" in w for w in result["_warnings"])


def test_resolve_without_psql_never_applied_maps_p3011(monkeypatch, project):
    result, _fake = run_module(monkeypatch, base(project, state="rolled_back", migration=MOOD),
                               {"status": "status_pending", "--rolled-back": "resolve_p3011"}, bins=("bunx",))
    assert result["_failed"] and result["error_code"] == "P3011"
    assert result["msg"].startswith("prisma migrate resolve failed (exit 1, P3011): migration 20991231000000_never_existed was never applied")


def test_resolve_without_psql_failed_from_status(monkeypatch, project):
    result, fake = run_module(monkeypatch, base(project, state="rolled_back", migration=MOOD),
                              {"status": "status_failed", "--rolled-back": "resolve_rolled_back_ok"}, bins=("bunx",))
    assert result["changed"] is True and fake.actions() == ["status", "resolve --rolled-back"]


def test_applied_p3008_from_prisma_is_ok(monkeypatch, project):
    """Status cannot always tell (database behind hides failed rows); P3008 then means done."""
    behind = (1, "Following migration have not yet been applied:\n20250401000000_next\n", "")
    result, _fake = run_module(monkeypatch, base(project, state="applied", migration=MOOD),
                               {"status": behind, "--applied": "resolve_applied_p3008"}, bins=("bunx",))
    assert not result["_failed"] and result["changed"] is False
    assert "already applied" in result["msg"]


# ------------------------------------------------------------------------ deploy

DEPLOY_CASES = [
    # id, answers, check, failed?, changed, deployed, commands, error code, msg start
    ("applies", {"deploy": "deploy_ok"}, False, False, True, [INIT, TAGS], ["deploy"], None,
     "applied 2 migrations: %s, %s" % (INIT, TAGS)),
    ("nothing-pending", {"deploy": "deploy_no_pending"}, False, False, False, [], ["deploy"], None,
     "no pending migrations"),
    ("p3018", {"deploy": "deploy_p3018"}, False, True, False, [], ["deploy"], "P3018",
     "prisma migrate deploy failed (exit 1, P3018): migration %s failed (database error 42703" % MOOD),
    ("p3009", {"deploy": "deploy_p3009"}, False, True, False, [], ["deploy"], "P3009",
     "prisma migrate deploy failed (exit 1, P3009): a failed migration (%s) blocks deploy: run "
     "playbooks/migration_resolve.yml -e migration=%s -e action=rolled_back" % (MOOD, MOOD)),
    ("check-pending", {"status": "status_pending", "psql": "table:applied,applied"}, True, False, True, [MOOD], ["status", "psql"], None,
     "would apply 1 migration: %s (check mode)" % MOOD),
    ("check-up-to-date", {"status": "status_after_applied", "psql": "table:applied,applied,applied"}, True, False, False, [], ["status", "psql"], None,
     "no pending migrations (check mode)"),
    ("check-failed-blocks", {"status": "status_failed", "psql": "table:applied,applied,failed"}, True, True, False, None, ["status", "psql"], "P3009",
     "prisma migrate deploy would fail (P3009, check mode): a failed migration (%s)" % MOOD),
    ("check-db-missing", {"status": "status_db_missing"}, True, False, True, [INIT, TAGS, MOOD], ["status"], None,
     "would create the database and apply 3 migrations (check mode)"),
]


@pytest.mark.parametrize("answers,check,failed,changed,deployed,commands,code,msg",
                         [c[1:] for c in DEPLOY_CASES], ids=[c[0] for c in DEPLOY_CASES])
def test_deploy(monkeypatch, project, answers, check, failed, changed, deployed, commands, code, msg):
    result, fake = run_module(monkeypatch, base(project, state="deployed", _ansible_check_mode=check), dict(answers))
    assert result["_failed"] is failed
    assert result["changed"] is changed
    assert result.get("deployed_migrations") == deployed
    assert fake.actions() == commands
    assert result["error_code"] == code
    assert result["msg"].startswith(msg)
    if code in ("P3018", "P3009"):
        assert result["failed_migrations"] == [MOOD]
        assert result["applied"] == [INIT, TAGS] and result["pending"] == []
    if not failed and not check:
        assert result["up_to_date"] and result["pending"] == [] and result["applied"] == [INIT, TAGS, MOOD]
    assert_no_secret(result, fake)


def test_deploy_failure_reads_table_for_logs(monkeypatch, project):
    rows = [row(INIT, "applied"), row(TAGS, "applied"), dict(row(MOOD, "failed"), logs="column mod does not exist")]
    result, fake = run_module(monkeypatch, base(project, state="deployed", read_table=True),
                              {"deploy": "deploy_p3018", "psql": (0, json.dumps(rows), "")})
    assert result["_failed"] and fake.actions() == ["deploy", "psql"]
    assert result["migrations_table"][-1]["logs"] == "column mod does not exist"


# ------------------------------------------------------------------- URL sources

def test_database_url_option_wins_and_is_not_logged(monkeypatch, project):
    args = base(project, database_url="postgresql://u:%s@db:5432/app?schema=core" % "opt-secret")
    result, fake = run_module(monkeypatch, args, {"status": "status_after_applied"})
    assert fake.calls[0]["env"]["DATABASE_URL"].endswith("@db:5432/app?schema=core")
    assert result["database_url_source"] == "option"
    assert "opt-secret" not in json.dumps(result)


def test_database_name_points_the_url_at_a_scratch_copy(monkeypatch, project):
    args = base(project, state="deployed", database="lifetracker_verify_20261127180000")
    result, fake = run_module(monkeypatch, args, {"deploy": "deploy_ok"})
    url = fake.calls[0]["env"]["DATABASE_URL"]
    assert url.endswith("@127.0.0.1:25610/lifetracker_verify_20261127180000")
    assert result["database"].endswith("/lifetracker_verify_20261127180000")
    assert_no_secret(result, fake)


def test_database_replaces_the_database_of_database_url(monkeypatch, project):
    args = base(project, database_url="postgresql://u:opt-secret@db:5432/app?schema=core", database="app_verify_1")
    result, fake = run_module(monkeypatch, args, {"status": "status_after_applied"})
    assert fake.calls[0]["env"]["DATABASE_URL"] == "postgresql://u:opt-secret@db:5432/app_verify_1?schema=core"
    assert result["database"] == "u@db:5432/app_verify_1" and result["database_url_source"] == "option"


def test_env_keys_of_another_app_build_the_url(monkeypatch, project):
    with open(project["env"], "w") as handle:
        handle.write("APP_DB_USER=shop\nAPP_DB_PASS=%s\nAPP_DB_NAME=shopdb\nAPP_DB_PORT=6543\n" % PW)
    keys = {"user": "APP_DB_USER", "password": "APP_DB_PASS", "database": "APP_DB_NAME", "port": "APP_DB_PORT"}
    result, fake = run_module(monkeypatch, base(project, env_keys=keys), {"status": "status_after_applied"})
    assert fake.calls[0]["env"]["DATABASE_URL"] == "postgresql://shop:%s@127.0.0.1:6543/shopdb" % (
        "pw%2Fwith%40special%3Achars")
    assert result["database"] == "shop@127.0.0.1:6543/shopdb" and result["database_url_source"] == "connection"
    assert_no_secret(result, fake)


def test_no_url_leaves_prisma_config_to_decide(monkeypatch, project):
    result, fake = run_module(monkeypatch, {"project_dir": project["core"], "timeout": 0},
                              {"status": "status_after_applied"})
    assert "DATABASE_URL" not in fake.calls[0]["env"]
    assert fake.calls[0]["argv"] == ["bunx", "--no-install", "--bun", "prisma", "migrate", "status"]
    assert result["database_url_source"] == "none" and "database" not in result


def test_schema_option_moves_migrations_dir(monkeypatch, project, tmp_path):
    alt = tmp_path / "db"
    (alt / "migrations" / MOOD).mkdir(parents=True)
    args = base(project, schema=str(alt / "schema.prisma"), state="rolled_back", migration=MOOD,
                _ansible_check_mode=True)
    result, fake = run_module(monkeypatch, args, {"status": "status_failed", "psql": (0, "[]", "")})
    assert result["migrations_dir"] == str(alt / "migrations")
    assert fake.calls[0]["argv"][-2:] == ["--schema", str(alt / "schema.prisma")]


def test_check_deploy_sees_failed_row_that_status_hides(monkeypatch, project):
    """When the database is behind, `migrate status` lists only pending migrations; the table tells."""
    behind = (1, "Following migration have not yet been applied:\n%s\n" % MOOD, "")
    result, fake = run_module(monkeypatch, base(project, state="deployed", _ansible_check_mode=True),
                              {"status": behind, "psql": "table:applied,failed"})
    assert result["_failed"] and result["error_code"] == "P3009"
    assert result["failed_migrations"] == [TAGS] and fake.actions() == ["status", "psql"]


# --------------------------------------------------------------------------- fault 11: never download Prisma

@pytest.mark.parametrize("command,expected", [
    (["bunx", "--bun", "prisma"], ["bunx", "--no-install", "--bun", "prisma", "migrate"]),
    (["npx", "prisma"], ["npx", "--no-install", "prisma", "migrate"]),
    (["npx", "--no-install", "prisma"], ["npx", "--no-install", "prisma", "migrate"]),
    (["bun", "x", "prisma"], ["bun", "x", "--no-install", "prisma", "migrate"]),
])
def test_the_cli_runs_from_the_project_and_is_never_downloaded(monkeypatch, project, command, expected):
    result, fake = run_module(monkeypatch, base(project, command=command), {"status": "status_up_to_date"},
                              bins=("bunx", "npx", "bun", "psql", "timeout"))
    assert not result["_failed"], result.get("msg")
    prisma = [c["argv"][3:] for c in fake.calls if "migrate" in c["argv"]]  # after timeout --kill-after=10 600
    assert prisma and [argv[:len(expected)] for argv in prisma] == [expected] * len(prisma)


def test_without_the_projects_cli_nothing_runs_and_the_message_says_how_to_install_it(monkeypatch, project):
    os.unlink(os.path.join(project["core"], "node_modules", ".bin", "prisma"))
    result, fake = run_module(monkeypatch, base(project), {"status": "status_up_to_date"})
    assert result["_failed"] and fake.calls == []
    assert result["msg"] == (
        "the Prisma CLI is not installed in the project: no node_modules/.bin/prisma in %s or %s, and bunx would "
        "download it from the npm registry, which prisma_migrate never does; install the app's dependencies "
        "(bun install or npm ci in %s), or give command as the path of an installed prisma"
        % (project["core"], project["app"], project["app"]))


def test_an_installed_cli_by_path_needs_no_node_modules(monkeypatch, project, tmp_path):
    os.unlink(os.path.join(project["core"], "node_modules", ".bin", "prisma"))
    cli = tmp_path / "prisma-cli"
    cli.write_text("#!/bin/sh\n")
    cli.chmod(0o755)
    result, fake = run_module(monkeypatch, base(project, command=[str(cli)]), {"status": "status_up_to_date"})
    assert not result["_failed"], result.get("msg")
    assert [c["argv"][3:5] for c in fake.calls if "migrate" in c["argv"]][0] == [str(cli), "migrate"]
