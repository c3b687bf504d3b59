"""pg_restore calls that do what several tasks did (issue 18): the restore's reads in one
`inspected` call, the comparison read by the scratch restore, and stop + swap + start in one
call for the downtime. Against the fake client tools (tests/unit/fixtures/pg/fakepg.py)."""

import json
import os

import pytest

from ansible_collections.maverick.rollback.plugins.filter.backup_dir_check import backup_dir_check
from ansible_collections.maverick.rollback.plugins.filter.backup_pick import backup_pick
from ansible_collections.maverick.rollback.plugins.modules import pg_restore
from pg_testlib import FIX, PW, needs_pg_restore, run_module, start_fake_server

SCRATCH = "lifetracker_restore_20260101000000"
OLD = "lifetracker_pre_restore_20260101000000"
NAME = "lifetracker_lifetracker_%s_%s.dump"
pytestmark = needs_pg_restore


@pytest.fixture
def server(tmp_path, monkeypatch):
    return start_fake_server(tmp_path, monkeypatch, dbs={"postgres": {"rows": {}}, "lifetracker": {"rows": {"live": 99}}})


@pytest.fixture
def project(tmp_path):
    app = tmp_path / "lifetracker"
    app.mkdir()
    (app / ".env").write_text("POSTGRES_USER=lifetracker\nPOSTGRES_DB=lifetracker\nPOSTGRES_PASSWORD=%s\n" % PW)
    return app


def run(args, capsys, check=False):
    return run_module(pg_restore.main, args, capsys, check)


def args_for(project, **kw):
    return dict({"project_dir": str(project), "via": "compose"}, **kw)


# --------------------------------------------------------------------------- the reads, one call

def backup(directory, stamp, commit, created=None, manifest=True, mode=0o600):
    path = directory / (NAME % (stamp, commit))
    path.write_bytes(b"PGDMP")
    path.chmod(mode)
    if manifest:
        (directory / (path.name + ".json")).write_text(json.dumps({"created_at": created or "2026-01-01T00:00:00Z"}))
    return str(path)


@pytest.fixture
def backups(tmp_path):
    directory = tmp_path / "backups"
    directory.mkdir(mode=0o700)
    older = backup(directory, "20260101T000000Z", "aaaaaaaaaaaa", "2026-01-01T00:00:00Z")
    # Named later, but its manifest says it was taken earlier: the manifest's time wins.
    claims = backup(directory, "20991231T235959Z", "bbbbbbbbbbbb", "2025-06-01T00:00:00Z")
    unverified = backup(directory, "20260102T000000Z", "cccccccccccc", manifest=False)
    shared = backup(directory, "20260103T000000Z", "dddddddddddd", "2026-01-03T00:00:00Z", mode=0o666)
    (directory / "otherapp_lifetracker_20260104T000000Z_eeeeeeeeeeee.dump").write_bytes(b"PGDMP")
    (directory / (NAME % ("20260105T000000Z", "ffffffffffff") + ".partial-1")).write_bytes(b"PGD")
    # A manifest that is a link is not a regular file: not listed (find, file_type file, did the same).
    os.symlink(older + ".json", str(directory / (NAME % ("20260106T000000Z", "111111111111") + ".json")))
    return {"dir": directory, "older": older, "claims": claims, "unverified": unverified, "shared": shared}


def test_inspected_reads_directories_backups_and_ledger_in_one_call(server, project, tmp_path, backups, capsys):
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text('{"action": "deploy", "from_commit": "aaaaaaaaaaaa", "to_commit": "bbbb", "outcome": "healthy"}\n'
                      '{"torn\n'
                      '{"action": "backup", "path": "%s", "sha256": "%s"}\n' % (backups["older"], "0" * 64))
    result = run(args_for(project, state="inspected", ledger_path=str(ledger), ledger_keep=1,
                          backup_dirs=[str(backups["dir"]), str(tmp_path / "missing")],
                          backups_dir=str(backups["dir"]), app="lifetracker"), capsys)
    assert result["_rc"] == 0, result.get("msg")
    assert [r["action"] for r in result["ledger"]["records"]] == ["deploy", "backup"]
    assert result["ledger"]["keep_commits"] == ["bbbb"]
    assert "line 2 skipped" in json.dumps(result["warnings"])
    trusted, missing = result["backup_dirs"]
    assert trusted["exists"] and trusted["mode"] == "0700" and trusted["uid"] == os.geteuid()
    assert missing == {"path": str(tmp_path / "missing"), "exists": False}
    found = result["backups"]
    assert [os.path.basename(m["path"]) for m in found["manifests"]] == [
        os.path.basename(p) + ".json" for p in (backups["older"], backups["shared"], backups["claims"])]
    assert sorted(b["path"] for b in found["backups"]) == sorted(
        [backups["older"], backups["unverified"], backups["shared"], backups["claims"]])
    assert [c["source"] for c in found["manifest_contents"]] == [m["path"] for m in found["manifests"]]
    # The controller's rules decide on these entries as they did on stat / find / slurp.
    assert [backup_dir_check(d, os.geteuid())["ok"] for d in result["backup_dirs"]] == [True, True]
    pick = backup_pick(found["manifests"], "latest", "lifetracker", "lifetracker",
                       manifests=found["manifest_contents"], backups=found["backups"], uid=os.geteuid())
    assert pick["path"] == backups["older"]  # newest by its manifest; the shared one is left out
    assert [s["path"] for s in pick["skipped"]] == [backups["shared"]]
    assert "writable by group or others (mode 0666)" in pick["skipped"][0]["reason"]


