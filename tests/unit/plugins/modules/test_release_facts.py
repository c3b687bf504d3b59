"""release_facts: the migration gate's database read (settings from the app's .env,
password masked in errors, no psycopg2 reported plainly)."""

import json
import os
import shutil
import subprocess
import threading
import time

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils import _preflight
from ansible_collections.maverick.rollback.plugins.module_utils._connection import resolve_connection
from ansible_collections.maverick.rollback.plugins.modules import release_facts

from pg_testlib import run_module, start_fake_server
from test_preflight import FakeProbe  # the preflight tests' canned answers

PW = "Canary-pw:release-facts"
NAMES = ["20250101000000_init", "20250201000000_add_tags"]


@pytest.fixture
def server(tmp_path, monkeypatch):
    return start_fake_server(tmp_path, monkeypatch)


@pytest.fixture
def app(tmp_path):
    path = tmp_path / "app"
    path.mkdir()
    (path / ".env").write_text('POSTGRES_USER=lifetracker\nPOSTGRES_PASSWORD="%s"\nPOSTGRES_DB=lifetracker\n' % PW)
    return path


class Module:
    """What read_applied needs of AnsibleModule: get_bin_path."""

    @staticmethod
    def get_bin_path(name, required=False):
        return shutil.which(name)


def read(app, **params):
    conn = resolve_connection(dict({"project_dir": str(app), "via": "auto"}, **params),
                              {"POSTGRES_USER": "lifetracker", "POSTGRES_PASSWORD": PW, "POSTGRES_DB": "lifetracker"})
    return release_facts.read_applied(Module(), conn, str(app / ".env"))


READ_CASES = [
    # (id, params, server state, PATH: only the fake tools and without psql, expected names, error start, via)
    ("host", {}, {"prisma_migrations": NAMES}, False, NAMES, "", "host"),
    ("no-table-nothing-applied", {}, {}, False, [], "", "host"),
    ("compose", {"via": "compose"}, {"prisma_migrations": NAMES}, False, NAMES, "", "compose"),
    ("no-host-psql-compose", {}, {"prisma_migrations": NAMES[:1]}, True, NAMES[:1], "", "compose"),
    ("no-host-psql-container-stopped", {}, {"fail": {"compose_down": None}}, True, None,
     "no psql on the host, and psql (docker compose exec postgres) failed (exit code 1): the compose service postgres "
     "is not running", None),
    ("auth", {"via": "host"}, {"fail": {"connect": None}, "prisma_migrations": NAMES}, False, None,
     "psql (host, 127.0.0.1:5433) failed (exit code 2): authentication failed for user fix", None),
    ("no-database", {"env_keys": {"database": "NOPE"}}, {}, False, None,
     "no database name: set database or NOPE in", None),
]


@pytest.mark.parametrize("params,state,bare,names,error,via", [c[1:] for c in READ_CASES], ids=[c[0] for c in READ_CASES])
def test_read_applied_through_the_collections_runner(server, app, monkeypatch, params, state, bare, names, error, via):
    server.update(**state)
    if bare:
        monkeypatch.setenv("PATH", server.bindir)
        os.unlink(os.path.join(server.bindir, "psql"))
    applied, message, facts = read(app, **params)
    assert (applied, message[:len(error)]) == (names, error), message
    assert facts.get("via") == via
    assert PW not in message
    for call in server.calls():
        assert not any(PW in a for a in call["argv"])
        if call["tool"] == "psql" and call["via"] == "host":
            assert call["pgpassfile_mode"] == "0o600" and call["pgpassword"] is None
        # every query runs in the app's database, never in another one
        assert "--dbname=lifetracker" in call["argv"] or "--version" in call["argv"]


def test_no_python_database_library_is_needed():
    source = open(release_facts.__file__).read()
    assert "psycopg" not in source


def test_module_reads_applied_migrations_with_the_env_file(server, app, capsys, monkeypatch):
    """The whole module: gather mocked at the git/docker level, the read through fakepg's psql."""
    server.update(prisma_migrations=NAMES)
    facts = {"target_migrations": NAMES, "from": {}}
    monkeypatch.setattr(release_facts, "gather", lambda *a, **kw: dict(facts))
    result = run_module(release_facts.main, {"project_dir": str(app), "target": "v1", "read_applied": True}, capsys)
    assert result["_rc"] == 0, result
    assert (result["applied_migrations"], result["applied_migrations_error"], result["via"]) == (NAMES, "", "host")
    assert PW not in json.dumps(result)


