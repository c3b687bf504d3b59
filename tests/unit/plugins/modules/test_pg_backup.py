"""pg_backup end to end against fake client tools (tests/unit/fixtures/pg/fakepg.py).

The fake pg_dump writes a real custom-format dump (fixture), the fake docker strips the
`docker compose ... exec -T postgres` prefix, archive reads use the real pg_restore;
psql answers from a small JSON "server". What is asserted is real: files, modes,
manifests, retention, results, and every argument list that ran.
"""

import datetime
import hashlib
import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils import _lock, _preflight
from ansible_collections.maverick.rollback.plugins.module_utils._pg import read_manifest
from ansible_collections.maverick.rollback.plugins.modules import pg_backup
from pg_testlib import FIX, PW, needs_pg_restore, run_module, start_fake_server

pytestmark = needs_pg_restore


@pytest.fixture
def server(tmp_path, monkeypatch):
    return start_fake_server(tmp_path, monkeypatch)


@pytest.fixture
def project(tmp_path):
    app = tmp_path / "lifetracker"
    app.mkdir()
    (app / ".env").write_text("COMPOSE_PROJECT_NAME=lt\nPOSTGRES_USER=lifetracker\nPOSTGRES_DB=lifetracker\n"
                              "POSTGRES_PASSWORD=%s\nPOSTGRES_PORT=25720\n" % PW)
    return app


def run(args, capsys, check=False):
    return run_module(pg_backup.main, args, capsys, check)


def base(project, tmp_path, **kw):
    args = {"project_dir": str(project), "backup_dir": str(tmp_path / "backups"), "via": "compose"}
    args.update(kw)
    return args


def assert_no_password_in_argv(server):
    for call in server.calls():
        assert not any("s3cret" in a for a in call["argv"]), call["argv"]