DIR_CASES = [
    # (mode, ok, problem)
    (0o700, True, ""),
    (0o750, True, ""),
    (0o770, False, "writable by group or others (mode 0770)"),
    (0o777, False, "writable by group or others (mode 0777)"),
]


@pytest.mark.parametrize("mode,ok,problem", DIR_CASES, ids=[oct(c[0]) for c in DIR_CASES])
def test_backup_dir_entries_feed_the_trust_check(server, project, tmp_path, capsys, mode, ok, problem):
    directory = tmp_path / "b"
    directory.mkdir()
    directory.chmod(mode)
    link = tmp_path / "link"
    link.symlink_to(directory)
    result = run(args_for(project, state="inspected", backup_dirs=[str(link)]), capsys)
    assert result["_rc"] == 0, result.get("msg")
    verdict = backup_dir_check(result["backup_dirs"][0], os.geteuid())
    assert (verdict["ok"], verdict["problem"]) == (ok, problem)  # the link is followed: the directory's mode


def test_an_unreadable_manifest_is_reported_not_raised(server, project, tmp_path, backups, capsys):
    big = backups["older"] + ".json"
    with open(big, "w") as handle:
        handle.write(" " * (1024 * 1024 + 1))
    result = run(args_for(project, state="inspected", backups_dir=str(backups["dir"]), app="lifetracker"), capsys)
    assert result["_rc"] == 0, result.get("msg")
    content = next(c for c in result["backups"]["manifest_contents"] if c["source"] == big)
    assert content["failed"] and "larger than a manifest" in content["msg"] and "content" not in content


def test_backups_dir_needs_the_app(server, project, tmp_path, capsys):
    result = run(args_for(project, state="inspected", backups_dir=str(tmp_path)), capsys)
    assert result["_rc"] == 1 and "backups_dir" in result["msg"] and "app" in result["msg"]


# ------------------------------------------------------- the comparison, read by the scratch restore

def test_restored_scratch_reads_the_tables_of_both_databases(server, project, capsys):
    result = run(args_for(project, path=str(FIX / "custom.dump"), state="restored_scratch", scratch_database=SCRATCH,
                          table_stats=["lifetracker", SCRATCH], exact_count_limit_mb=1), capsys)
    assert result["_rc"] == 0, result.get("msg")
    assert sorted(result["tables"]) == ["lifetracker", SCRATCH]
    assert result["tables"][SCRATCH]['public."Entry"']["rows"] == 25
    assert "tables_error" not in result


@pytest.mark.parametrize("state", ["inspected", "restored_scratch"])
def test_a_failed_table_read_is_reported_and_the_step_stands(server, project, capsys, state):
    server.update(fail={"table_stats": None})
    extra = {"path": str(FIX / "custom.dump"), "scratch_database": SCRATCH} if state == "restored_scratch" else {}
    result = run(args_for(project, state=state, table_stats=["lifetracker"], **extra), capsys)
    assert result["_rc"] == 0, result.get("msg")
    assert "permission denied for table secret" in result["tables_error"] and result["tables"] == {}
    if state == "restored_scratch":
        assert SCRATCH in server.dbs()


# --------------------------------------------------------------------------- stop, swap, start

def with_scratch(server):
    state = server.state()
    state["dbs"][SCRATCH] = {"rows": {"restored": 3}}
    server.write(state)