def test_a_run_holding_the_lock_is_reported_before_anything_is_read(tmp_path, capsys):
    """A second operator hears about the run in flight, not about what that run's
    checkout and container recreation did to these reads (git and docker are never run:
    the project dir does not even exist)."""
    lock = tmp_path / "lock"
    lock.write_text(json.dumps({"run_id": "r1", "owner": "alice", "controller": "awx-1", "ttl": 600,
                                "started_epoch": time.time() - 5, "started": "now"}))
    result = run_module(release_facts.main, {"project_dir": str(tmp_path / "missing"), "target": "v1",
                                             "lock_path": str(lock)}, capsys)
    assert result["_rc"] == 1 and result["failed"]
    assert result["msg"].startswith("another run holds the lock %s: alice on awx-1 (run r1)" % lock)
    assert result["lock_holder"]["run_id"] == "r1" and "from" not in result


@pytest.mark.parametrize("lock_text", [None, "", '{"run_id": "gone", "ttl": 60, "started_epoch": 1}'],
                         ids=["free", "half-written", "stale"])
def test_a_free_or_stale_lock_lets_the_reads_go_on(tmp_path, capsys, lock_text):
    """A stale lock is app_lock's to report or break; here the reads run (and fail on
    the missing work tree, which shows they were reached)."""
    lock = tmp_path / "lock"
    if lock_text is not None:
        lock.write_text(lock_text)
    result = run_module(release_facts.main, {"project_dir": str(tmp_path / "missing"), "target": "v1",
                                             "lock_path": str(lock)}, capsys)
    assert result["failed"] and "lock_holder" not in result
    assert result["msg"].startswith("git log failed (git exited 128): fatal: cannot change to")