def test_compose_backup_writes_verified_private_backup(server, project, tmp_path, capsys):
    result = run(base(project, tmp_path, commit="B65522E1BAB699CD5A9A58211CF8067BB51B2527"), capsys)
    assert result["_rc"] == 0 and result["changed"] is True, result.get("msg")
    path = Path(result["path"])
    assert path.parent == tmp_path / "backups"
    assert path.name.startswith("lifetracker_lifetracker_") and path.name.endswith("_b65522e1bab6.dump")
    data = (FIX / "custom.dump").read_bytes()
    assert path.read_bytes() == data
    assert result["sha256"] == hashlib.sha256(data).hexdigest() and result["size"] == len(data)
    assert result["table_count"] == 3 and result["toc_entries"] == 23 and result["verified"] is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    manifest = read_manifest(str(path))
    assert result["manifest"] == str(path) + ".json"
    assert stat.S_IMODE(os.stat(result["manifest"]).st_mode) == 0o600
    assert {k: manifest[k] for k in ("app", "database", "format", "size", "sha256", "table_count", "commit",
                                     "verified", "verification", "via")} == {
        "app": "lifetracker", "database": "lifetracker", "format": "custom", "size": len(data),
        "sha256": result["sha256"], "table_count": 3, "commit": "b65522e1bab6", "verified": True,
        "verification": "list", "via": "compose"}
    assert manifest["server_version"].startswith("15.18") and manifest["tools"]["pg_dump"] == "15.18"
    assert datetime.datetime.strptime(manifest["created_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert sorted(os.listdir(path.parent)) == [path.name, path.name + ".json"]  # no temporary left

    dump = [c for c in server.calls() if c["tool"] == "pg_dump"]
    assert len(dump) == 1 and dump[0]["via"] == "compose"
    assert dump[0]["argv"][:9] == ["docker", "compose", "--project-directory", str(project), "exec", "-T",
                                   "-e", "LC_ALL=C", "-e"]
    assert "-Fc" in dump[0]["argv"] and "-Z0" in dump[0]["argv"] and "--dbname=lifetracker" in dump[0]["argv"]
    assert dump[0]["container_env"]["PGPASSWORD"] == PW  # by name, from docker's own environment
    assert_no_password_in_argv(server)


def test_host_backup_uses_private_pgpass(server, project, tmp_path, capsys):
    result = run(base(project, tmp_path, via="host", commit="abc1234"), capsys)
    assert result["_rc"] == 0, result
    calls = server.calls()
    assert {c["tool"] for c in calls} >= {"psql", "pg_dump", "pg_restore"}
    for call in calls:
        assert call["via"] == "host" and call["pgpassword"] is None and call["lc_all"] == "C"
        if call["tool"] in ("psql", "pg_dump"):
            assert call["pgpassfile_mode"] == "0o600"
            assert "-h" in call["argv"] and "25720" in call["argv"]  # POSTGRES_PORT from .env
    assert not os.path.exists(calls[0]["pgpassfile"])  # removed at the end
    assert_no_password_in_argv(server)


def test_check_mode_creates_nothing(server, project, tmp_path, capsys):
    result = run(base(project, tmp_path, keep=1), capsys, check=True)
    assert result["_rc"] == 0 and result["changed"] is True, result.get("msg")
    assert result["path"].startswith(str(tmp_path / "backups") + "/lifetracker_lifetracker_")
    assert result["removed"] == [] and not (tmp_path / "backups").exists()
    assert {c["tool"] for c in server.calls()} == {"psql"}  # read-only probe only


def test_check_mode_reports_what_retention_would_remove(server, project, tmp_path, capsys):
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    old = [backups / ("lifetracker_lifetracker_2026010%dT000000Z_abc1234.dump" % d) for d in (1, 2, 3)]
    for path in old:
        path.write_bytes(b"PGDMP...")
    result = run(base(project, tmp_path, keep=2), capsys, check=True)
    assert result["removed"] == [str(old[0]), str(old[1])]
    assert all(p.exists() for p in old)


def make_backup(directory, day, verified=True, commit="abc1234"):
    path = directory / ("lifetracker_lifetracker_202601%02dT000000Z_%s.dump" % (day, commit))
    path.write_bytes(b"PGDMP old")
    if verified is not None:
        (directory / (path.name + ".json")).write_text(json.dumps({"sha256": "0" * 64, "verified": verified}))
    return path


def test_retention_keeps_newest_verified_and_protected(server, project, tmp_path, capsys):
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    b1 = make_backup(backups, 1)
    b2 = make_backup(backups, 2)  # protected (the ledger points at it)
    b3 = make_backup(backups, 3)
    b4 = make_backup(backups, 4, verified=None)  # no manifest
    other_app = backups / "otherapp_lifetracker_20260101T000000Z_abc1234.dump"
    other_app.write_bytes(b"x")
    stray = backups / "notes.txt"
    stray.write_text("keep me")
    result = run(base(project, tmp_path, keep=2, protect=[str(b2)]), capsys)
    assert result["_rc"] == 0, result
    # keep 2 = the new backup and b4; the new backup is also the newest verified one; b2 is protected.
    assert result["removed"] == [str(b1), str(b3)]
    left = sorted(os.listdir(backups))
    assert left == sorted([b2.name, b2.name + ".json", b4.name, other_app.name, "notes.txt",
                           Path(result["path"]).name, Path(result["path"]).name + ".json"])


def test_retention_ages_backups_by_their_manifest_time(server, project, tmp_path, capsys):
    """A file renamed to a later stamp is as old as its manifest says: it does not push
    the real recent backups out (db_restore's rule for 'latest', the same here)."""
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    renamed = make_backup(backups, 28)
    renamed = renamed.rename(backups / "lifetracker_lifetracker_20991231T000000Z_abc1234.dump")
    (backups / (renamed.name + ".json")).write_text(json.dumps(
        {"sha256": "0" * 64, "verified": True, "created_at": "2026-01-01T00:00:00Z"}))
    recent = make_backup(backups, 2)
    result = run(base(project, tmp_path, keep=2), capsys)
    assert result["_rc"] == 0, result
    # keep 2 = the new backup and `recent` (Jan 2); the renamed one was taken Jan 1.
    assert result["removed"] == [str(renamed)]
    assert recent.exists() and not renamed.exists()


def test_pg_dump_failure_leaves_no_file(server, project, tmp_path, capsys):
    server.update(fail={"pg_dump": "pg_dump: error: Dumping the contents of table \"Entry\" failed: "
                                   "PQgetResult() failed.\npg_dump: detail: password=%s\n" % PW})
    result = run(base(project, tmp_path), capsys)
    assert result["_rc"] == 1 and result.get("failed") is True
    assert result["msg"].startswith("pg_dump (docker compose exec postgres) failed (exit code 1): pg_dump: error: "
                                    "Dumping the contents of table")
    assert "partial file removed" in result["msg"] and "s3cret" not in result["msg"]
    assert os.listdir(tmp_path / "backups") == [] and "path" not in result


def test_connection_failure_before_anything_is_created(server, project, tmp_path, capsys):
    server.update(fail={"connect": None})
    result = run(base(project, tmp_path), capsys)
    assert result["_rc"] == 1
    assert result["msg"].startswith("psql (docker compose exec postgres) failed (exit code 2): authentication failed "
                                    "for user fix (the password from login_password or the env file is not the "
                                    "server's): psql: error: connection to server failed: FATAL:  password "
                                    "authentication failed")
    assert not (tmp_path / "backups").exists()


def test_missing_database_is_refused(server, project, tmp_path, capsys):
    result = run(base(project, tmp_path, database="nosuchdb"), capsys)
    assert result["_rc"] == 1 and "database 'nosuchdb' does not exist" in result["msg"]
    assert not (tmp_path / "backups").exists()


def test_full_verification_restores_compares_and_drops(server, project, tmp_path, capsys):
    result = run(base(project, tmp_path, verify="full"), capsys)
    assert result["_rc"] == 0, result
    assert result["verification"] == "full"
    assert result["row_counts"] == {'public."Entry"': 25, 'public."Tag"': 3, "public.notes": 7}
    assert server.dbs() == ["lifetracker", "postgres"]  # the verify database is gone
    created = [c for c in server.calls() if c["tool"] == "pg_restore" and any(
        a.startswith("--dbname=lifetracker_verify_") for a in c["argv"])]
    assert len(created) == 1
    assert read_manifest(result["path"])["row_counts"] == result["row_counts"]


def test_full_verification_mismatch_fails_and_cleans_up(server, project, tmp_path, capsys):
    state = server.state()
    state["dbs"]["lifetracker"]["rows"]['public."Entry"'] = 40
    server.write(state)
    result = run(base(project, tmp_path, verify="full"), capsys)
    assert result["_rc"] == 1
    assert "full verification failed" in result["msg"] and 'public."Entry": restored 25 rows, live 40' in result["msg"]
    assert os.listdir(tmp_path / "backups") == [] and server.dbs() == ["lifetracker", "postgres"]


INVALID_CASES = [
    ("directory-in-compose", {"format": "directory"}, "format=directory needs via=host"),
    ("compress-range", {"compress": 10}, "compress must be 0-9"),
    ("bad-commit", {"commit": "main"}, "not a git SHA"),
    ("bad-app", {"app": "my_app"}, "app 'my_app'"),
    ("bad-db", {"database": "x;drop"}, "database name 'x;drop'"),
    ("jobs", {"jobs": 0}, "jobs must be at least 1"),
    ("keep", {"keep": -1}, "keep must be 0"),
    ("no-user", {"env_file": "EMPTY"}, "no database user"),
    ("env-file-missing", {"env_file": "/nonexistent/.env"}, "env_file /nonexistent/.env does not exist"),
]


@pytest.mark.parametrize("args,message", [c[1:] for c in INVALID_CASES], ids=[c[0] for c in INVALID_CASES])
def test_invalid_input_is_refused_before_any_tool_runs(server, project, tmp_path, capsys, args, message):
    if args.get("env_file") == "EMPTY":
        (tmp_path / "empty.env").write_text("")
        args = dict(args, env_file=str(tmp_path / "empty.env"))
    result = run(base(project, tmp_path, **args), capsys)
    assert result["_rc"] == 1 and message in result["msg"]
    assert server.calls() == [] and not (tmp_path / "backups").exists()


def test_directory_format_on_host(server, project, tmp_path, capsys, monkeypatch):
    """pg_dump -Fd -j: the fake writes the fixture directory where -f points."""
    wrapper = Path(server.bindir) / "pg_dump"
    wrapper.write_text('#!/bin/sh\nfor a; do out=$a; [ "$prev" = -f ] && dest=$a; prev=$a; done\n'
                       'echo "$@" > %s/pg_dump.argv\ncp -r %s "$dest"\n' % (tmp_path, FIX / "dir.dump"))
    result = run(base(project, tmp_path, via="host", format="directory", jobs=3), capsys)
    assert result["_rc"] == 0, result
    path = Path(result["path"])
    assert path.is_dir() and sorted(os.listdir(path)) == sorted(os.listdir(FIX / "dir.dump"))
    assert result["format"] == "directory" and result["table_count"] == 3
    assert result["size"] == sum(f.stat().st_size for f in (FIX / "dir.dump").iterdir())  # not the dir's st_size
    argv = (tmp_path / "pg_dump.argv").read_text().split()
    assert argv[argv.index("-j") + 1] == "3" and "-Fd" in argv
    assert read_manifest(str(path))["format"] == "directory"


def test_commit_defaults_to_git_head(server, project, tmp_path, capsys):
    if not shutil.which("git"):
        pytest.skip("git not installed")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    subprocess.run(["git", "init", "-q", str(project)], check=True, env=env)
    subprocess.run(["git", "-C", str(project), "commit", "-q", "--allow-empty", "-m", "x"], check=True, env=env)
    head = subprocess.run(["git", "-C", str(project), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    result = run(base(project, tmp_path), capsys)
    assert result["commit"] == head[:12] and result["path"].endswith("_%s.dump" % head[:12])


def test_free_name_never_reuses_a_name(tmp_path):
    when = datetime.datetime(2026, 1, 5, 3, 15, tzinfo=datetime.timezone.utc)
    first = pg_backup.free_name(str(tmp_path), "lt", "lt", when, "abc1234")
    Path(first).write_bytes(b"x")
    second = pg_backup.free_name(str(tmp_path), "lt", "lt", when, "abc1234")
    assert first.endswith("_abc1234.dump") and second.endswith("_abc1234-1.dump")


def dead_pid():
    """A pid that is certainly not running: a child that has exited and been reaped."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_partials_of_killed_runs_are_removed_live_ones_and_others_kept(server, project, tmp_path, capsys):
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    name = "lifetracker_lifetracker_20260101T000000Z_b65522e1bab6.dump"
    dead = backups / (".%s.partial-%d" % (name, dead_pid()))
    live = backups / (".%s.partial-%d" % (name, os.getpid()))  # a run still writing
    other_app = backups / (".otherapp_lifetracker_20260101T000000Z_b65522e1bab6.dump.partial-%d" % dead_pid())
    for path in (dead, live, other_app):
        path.write_bytes(b"PGDMP half")
    result = run(base(project, tmp_path), capsys)
    assert result["_rc"] == 0, result.get("msg")
    assert result["removed_partials"] == [str(dead)]
    assert not dead.exists() and live.exists() and other_app.exists()


def test_check_mode_leaves_partials(server, project, tmp_path, capsys):
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    dead = backups / (".lifetracker_lifetracker_20260101T000000Z_b65522e1bab6.dump.partial-%d" % dead_pid())
    dead.write_bytes(b"PGDMP half")
    result = run(base(project, tmp_path), capsys, check=True)
    assert result["_rc"] == 0 and dead.exists() and result["removed_partials"] == []


def dump_calls(server):
    return [c for c in server.calls() if c["tool"] == "pg_dump" and "--version" not in c["argv"]]


def test_auto_takes_the_host_tools_when_they_fit(server, project, tmp_path, capsys):
    result = run(base(project, tmp_path, via="auto"), capsys)
    assert result["_rc"] == 0 and result["via"] == "host" and "via_reason" not in result, result
    assert [c["via"] for c in dump_calls(server)] == ["host"]
    assert read_manifest(result["path"])["via"] == "host"
    assert_no_password_in_argv(server)


@pytest.mark.parametrize("setup, reason", [
    (lambda server, bindir: server.update(pg_dump_version="13.16"), "pg_dump 13.16 on the host is older than the server (15.18)"),
    (lambda server, bindir: server.update(fail={"host_connect": ""}), "the host's pg_dump cannot reach the server: psql"),
    (lambda server, bindir: os.unlink(os.path.join(bindir, "pg_dump")), "no pg_dump on the host"),
])
def test_auto_falls_back_to_compose_and_says_why(server, project, tmp_path, capsys, monkeypatch, setup, reason):
    monkeypatch.setenv("PATH", server.bindir)  # no client tools of the machine running the tests
    setup(server, server.bindir)
    result = run(base(project, tmp_path, via="auto"), capsys)
    assert result["_rc"] == 0 and result["via"] == "compose", result
    assert result["via_reason"].startswith(reason), result["via_reason"]
    assert [c["via"] for c in dump_calls(server)] == ["compose"]
    assert Path(result["path"]).read_bytes() == (FIX / "custom.dump").read_bytes()
    assert read_manifest(result["path"])["via"] == "compose"


def test_auto_directory_format_needs_the_host_tools(server, project, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", server.bindir)
    os.unlink(os.path.join(server.bindir, "pg_dump"))
    result = run(base(project, tmp_path, via="auto", format="directory"), capsys)
    assert result["_rc"] == 1 and "format=directory needs the host's client tools" in result["msg"], result
    assert "no pg_dump on the host" in result["msg"] and dump_calls(server) == []
    assert not (tmp_path / "backups").exists() or os.listdir(tmp_path / "backups") == []


def test_source_database_is_dumped_under_the_name_of_database(server, project, tmp_path, capsys):
    aside = "lifetracker_pre_restore_20260105031500"
    server.update(dbs={"postgres": {"rows": {}}, "lifetracker": {"rows": {}}, aside: {"rows": dict(server.ROWS)}})
    result = run(base(project, tmp_path, source_database=aside, keep=1), capsys)
    assert result["_rc"] == 0, result
    assert os.path.basename(result["path"]).startswith("lifetracker_lifetracker_")
    manifest = read_manifest(result["path"])
    assert manifest["database"] == "lifetracker" and manifest["source_database"] == aside
    assert [c["argv"][-1] for c in dump_calls(server)] == ["--dbname=" + aside]

    missing = run(base(project, tmp_path, source_database="lifetracker_pre_restore_1"), capsys)
    assert missing["_rc"] == 1 and "'lifetracker_pre_restore_1' does not exist" in missing["msg"]
    assert "source_database" not in read_manifest(run(base(project, tmp_path), capsys)["path"])


def test_a_stopped_database_container_is_named_not_a_damaged_backup(server, project, tmp_path, capsys):
    server.update(fail={"compose_down": None})
    result = run(base(project, tmp_path), capsys)
    assert result["_rc"] == 1
    assert result["msg"].startswith("psql (docker compose exec postgres) failed (exit code 1): the compose service "
                                    "postgres is not running (docker compose ps; start it with docker compose up -d "
                                    "postgres)"), result["msg"]
    assert not (tmp_path / "backups").exists()


def test_auto_without_host_tools_and_a_stopped_container_says_both(server, project, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", server.bindir)
    os.unlink(os.path.join(server.bindir, "pg_dump"))
    server.update(fail={"compose_down": None})
    result = run(base(project, tmp_path, via="auto"), capsys)
    assert result["_rc"] == 1 and result["msg"].startswith(
        "no pg_dump on the host, and psql (docker compose exec postgres) failed (exit code 1): the compose service "
        "postgres is not running"), result["msg"]


def test_default_via_is_auto_and_env_keys_name_another_apps_settings(server, project, tmp_path, capsys):
    (project / ".env").write_text("APP_DB_USER=shop\nAPP_DB_NAME=lifetracker\nAPP_DB_PASS=%s\nAPP_DB_PORT=6543\n"
                                  "POSTGRES_USER=wrong\n" % PW)
    args = base(project, tmp_path, env_keys={"database": "APP_DB_NAME", "user": "APP_DB_USER",
                                             "password": "APP_DB_PASS", "port": "APP_DB_PORT"})
    del args["via"]
    result = run(args, capsys)
    assert result["_rc"] == 0 and result["via"] == "host", result.get("msg")
    dump = dump_calls(server)[0]["argv"]
    assert dump[dump.index("-U") + 1] == "shop" and dump[dump.index("-p") + 1] == "6543"
    assert_no_password_in_argv(server)


# --------------------------------------------------------------------------- fault 10: no pgpass file left behind

def pgpass_dirs(tmp):
    return sorted(p.name for p in Path(tmp).iterdir() if p.name.startswith("maverick-pg-"))


@pytest.mark.parametrize("version,via", [("18devel", "compose"), ("17beta1", "compose"),
                                         ("16.2 (Debian 16.2-1)", "compose"), ("15.18", "host")])
def test_any_tool_version_string_is_read_and_the_pgpass_file_removed(server, project, tmp_path, capsys, monkeypatch,
                                                                     version, via):
    """The server is 15: a pg_dump 18devel/17beta1/16.2 fits, and no 0600 pgpass file stays in the temp dir."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp))
    server.update(pg_dump_version=version)
    result = run(base(project, tmp_path, via="auto"), capsys)
    assert result["_rc"] == 0, result.get("msg")
    assert result["via"] == "host"
    assert pgpass_dirs(tmp) == []
    server.update(pg_dump_version="13.16")  # too old: compose, and the host runner's pgpass is gone too
    result = run(base(project, tmp_path, via="auto"), capsys)
    assert result["_rc"] == 0 and result["via"] == "compose", result.get("msg")
    assert pgpass_dirs(tmp) == []


def test_the_pgpass_file_of_a_killed_run_is_removed_by_the_next_run(server, project, tmp_path, capsys, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp))
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = tmp / ("maverick-pg-%d-x1y2" % dead.pid)  # what a SIGKILLed run leaves: its pid, a 0600 pgpass
    left.mkdir(mode=0o700)
    (left / "pgpass").write_text("*:*:*:*:%s\n" % PW)
    alive = tmp / ("maverick-pg-%d-a1b2" % os.getppid())  # another run still working: kept
    alive.mkdir(mode=0o700)
    (alive / "pgpass").write_text("*:*:*:*:other\n")
    result = run(base(project, tmp_path, via="host"), capsys)
    assert result["_rc"] == 0, result.get("msg")
    assert pgpass_dirs(tmp) == [alive.name]


def test_a_database_left_refusing_connections_is_repaired_before_the_dump(server, project, tmp_path, capsys):
    """Fault 1: an interrupted swap left datallowconn off; pg_dump could not connect until it is on again."""
    state = server.state()
    state["dbs"]["lifetracker"]["allowconn"] = False
    server.write(state)
    result = run(base(project, tmp_path), capsys)
    assert result["_rc"] == 0 and result["repaired_connections"] == ["lifetracker"], result.get("msg")
    assert server.state()["dbs"]["lifetracker"]["allowconn"] is True
    again = run(base(project, tmp_path), capsys)
    assert again["repaired_connections"] == []


def test_manifest_records_rows_sizes_and_primary_keys_per_table(server, project, tmp_path, capsys):
    result = run(base(project, tmp_path, exact_count_limit_mb=2), capsys)
    assert result["_rc"] == 0, result
    assert result["tables"]['public."Entry"'] == {"rows": 25, "estimate": -1, "bytes": 8192 * 26, "pk": ["id"]}
    assert result["tables"]["public.notes"]["pk"] is None
    manifest = read_manifest(result["path"])
    assert manifest["tables"] == result["tables"] and manifest["tables_exact_limit"] == 2 * 1024 * 1024


def test_unreadable_table_stats_warn_and_the_backup_goes_on(server, project, tmp_path, capsys):
    server.update(fail={"table_stats": None})
    result = run(base(project, tmp_path), capsys)
    assert result["_rc"] == 0, result
    assert "tables" not in result and "tables" not in read_manifest(result["path"])
    assert "per-table row counts were not recorded" in json.dumps(result["warnings"])


def test_table_stats_off(server, project, tmp_path, capsys):
    result = run(base(project, tmp_path, table_stats=False), capsys)
    assert result["_rc"] == 0 and "tables" not in result and "tables" not in read_manifest(result["path"])


# --------------------------------------------------------------------------- the release ledger and the backup directory
# pg_backup reads the ledger itself (ledger_path) and refuses a backup directory others can
# write to, both before it dumps anything: the db_backup role no longer reads either.

A, B = "a" * 40, "b" * 40


def ledger_at(tmp_path, records):
    """The ledger file; a record given as a string is written as that line (a torn one)."""
    path = tmp_path / "state" / "ledger.jsonl"
    path.parent.mkdir(mode=0o700)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def healthy(commit):
    return {"action": "deploy", "app": "lifetracker", "to_commit": commit, "outcome": "healthy"}


def taken_at(backup, commit, outcome="verified"):
    return {"action": "backup", "app": "lifetracker", "path": backup, "commit": commit[:12], "outcome": outcome}


# (id, ledger records over the backups b[1..3] (oldest first), module args, backups kept of b1..b3)
# Each run adds a new backup; keep=1 keeps only it, so whatever else survives is protected.
LEDGER_CASES = [
    ("no ledger file yet: nothing protected", None, {}, []),
    ("the backup taken at a healthy release", lambda b: [taken_at(b[1], A), healthy(A)], {}, [1]),
    ("the newest verified backup of that release only", lambda b: [taken_at(b[1], A), taken_at(b[2], A), healthy(A)],
     {}, [2]),
    ("a failed backup protects nothing", lambda b: [taken_at(b[1], A), taken_at(b[2], A, "failed"), healthy(A)],
     {}, [1]),
    ("not a release beyond protect_releases",
     lambda b: [taken_at(b[1], A), healthy(A), taken_at(b[2], B), healthy(B)], {"protect_releases": 1}, [2]),
    ("protect_releases 0: no release protects its backup (rule 1)", lambda b: [taken_at(b[1], A), healthy(A)],
     {"protect_releases": 0}, []),
    ("the backup a deploy record names", lambda b: [dict(healthy(A), backup=b[3])], {}, [3]),
    ("the newest restore's backup and safety backup",
     lambda b: [{"action": "restore", "app": "lifetracker", "backup": b[1], "safety_backup": b[2], "outcome": "restored"}],
     {}, [1, 2]),
    ("the ledger's and protect's together", lambda b: [taken_at(b[1], A), healthy(A)], {"protect": [3]}, [1, 3]),
    ("an unreadable line is skipped, the rest read", lambda b: ["{torn", taken_at(b[1], A), healthy(A)], {}, [1]),
]


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
@pytest.mark.parametrize("records,args,kept", [c[1:] for c in LEDGER_CASES], ids=[c[0] for c in LEDGER_CASES])
def test_retention_keeps_what_the_ledger_points_at(server, project, tmp_path, capsys, records, args, kept, check):
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    b = {day: str(make_backup(backups, day)) for day in (1, 2, 3)}
    ledger = ledger_at(tmp_path, records(b)) if records else tmp_path / "state" / "ledger.jsonl"
    args = dict(args, protect=[b[n] for n in args.get("protect", [])])
    result = run(base(project, tmp_path, keep=1, ledger_path=str(ledger), **args), capsys, check=check)
    assert result["_rc"] == 0, result.get("msg")
    assert result["removed"] == [b[n] for n in (1, 2, 3) if n not in kept]
    assert set(result["protected"]) >= {b[n] for n in kept}
    left = {n for n in (1, 2, 3) if os.path.exists(b[n])}
    assert left == ({1, 2, 3} if check else set(kept))


def test_an_unreadable_ledger_line_is_a_warning(server, project, tmp_path, capsys, warned):
    ledger = ledger_at(tmp_path, [healthy(A)])
    ledger.write_bytes(b"\xff\n" + ledger.read_bytes())
    result = run(base(project, tmp_path, ledger_path=str(ledger)), capsys)
    assert result["_rc"] == 0, result.get("msg")
    assert [w for w in warned if "skipped" in w] == [
        "release ledger %s line 1 skipped: invalid UTF-8 (byte 0xff at column 1)" % ledger]


def test_a_symlinked_ledger_is_refused_before_anything(server, project, tmp_path, capsys):
    target = tmp_path / "elsewhere.jsonl"
    target.write_text("")
    link = tmp_path / "ledger.jsonl"
    link.symlink_to(target)
    result = run(base(project, tmp_path, ledger_path=str(link)), capsys)
    assert result["_rc"] == 1 and result["refused"] is True
    assert result["msg"].startswith("refusing the release ledger %s: it is a symbolic link" % link)
    assert server.calls() == [] and not (tmp_path / "backups").exists()


OPTION = "db_backup_allow_shared_backup_dir"
# (id, mode of backup_dir (None: missing), owner uid (None: the runner), allow_shared, problem ('' when trusted))
TRUST_CASES = [
    ("missing: created 0700", None, None, False, ""),
    ("private", 0o700, None, False, ""),
    ("readable by others is not writable", 0o755, None, False, ""),
    ("world-writable", 0o777, None, False, "writable by group or others (mode 0777)"),
    ("group-writable", 0o770, None, False, "writable by group or others (mode 0770)"),
    ("sticky world-writable", 0o1777, None, False, "writable by group or others (mode 1777)"),
    ("another user's", 0o700, 4242, False, "owned by uid 4242, not by root or the user running this (uid 0)"),
    ("world-writable, accepted on request", 0o777, None, True, "writable by group or others (mode 0777)"),
    ("another user's, accepted on request", 0o700, 4242, True,
     "owned by uid 4242, not by root or the user running this (uid 0)"),
]


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
@pytest.mark.parametrize("mode,owner,allow,problem", [c[1:] for c in TRUST_CASES], ids=[c[0] for c in TRUST_CASES])
def test_backup_dir_others_can_write_is_refused_before_anything(server, project, tmp_path, capsys, warned,
                                                                mode, owner, allow, problem, check):
    if owner is not None and os.geteuid() != 0:
        pytest.skip("chown needs root")
    backups = tmp_path / "backups"
    if mode is not None:
        backups.mkdir()
        os.chmod(backups, mode)
        if owner is not None:
            os.chown(backups, owner, -1)
    result = run(base(project, tmp_path, keep=1, allow_shared_backup_dir=allow, allow_shared_option=OPTION),
                 capsys, check=check)
    if problem and not allow:
        assert result["_rc"] == 1 and result["refused"] is True
        assert result["msg"] == (
            "refusing backup directory %s: it is %s. Whoever can write there can plant a backup (or replace one) "
            "that a restore would take. Make it owned by root or the user running this and mode 0700 (chmod 0700 %s), "
            "or set %s=true to accept it. Nothing was changed." % (backups, problem, backups, OPTION))
        assert server.calls() == [] and os.listdir(backups) == []  # no tool ran, nothing written
        return
    assert result["_rc"] == 0 and "refused" not in result, result.get("msg")
    # One warning for a shared directory accepted on request (not also the "readable by others" one).
    assert [w for w in warned if "accepted because" in w] == (
        ["backup directory %s is %s; accepted because %s=true" % (backups, problem, OPTION)] if problem else [])
    assert not (problem and [w for w in warned if "accessible to group/others" in w])
    written = os.listdir(backups) if backups.exists() else []
    assert len(written) == (0 if check else 2)  # the backup and its manifest


def test_the_refusal_names_the_module_option_by_default(server, project, tmp_path, capsys):
    (tmp_path / "backups").mkdir()
    os.chmod(tmp_path / "backups", 0o777)
    result = run(base(project, tmp_path), capsys)
    assert result["_rc"] == 1 and "or set allow_shared_backup_dir=true to accept it" in result["msg"]


@pytest.mark.parametrize("missing,message", [
    ((), None),
    (("docker",), "docker: not found - apt-get install docker.io"),
    (("git",), "git: not found - apt-get install git"),
], ids=["ready", "no-docker", "no-git"])
def test_check_server_runs_preflights_checks_before_anything(server, project, tmp_path, capsys, monkeypatch,
                                                             missing, message):
    """check_server (db_backup.yml's dump call): preflight's own checks first; what is missing refuses
    the backup with preflight's message before the database is reached or a file is written."""
    from test_preflight import FakeProbe  # the preflight tests' canned answers
    (project / "compose.yaml").write_text("services: {}\n")
    monkeypatch.setattr(_preflight, "Probe", lambda module, timeout: FakeProbe(absent=missing))
    result = run(base(project, tmp_path, commit="abc1234", check_server=True), capsys)
    if message is None:
        assert result["_rc"] == 0 and Path(result["path"]).is_file(), result.get("msg")
        assert result["server"]["ok"] is True and result["server"]["database"]["name"] == "lifetracker"
        assert result["ansible_facts"] == {"effective_user_id": os.geteuid()}
    else:
        assert result["_rc"] == 1 and result["refused"] is True and result["msg"].startswith(message), result
        assert [m["what"] for m in result["server"]["missing"]] == list(missing)
        assert server.calls() == [] and not (tmp_path / "backups").exists()


def test_without_check_server_no_probe_runs(server, project, tmp_path, capsys, monkeypatch):
    """The default (a caller whose app role checked the server already): no second check."""
    def no_probe(module, timeout):
        raise AssertionError("the server check ran")
    monkeypatch.setattr(_preflight, "Probe", no_probe)
    result = run(base(project, tmp_path, commit="abc1234"), capsys)
    assert result["_rc"] == 0 and "server" not in result and "ansible_facts" not in result, result.get("msg")


# --------------------------------------------------------------------------- the lock in the dump call

def lock_of(path, run_id, seconds_ago=0, ttl=1800):
    now = time.time() - seconds_ago
    record = _lock.lock_record(dict(run_id=run_id, owner="alice", controller="ctl", awx_job_id="", ttl=ttl), now)
    assert _lock.acquire(str(path), record, False, now)[0]


# (id, lock there before (None, other, stale, run1), break_stale, fault (None, ledger, pg_dump)) ->
# (failed, refused, lock_refused, lock_taken, backup written, pg_dump ran, lock holder after)
DUMP_LOCK_CASES = [
    ("free: taken, dumped, held for the record to give back", None, False, None,
     (False, None, None, True, True, True, "run1")),
    ("another run holds it: refused before any read", "other", False, None,
     (True, True, True, False, False, False, "other")),
    ("this run holds it already (a caller): re-entered", "run1", False, None,
     (False, None, None, False, True, True, "run1")),
    ("another run's stale lock, break_stale: broken and taken", "stale", True, None,
     (False, None, None, True, True, True, "run1")),
    ("another run's stale lock, no break_stale: refused", "stale", False, None,
     (True, True, True, False, False, False, "other")),
    ("unreadable ledger after the lock was taken: refused, the lock given back", None, False, "ledger",
     (True, True, None, False, False, False, None)),
    ("a dump that fails after the lock was taken: held for the failed record", None, False, "pg_dump",
     (True, None, None, True, False, True, "run1")),
]


@pytest.mark.parametrize("there,break_stale,fault,expected", [c[1:] for c in DUMP_LOCK_CASES],
                         ids=[c[0] for c in DUMP_LOCK_CASES])
def test_the_dump_call_takes_the_lock_first(server, project, tmp_path, capsys, there, break_stale, fault, expected):
    path = tmp_path / "state" / "lock"
    if there == "stale":
        lock_of(path, "other", seconds_ago=100, ttl=10)
    elif there:
        lock_of(path, there)
    args = base(project, tmp_path, lock=dict(path=str(path), run_id="run1", owner="me", break_stale=break_stale))
    if fault == "ledger":
        (tmp_path / "elsewhere.jsonl").write_text("")
        (tmp_path / "ledger.jsonl").symlink_to(tmp_path / "elsewhere.jsonl")
        args["ledger_path"] = str(tmp_path / "ledger.jsonl")
    elif fault == "pg_dump":
        server.update(fail={"pg_dump": "pg_dump: error: could not write\n"})
    result = run(args, capsys)
    failed, refused, lock_refused, taken, written, dumped, holder = expected
    assert bool(result.get("failed")) is failed, result.get("msg")
    assert (result.get("refused"), result.get("lock_refused"), result["lock_taken"]) == (refused, lock_refused, taken)
    assert bool(result.get("path")) is written and ("pg_dump" in {c["tool"] for c in server.calls()}) is dumped
    assert (_lock.read_holder(str(path)) or {}).get("run_id") == holder
    if lock_refused:
        assert ("stale lock" if there == "stale" else "another run holds the lock") in result["msg"]
        assert "This run holds no app lock" in result["msg"] and result["holder"]["run_id"] == "other" and not (tmp_path / "backups").exists()


def test_check_mode_with_a_lock_refuses_another_runs_and_takes_none(server, project, tmp_path, capsys):
    held, free = tmp_path / "held" / "lock", tmp_path / "free" / "lock"
    lock_of(held, "other")
    refused = run(base(project, tmp_path, lock=dict(path=str(held), run_id="run1")), capsys, check=True)
    planned = run(base(project, tmp_path, lock=dict(path=str(free), run_id="run1")), capsys, check=True)
    assert refused["lock_refused"] is True and "another run holds the lock" in refused["msg"]
    assert planned["_rc"] == 0 and planned["lock_taken"] is False and not free.exists()
    assert not (tmp_path / "backups").exists()


def test_a_lock_to_take_and_a_lock_to_check_are_exclusive(server, project, tmp_path, capsys):
    result = run(base(project, tmp_path, lock=dict(path=str(tmp_path / "lock"), run_id="run1"),
                      lock_path=str(tmp_path / "lock"), run_id="run1"), capsys)
    assert result["_rc"] == 1 and "mutually exclusive" in result["msg"] and not (tmp_path / "lock").exists()