def steps(server):
    """The order of what happened: compose stop/up (with their services) and the swap's psql session."""
    out = []
    for call in server.calls():
        if call["tool"] == "docker":
            out.append("%s %s" % ("stop" if "stop" in call["argv"] else "up", ",".join(call["services"])))
        elif "ON_ERROR_STOP=0" in call["argv"]:
            out.append("swap")
    return out


SERVICE_CASES = [
    # (fail, start_services, expected steps, rc, failed_step, stopped, started, swapped)
    ({}, True, ["stop api,web", "swap", "up api,web"], 0, None, ["api", "web"], ["api", "web"], True),
    ({}, False, ["stop api,web", "swap"], 0, None, ["api", "web"], [], True),
    ({"compose_stop": None}, True, ["stop api,web"], 1, "stop", [], [], False),
    ({"swap": "being accessed by other users"}, True, ["stop api,web", "swap"], 1, "swap", ["api", "web"], [], False),
    ({"compose_up": None}, True, ["stop api,web", "swap", "up api,web"], 1, "start", ["api", "web"], [], True),
]


@pytest.mark.parametrize("fail,start,expected,rc,failed_step,stopped,started,swapped", SERVICE_CASES,
                         ids=["ok", "caller-starts", "stop-fails", "swap-fails", "start-fails"])
def test_swap_stops_and_starts_the_services_in_the_same_call(server, project, capsys, fail, start, expected, rc,
                                                             failed_step, stopped, started, swapped):
    with_scratch(server)
    server.update(fail=fail)
    result = run(args_for(project, state="swapped", scratch_database=SCRATCH, pre_restore_database=OLD,
                          services=["api", "web"], start_services=start), capsys)
    assert result["_rc"] == rc, result.get("msg")
    assert [s for s in steps(server) if s != "swap" or "swap" in expected] == expected
    assert result.get("failed_step") == failed_step
    assert (result["stopped"], result["started"]) == (stopped, started)
    dbs = server.state()["dbs"]
    assert (dbs["lifetracker"]["rows"] == {"restored": 3}) is swapped and (OLD in dbs) is swapped
    if rc == 0:
        assert result["live"]["datname"] == "lifetracker" and result["restore_databases"] == [OLD]
    ups = [c["argv"] for c in server.calls() if c["tool"] == "docker" and "up" in c["argv"]]
    for argv in ups:  # the same containers again: no build, no recreate, no dependencies
        assert argv[argv.index("up"):] == ["up", "--detach", "--no-deps", "--no-recreate", "--no-build", "api", "web"]
        assert argv[:4] == ["docker", "compose", "--project-directory", str(project)]


def test_swap_back_with_services_names_its_step(server, project, capsys):
    state = server.state()
    state["dbs"][OLD] = {"rows": {"old": 1}}
    server.write(state)
    server.update(fail={"compose_up": "no such service: api"})
    result = run(args_for(project, state="swapped_back", scratch_database=SCRATCH, pre_restore_database=OLD,
                          services=["api"]), capsys)
    assert result["_rc"] == 1 and result["failed_step"] == "start" and "no such service: api" in result["msg"]
    assert server.state()["dbs"]["lifetracker"]["rows"] == {"old": 1}  # swapped back before the start failed


def test_swap_with_services_in_check_mode_runs_no_command(server, project, capsys):
    with_scratch(server)
    result = run(args_for(project, state="swapped", scratch_database=SCRATCH, pre_restore_database=OLD,
                          services=["api"]), capsys, check=True)
    assert result["_rc"] == 0 and result["changed"] is True
    assert result["actions"][0] == "would stop api first and start them again after"
    assert steps(server) == []
    assert server.dbs() == ["lifetracker", SCRATCH, "postgres"]


@pytest.mark.parametrize("name", ["-api", "api web", "api;rm", ""])
def test_service_names_are_refused_before_anything(server, project, capsys, name):
    with_scratch(server)
    result = run(args_for(project, state="swapped", scratch_database=SCRATCH, services=[name]), capsys)
    assert result["_rc"] == 1 and "is not a plain name" in result["msg"]
    assert steps(server) == []


@pytest.mark.parametrize("state,extra", [("restored_scratch", {"path": str(FIX / "custom.dump")}),
                                         ("dropped", {"drop_database": SCRATCH}), ("inspected", {})])
def test_services_belong_to_the_states_that_stop_the_clients(server, project, capsys, state, extra):
    result = run(args_for(project, state=state, services=["api"], **extra), capsys)
    assert result["_rc"] == 1 and "services applies to the states swapped, swapped_back, in_place only" in result["msg"]
    assert steps(server) == []