def test_every_read_runs_without_optional_git_locks(tmp_path, capsys, monkeypatch):
    """`git status` must not rewrite .git/index under a concurrent checkout."""
    from ansible.module_utils import basic
    seen = []

    def run_command(self, argv, **kw):
        seen.append((argv, kw.get("environ_update")))
        return 128, "", "fatal: not a git repository"

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    result = run_module(release_facts.main, {"project_dir": str(tmp_path), "target": "v1"}, capsys)
    assert result["failed"] and seen
    for argv, env in seen:
        assert argv[:3] == ["git", "-C", str(tmp_path)]
        assert env == {"LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}


def test_a_missing_env_file_is_a_read_error_not_a_module_failure(server, app, capsys, monkeypatch):
    monkeypatch.setattr(release_facts, "gather", lambda *a, **kw: {"target_migrations": NAMES, "from": {}})
    result = run_module(release_facts.main, {"project_dir": str(app), "target": "v1", "read_applied": True,
                                             "env_file": str(app / "missing.env")}, capsys)
    assert result["_rc"] == 0 and result["applied_migrations"] is None
    assert result["applied_migrations_error"] == "env_file %s does not exist" % (app / "missing.env")


def test_module_returns_the_sql_the_database_is_ahead_by_and_the_new_sql(server, app, capsys, monkeypatch):
    """ahead_sql from the current commit and new_sql from the target, read from a real git
    repository by the module's own git runs (gather mocked at the git/docker level)."""
    import subprocess
    base = app / "prisma/migrations"
    rename = "20250317000000_rename_tag_name"
    for name, sql in ((NAMES[0], "CREATE TABLE a (id int);\n"), (rename, 'ALTER TABLE "Tag" RENAME COLUMN "name" TO "label";\n')):
        (base / name).mkdir(parents=True)
        (base / name / "migration.sql").write_text(sql)
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", GIT_AUTHOR_NAME="t",
               GIT_AUTHOR_EMAIL="t@x", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@x")
    for argv in (["init", "-q"], ["add", "prisma"], ["commit", "-q", "-m", "m"]):
        subprocess.run(["git", "-C", str(app)] + argv, check=True, env=env)
    server.update(prisma_migrations=[NAMES[0], NAMES[1], rename])
    facts = {"target_migrations": [NAMES[0], rename], "from_migrations": [NAMES[0]],
             "from": {"sha": "HEAD"}, "target": {"sha": "HEAD"}}
    monkeypatch.setattr(release_facts, "gather", lambda *a, **kw: dict(facts))
    result = run_module(release_facts.main, {"project_dir": str(app), "target": "v1", "read_applied": True,
                                             "migrations_dir": "prisma/migrations"}, capsys)
    assert result["_rc"] == 0, result
    # add_tags is applied but in no commit here: null (the gate judges it incompatible)
    assert result["ahead_sql"] == {NAMES[1]: None}
    assert result["new_sql"] == {rename: 'ALTER TABLE "Tag" RENAME COLUMN "name" TO "label";\n'}


def test_the_callers_own_run_holding_the_lock_lets_the_reads_go_on(tmp_path, capsys):
    """The run protocol: a role called by a playbook that holds the lock (same run id)
    is not told that another run holds it; another run id still is."""
    lock = tmp_path / "lock"
    lock.write_text(json.dumps({"run_id": "r1", "owner": "alice", "controller": "awx-1", "ttl": 600,
                                "started_epoch": time.time() - 5, "started": "now"}))
    args = {"project_dir": str(tmp_path / "missing"), "target": "v1", "lock_path": str(lock)}
    mine = run_module(release_facts.main, dict(args, run_id="r1"), capsys)
    assert "lock_holder" not in mine and mine["msg"].startswith("git log failed")
    other = run_module(release_facts.main, dict(args, run_id="r2"), capsys)
    assert other["lock_holder"]["run_id"] == "r1"


# ------------------------------------------------------------ table statistics (the lint's sizes)

STATS_CASES = [
    # (id, module args, facts gather returns, server failure, stats expected, stats error start, applied expected)
    ("new migrations: stats and the applied migrations",
     {"read_applied": True, "table_stats": True},
     {"target_migrations": NAMES, "from_migrations": NAMES[:1]}, None, True, "", NAMES[:1]),
    ("stats alone (deploy's plan)", {"table_stats": True},
     {"target_migrations": NAMES, "from_migrations": NAMES[:1]}, None, True, "", None),
    ("no new migrations: not read", {"table_stats": True},
     {"target_migrations": NAMES, "from_migrations": NAMES}, None, False, "", None),
    ("migrations not read: not read", {"table_stats": True},
     {"target_migrations": None, "from_migrations": None}, None, False, "", None),
    ("a failed statistics query keeps the applied migrations", {"read_applied": True, "table_stats": True},
     {"target_migrations": NAMES, "from_migrations": NAMES[:1]}, "table_stats", False,
     "psql (host, 127.0.0.1:5433) failed (exit code 3): ", NAMES[:1]),
    ("server unreachable: both say why", {"read_applied": True, "table_stats": True},
     {"target_migrations": NAMES, "from_migrations": NAMES[:1]}, "connect", False,
     "the host's psql cannot reach the server: ", None),
]


@pytest.mark.parametrize("args,facts,fail,read,error,applied", [c[1:] for c in STATS_CASES],
                         ids=[c[0] for c in STATS_CASES])
def test_table_stats_for_the_lint(server, app, capsys, monkeypatch, args, facts, fail, read, error, applied):
    server.update(prisma_migrations=NAMES[:1], **({"fail": {fail: None}} if fail else {}))
    gathered = dict(facts, **{"from": {"sha": "a"}, "target": {"sha": "b"}})
    monkeypatch.setattr(release_facts, "gather", lambda *a, **kw: gathered)
    monkeypatch.setattr(release_facts, "migrations_sql", lambda *a, **kw: {})
    result = run_module(release_facts.main, dict({"project_dir": str(app), "target": "v1",
                                                  "migrations_dir": "prisma/migrations"}, **args), capsys)
    assert result["_rc"] == 0, result
    if read:
        assert result["table_stats"] == {
            'public."Entry"': {"rows": 25, "estimate": -1, "bytes": 8192 * 26, "pk": ["id"]},
            'public."Tag"': {"rows": 3, "estimate": -1, "bytes": 8192 * 4, "pk": ["id"]},
            "public.notes": {"rows": 7, "estimate": -1, "bytes": 8192 * 8, "pk": None}}
    else:
        assert result["table_stats"] is None
    assert result["table_stats_error"][:len(error)] == error, result["table_stats_error"]
    if fail == "connect":
        assert result["applied_migrations_error"] == result["table_stats_error"]
    assert result["applied_migrations"] == applied
    assert PW not in json.dumps(result)
    psql_calls = [c for c in server.calls() if c["tool"] == "psql"]
    if not read and not fail and not args.get("read_applied"):
        assert psql_calls == []  # nothing to read: the database is not asked
    # every query runs in the app's database
    assert all("--dbname=lifetracker" in c["argv"] or "--version" in c["argv"] for c in psql_calls)


def test_exact_count_limit_reaches_the_query(server, app, capsys, monkeypatch):
    seen = []
    real = release_facts.read_database

    def spy(module, conn, env_path, applied=True, stats_limit=None):
        seen.append(stats_limit)
        return real(module, conn, env_path, applied=applied, stats_limit=stats_limit)
    monkeypatch.setattr(release_facts, "read_database", spy)
    monkeypatch.setattr(release_facts, "gather", lambda *a, **kw: {
        "target_migrations": NAMES, "from_migrations": NAMES[:1], "from": {"sha": "a"}, "target": {"sha": "b"}})
    monkeypatch.setattr(release_facts, "migrations_sql", lambda *a, **kw: {})
    args = {"project_dir": str(app), "target": "v1", "migrations_dir": "m", "table_stats": True}
    assert run_module(release_facts.main, dict(args, exact_count_limit_mb=2), capsys)["_rc"] == 0
    assert seen == [2 * 1024 * 1024]
    refused = run_module(release_facts.main, dict(args, exact_count_limit_mb=-1), capsys)
    assert refused["_rc"] == 1 and "exact_count_limit_mb must be 0" in refused["msg"]


class CannedProbe:
    """The server check's probes, answered: git and docker there, or not. probes: every probe run."""

    def __init__(self, missing=()):
        self.missing = missing
        self.probes = []

    def __call__(self, module, timeout):
        probe = FakeProbe(absent=self.missing)
        probe.calls = self.probes
        return probe


@pytest.mark.parametrize("missing,gather_error,message", [
    ((), None, None),
    (("docker",), "docker: command not found", "docker: not found - apt-get install docker.io"),
    ((), "git rev-parse failed: not a git repository", "git rev-parse failed: not a git repository"),
], ids=["ready", "docker-missing", "reads-fail"])
def test_check_server_runs_preflights_checks_with_the_reads(app, capsys, monkeypatch, missing, gather_error, message):
    """check_server: preflight's own checks in the planning call, alongside the plan's reads; what is
    missing fails the module with preflight's message, also when the reads failed for the same reason."""
    (app / "compose.yaml").write_text("services: {}\n")
    gathered = []

    def fake_gather(*args, **kwargs):
        gathered.append(args)
        if gather_error:
            raise release_facts.ReleaseError(gather_error)
        return {"target_migrations": None, "from": {}}
    monkeypatch.setattr(_preflight, "Probe", CannedProbe(missing))
    monkeypatch.setattr(release_facts, "gather", fake_gather)
    result = run_module(release_facts.main, {"project_dir": str(app), "target": "v1", "check_server": True,
                                             "env_file": str(app / ".env")}, capsys)
    assert gathered
    if message is None:
        assert result["_rc"] == 0, result
        assert result["server"]["ok"] is True and result["server"]["database"]["name"] == "lifetracker"
        assert result["server"]["app"]["env_file"] == str(app / ".env")
        assert result["ansible_facts"] == {"effective_user_id": os.geteuid()}
    else:
        assert result["_rc"] == 1 and result["msg"].startswith(message), result["msg"]
        assert [m["what"] for m in result.get("server", {}).get("missing", [])] == list(missing)


def test_a_server_without_git_or_docker_gets_one_answer_the_checks(app, capsys, monkeypatch, tmp_path):
    """The plan's reads run git and docker in threads while the check runs: a program that is not
    there is an exit code to them, not a result of their own (three results on stdout, which Ansible
    cannot parse). The one answer is the check's, naming what is missing with its fix."""
    (app / "compose.yaml").write_text("services: {}\n")
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    result = run_module(release_facts.main, {"project_dir": str(app), "target": "v1", "check_server": True,
                                             "read_applied": True, "migrations_dir": "prisma/migrations"}, capsys)
    assert result["_rc"] == 1
    assert [m["what"] for m in result["server"]["missing"]] == ["git", "docker"], result["msg"]
    assert result["msg"].startswith("git: not found - apt-get install git\ndocker: not found"), result["msg"]


@pytest.mark.parametrize("gather_error", [None, "docker compose config failed (docker exited 15): yaml: line 2"],
                         ids=["loads", "does-not-load"])
def test_the_server_check_leaves_out_what_the_plan_does_not_need(app, capsys, monkeypatch, gather_error):
    """In the planning call the check reads no PostgreSQL tool's version (none is required: each is a
    Perl wrapper, 30 ms of CPU) and does not load the compose file: gather's `docker compose config`
    does, and its failure is the module's."""
    (app / "compose.yaml").write_text("services: {}\n")
    canned = CannedProbe()

    def fake_gather(*args, **kwargs):
        if gather_error:
            raise release_facts.ReleaseError(gather_error)
        return {"target_migrations": None, "from": {}}
    monkeypatch.setattr(_preflight, "Probe", canned)
    monkeypatch.setattr(release_facts, "gather", fake_gather)
    result = run_module(release_facts.main, {"project_dir": str(app), "target": "v1", "check_server": True}, capsys)
    probed = sorted(" ".join([os.path.basename(argv[0])] + argv[1:3]) for argv in canned.probes)
    assert probed == ["docker --version", "docker compose version", "docker version --format", "git --version",
                      "git -C " + str(app)]
    if gather_error:
        assert result["_rc"] == 1 and result["msg"] == gather_error
    else:
        assert result["_rc"] == 0, result
        assert {tool: result["server"]["tools"][tool] for tool in _preflight.PG_TOOLS} == dict.fromkeys(_preflight.PG_TOOLS)


def test_the_server_check_and_the_reads_overlap(app, capsys, monkeypatch):
    """The reads start before the check ends: the fake reads wait for the check to have begun, and
    the check waits for the reads to have begun (one at a time, either would wait out its timeout)."""
    (app / "compose.yaml").write_text("services: {}\n")
    check_began, reads_began = threading.Event(), threading.Event()

    class WaitingProbe(CannedProbe):
        def __call__(self, module, timeout):
            check_began.set()
            seen.append(("reads running while the check ran", reads_began.wait(10)))
            return super().__call__(module, timeout)

    def fake_gather(*args, **kwargs):
        reads_began.set()
        seen.append(("check running while the reads ran", check_began.wait(10)))
        return {"target_migrations": None, "from": {}}
    seen = []
    monkeypatch.setattr(_preflight, "Probe", WaitingProbe())
    monkeypatch.setattr(release_facts, "gather", fake_gather)
    result = run_module(release_facts.main, {"project_dir": str(app), "target": "v1", "check_server": True}, capsys)
    assert result["_rc"] == 0, result
    assert sorted(seen) == [("check running while the reads ran", True), ("reads running while the check ran", True)]


@pytest.mark.parametrize("target,reads", [("HEAD", 0), ("v1", 1), ("no-such-ref", 1)],
                         ids=["no-op", "rollback", "unknown-target"])
def test_a_no_op_does_not_read_the_database(app, capsys, monkeypatch, target, reads):
    """The target is the checkout's commit: nothing for the gate to compare, no psql. A rollback reads
    the applied migrations; so does a target git cannot resolve (gather reports it, the read is
    not skipped on a guess)."""
    git = ["git", "-C", str(app), "-c", "user.name=t", "-c", "user.email=t@invalid"]
    subprocess.run(git + ["init", "-q"], check=True)
    for tag in ("v1", "v2"):
        subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", tag], check=True)
        subprocess.run(git + ["tag", tag], check=True)
    calls = []

    def fake_gather(*args, **kwargs):
        differs = target != "HEAD"
        return {"target_migrations": NAMES if differs else None, "from_migrations": NAMES if differs else None,
                "from": {"sha": "a"}, "target": {"sha": "b" if differs else "a"}}

    def fake_read_applied(module, conn, env_path):
        calls.append(env_path)
        return NAMES, "", {"via": "host"}
    monkeypatch.setattr(release_facts, "gather", fake_gather)
    monkeypatch.setattr(release_facts, "read_applied", fake_read_applied)
    result = run_module(release_facts.main, {"project_dir": str(app), "target": target, "read_applied": True,
                                             "migrations_dir": "prisma/migrations"}, capsys)
    assert result["_rc"] == 0, result
    assert len(calls) == reads
    assert result["applied_migrations"] == (NAMES if reads else None)


def test_the_applied_migrations_are_read_alongside_the_plans_reads(app, capsys, monkeypatch):
    """A rollback's gate needs the applied migrations: their read starts with gather's, not after it
    (each fake waits for the other to have begun; one after the other, both would time out)."""
    reads_began, applied_began = threading.Event(), threading.Event()
    seen = []

    def fake_gather(*args, **kwargs):
        reads_began.set()
        seen.append(("applied read running while gather ran", applied_began.wait(10)))
        return {"target_migrations": NAMES, "from_migrations": NAMES, "from": {"sha": "a"}, "target": {"sha": "b"}}

    def fake_read_applied(module, conn, env_path):
        applied_began.set()
        seen.append(("gather running while the applied read ran", reads_began.wait(10)))
        return NAMES, "", {"via": "host"}
    monkeypatch.setattr(release_facts, "gather", fake_gather)
    monkeypatch.setattr(release_facts, "read_applied", fake_read_applied)
    result = run_module(release_facts.main, {"project_dir": str(app), "target": "v1", "read_applied": True,
                                             "migrations_dir": "prisma/migrations"}, capsys)
    assert result["_rc"] == 0, result
    assert (result["applied_migrations"], result["via"]) == (NAMES, "host")
    assert sorted(seen) == [("applied read running while gather ran", True),
                            ("gather running while the applied read ran", True)]
