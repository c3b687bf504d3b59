"""pg_restore step by step against fake client tools (tests/unit/fixtures/pg/fakepg.py).

Backups are the real fixture dumps (and damaged copies); archive reads use the real
pg_restore; database-level statements go to a small JSON "server" that applies
CREATE/DROP/RENAME, so the database names each step leaves behind are asserted.
"""

import json
import os
import shutil

import pytest

from ansible_collections.maverick.rollback.plugins.filter.backup_dir_check import backup_dir_check
from ansible_collections.maverick.rollback.plugins.filter.backup_pick import backup_pick
from ansible_collections.maverick.rollback.plugins.module_utils import _preflight
from ansible_collections.maverick.rollback.plugins.modules import pg_restore
from pg_testlib import FIX, PW, needs_pg_restore, run_module, start_fake_server

ROWS = {'public."Entry"': 25, 'public."Tag"': 3, "public.notes": 7}
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


def tools_run(server):
    return [c["tool"] for c in server.calls()]


# --------------------------------------------------------------------------- verification

VERIFY_CASES = [
    # (fixture, expected facts)
    ("custom.dump", {"format": "custom", "compression": None, "table_count": 3, "toc_entries": 23,
                     "manifest": None, "manifest_checked": False}),
    ("custom.dump.gz", {"format": "custom", "compression": "gzip", "table_count": 3}),
    ("plain.sql", {"format": "plain", "compression": None}),
    ("plain.sql.gz", {"format": "plain", "compression": "gzip"}),
    ("tar.dump", {"format": "tar", "table_count": 3}),
    ("dir.dump", {"format": "directory", "table_count": 3}),
    ("with_manifest.dump", {"format": "custom", "manifest_checked": True, "backup_commit": "abcdef123456"}),
]


@pytest.mark.parametrize("name,facts", VERIFY_CASES, ids=[c[0] for c in VERIFY_CASES])
def test_verified_reports_facts(server, project, capsys, name, facts):
    result = run(args_for(project, path=str(FIX / name), via="host"), capsys)
    assert result["_rc"] == 0, result.get("msg")
    assert result["changed"] is False and result["actions"] == []
    assert {k: result[k] for k in facts} == facts
    assert len(result["sha256"]) == 64 and result["size"] > 0 and result["age_s"] >= 0
    assert "psql" not in tools_run(server)  # verification never touches the database


REFUSED_CASES = [
    ("empty.dump", "is empty (0 bytes)"),
    ("truncated.dump", "is not readable (truncated or corrupt?): pg_restore (host, 127.0.0.1:5433) failed "
                       "(exit code 1): pg_restore: error: could not read from input file: end of file"),
    ("truncated.sql", "plain SQL dump is truncated"),
    ("truncated.sql.gz", "is truncated (ends before the gzip trailer)"),
    ("corrupt.dump", "is not readable (truncated or corrupt?)"),
    ("notadump.bin", "is not a PostgreSQL dump"),
    ("create.sql", "creates or connects to its own database"),
    ("missing.dump", "does not exist"),
]


@pytest.mark.parametrize("name,message", REFUSED_CASES, ids=[c[0] for c in REFUSED_CASES])
@pytest.mark.parametrize("state", ["verified", "restored_scratch", "in_place"])
def test_bad_backups_are_refused_before_anything_changes(server, project, capsys, name, message, state):
    result = run(args_for(project, path=str(FIX / name), via="host", state=state), capsys)
    assert result["_rc"] == 1 and message in result["msg"], result["msg"]
    assert result["changed"] is False
    assert server.dbs() == ["lifetracker", "postgres"]
    assert "psql" not in tools_run(server)
    if state != "verified":
        assert result["msg"].endswith("(nothing was changed)")


def copy_with_manifest(tmp_path):
    dump = tmp_path / "b.dump"
    shutil.copy(FIX / "with_manifest.dump", dump)
    shutil.copy(FIX / "with_manifest.dump.json", str(dump) + ".json")
    return dump


def test_manifest_sha256_mismatch_is_refused(server, project, tmp_path, capsys):
    dump = copy_with_manifest(tmp_path)
    data = bytearray(dump.read_bytes())
    data[-10] ^= 0xFF  # same size, one byte flipped in the data
    dump.write_bytes(bytes(data))
    result = run(args_for(project, path=str(dump), via="host"), capsys)
    assert result["_rc"] == 1 and "does not match its manifest" in result["msg"]


def test_manifest_size_mismatch_is_refused(server, project, tmp_path, capsys):
    dump = copy_with_manifest(tmp_path)
    dump.write_bytes(dump.read_bytes()[:-1])
    result = run(args_for(project, path=str(dump), via="host"), capsys)
    assert result["_rc"] == 1 and "6871 bytes but its manifest says 6872" in result["msg"]


def test_expected_sha256_and_required_manifest(server, project, tmp_path, capsys):
    result = run(args_for(project, path=str(FIX / "custom.dump"), via="host", sha256="0" * 64), capsys)
    assert result["_rc"] == 1 and "is not the expected 000000" in result["msg"]
    result = run(args_for(project, path=str(FIX / "custom.dump"), via="host", require_manifest=True), capsys)
    assert result["_rc"] == 1 and "has no manifest" in result["msg"]


def test_manifest_checked_backup_is_not_read_twice(server, project, capsys):
    run(args_for(project, path=str(FIX / "with_manifest.dump"), via="host"), capsys)
    reads = [c["argv"] for c in server.calls() if c["tool"] == "pg_restore"]
    assert reads == [["pg_restore", "--list", str(FIX / "with_manifest.dump")]]


def test_archive_without_manifest_is_read_completely(server, project, capsys):
    run(args_for(project, path=str(FIX / "custom.dump"), via="host"), capsys)
    reads = [c["argv"] for c in server.calls() if c["tool"] == "pg_restore"]
    assert reads == [["pg_restore", "--list", str(FIX / "custom.dump")],
                     ["pg_restore", "-f", "/dev/null", str(FIX / "custom.dump")]]


# --------------------------------------------------------------------------- restored_scratch

RESTORE_CASES = [
    # (fixture, via, expected tool argv tail, objects_total, rows_copied, jobs)
    ("custom.dump", "compose", ["--exit-on-error", "--no-owner", "--dbname=SCRATCH"], 19, None, 1),
    ("custom.dump", "host", ["--exit-on-error", "--no-owner", "-j", "2", "--dbname=SCRATCH", "PATH"], 19, None, 2),
    ("custom.dump.gz", "host", ["--exit-on-error", "--no-owner", "--dbname=SCRATCH"], 19, None, 1),
    ("dir.dump", "host", ["--exit-on-error", "--no-owner", "-j", "2", "--dbname=SCRATCH", "PATH"], 19, None, 2),
    ("plain.sql", "compose", ["-X", "-v", "ON_ERROR_STOP=1", "--single-transaction", "--dbname=SCRATCH", "-f", "-"],
     22, 35, 1),
    ("plain.sql.gz", "host", ["-X", "-v", "ON_ERROR_STOP=1", "--single-transaction", "--dbname=SCRATCH", "-f", "-"],
     22, 35, 1),
]


@pytest.mark.parametrize("name,via,tail,total,rows,jobs", RESTORE_CASES,
                         ids=["%s-%s" % (c[0], c[1]) for c in RESTORE_CASES])
def test_restored_scratch(server, project, capsys, name, via, tail, total, rows, jobs):
    path = str(FIX / name)
    result = run(args_for(project, path=path, via=via, state="restored_scratch", count_rows=True), capsys)
    assert result["_rc"] == 0, result.get("msg")
    scratch = result["scratch_database"]
    assert scratch.startswith("lifetracker_restore_") and len(scratch) == len("lifetracker_restore_") + 14
    assert server.dbs() == ["lifetracker", scratch, "postgres"]
    assert server.state()["dbs"]["lifetracker"]["rows"] == {"live": 99}  # live untouched
    assert result["changed"] is True and result["row_counts"] == ROWS and result["restored_table_count"] == 3
    assert result["objects_total"] == total and result.get("rows_copied") == rows and result["jobs"] == jobs
    assert result["actions"][0] == "created database %s" % scratch
    assert result["restore_databases"] == [scratch]
    restore = [c for c in server.calls() if any(a == "--dbname=" + scratch for a in c["argv"])][0]
    expected = [a.replace("SCRATCH", scratch).replace("PATH", path) for a in tail]
    assert restore["argv"][-len(expected):] == expected
    for call in server.calls():
        assert not any("s3cret" in a for a in call["argv"])


def test_compose_jobs_warning(server, project, capsys):
    result = run(args_for(project, path=str(FIX / "custom.dump"), state="restored_scratch", jobs=4), capsys)
    assert result["_rc"] == 0, result
    assert "cannot run parallel jobs from stdin" in json.dumps(result.get("warnings"))


def test_restore_failure_drops_the_scratch_database(server, project, capsys):
    server.update(fail={"pg_restore": "pg_restore: error: could not execute query: ERROR:  boom\n"})
    result = run(args_for(project, path=str(FIX / "custom.dump"), state="restored_scratch"), capsys)
    assert result["_rc"] == 1
    assert result["msg"].startswith("restore into the scratch database failed: pg_restore (docker compose exec "
                                    "postgres) failed (exit code 1): pg_restore: error: could not execute query")
    assert "dropped the scratch database %s again; the live database lifetracker was not touched" % (
        result["scratch_database"]) in result["msg"]
    assert server.dbs() == ["lifetracker", "postgres"]


def test_plain_restore_failure_drops_the_scratch_database(server, project, capsys):
    server.update(fail={"psql_restore": None})
    result = run(args_for(project, path=str(FIX / "plain.sql"), state="restored_scratch"), capsys)
    assert result["_rc"] == 1 and 'psql:<stdin>:34: ERROR:  relation "Entry" already exists' in result["msg"]
    assert server.dbs() == ["lifetracker", "postgres"]


def test_existing_scratch_is_refused(server, project, capsys):
    state = server.state()
    state["dbs"]["lifetracker_restore_20260101000000"] = {"rows": {}}
    server.write(state)
    result = run(args_for(project, path=str(FIX / "custom.dump"), state="restored_scratch",
                          scratch_database="lifetracker_restore_20260101000000"), capsys)
    assert result["_rc"] == 1 and "exists already" in result["msg"] and "nothing was changed" in result["msg"]


def test_restored_scratch_check_mode(server, project, capsys):
    result = run(args_for(project, path=str(FIX / "custom.dump"), state="restored_scratch"), capsys, check=True)
    assert result["_rc"] == 0 and result["changed"] is True
    assert result["actions"] == ["would create database %s like lifetracker and restore %s into it"
                                 % (result["scratch_database"], FIX / "custom.dump")]
    assert server.dbs() == ["lifetracker", "postgres"]


# --------------------------------------------------------------------------- swap, swap back

SCRATCH = "lifetracker_restore_20260101000000"
OLD = "lifetracker_pre_restore_20260101000000"


def with_scratch(server):
    state = server.state()
    state["dbs"][SCRATCH] = {"rows": dict(ROWS)}
    server.write(state)


def test_swap_and_swap_back_roundtrip(server, project, capsys):
    with_scratch(server)
    swap = run(args_for(project, state="swapped", scratch_database=SCRATCH), capsys)
    assert swap["_rc"] == 0, swap.get("msg")
    old = swap["old_database"]
    assert old.startswith("lifetracker_pre_restore_")
    dbs = server.state()["dbs"]
    assert dbs["lifetracker"]["rows"] == ROWS and dbs[old]["rows"] == {"live": 99} and SCRATCH not in dbs
    assert swap["actions"] == ["renamed lifetracker to %s" % old, "renamed %s to lifetracker" % SCRATCH]
    assert swap["restore_databases"] == [old]
    swap_calls = [c for c in server.calls() if "ON_ERROR_STOP=0" in c["argv"]]
    assert len(swap_calls) == 1  # one psql session does the whole swap

    back = run(args_for(project, state="swapped_back", pre_restore_database=old, scratch_database=SCRATCH), capsys)
    assert back["_rc"] == 0, back.get("msg")
    dbs = server.state()["dbs"]
    assert dbs["lifetracker"]["rows"] == {"live": 99} and dbs[SCRATCH]["rows"] == ROWS and old not in dbs
    assert back["actions"] == ["renamed lifetracker to %s" % SCRATCH, "renamed %s to lifetracker" % old]


def test_swap_is_idempotent_with_named_pre_restore(server, project, capsys):
    with_scratch(server)
    args = args_for(project, state="swapped", scratch_database=SCRATCH, pre_restore_database=OLD)
    assert run(args, capsys)["changed"] is True
    again = run(args, capsys)
    assert again["_rc"] == 0 and again["changed"] is False
    assert again["actions"] == ["already swapped: lifetracker is live, the previous one is %s" % OLD]
    back_args = args_for(project, state="swapped_back", scratch_database=SCRATCH, pre_restore_database=OLD)
    assert run(back_args, capsys)["changed"] is True
    again = run(back_args, capsys)
    assert again["changed"] is False and again["actions"][0].startswith("already swapped back")


def test_swap_check_mode_changes_nothing(server, project, capsys):
    with_scratch(server)
    result = run(args_for(project, state="swapped", scratch_database=SCRATCH, pre_restore_database=OLD), capsys,
                 check=True)
    assert result["changed"] is True and result["actions"][0].startswith("would end sessions on lifetracker")
    assert server.dbs() == ["lifetracker", SCRATCH, "postgres"]


def test_swap_failure_is_reported_and_renames_nothing(server, project, capsys):
    with_scratch(server)
    server.update(fail={"swap": 'database "lifetracker" is being accessed by other users'})
    result = run(args_for(project, state="swapped", scratch_database=SCRATCH, pre_restore_database=OLD), capsys)
    assert result["_rc"] == 1
    assert result["msg"] == ('could not swap lifetracker and %s: database "lifetracker" is being accessed by other '
                             'users; names now: lifetracker, %s (nothing was changed)' % (SCRATCH, SCRATCH))
    assert server.dbs() == ["lifetracker", SCRATCH, "postgres"]


@pytest.mark.parametrize("state,args,message", [
    ("swapped", {"scratch_database": SCRATCH}, "scratch database %s does not exist" % SCRATCH),
    ("swapped_back", {"pre_restore_database": OLD}, "pre-restore database %s does not exist" % OLD),
])
def test_swap_without_its_database_fails(server, project, capsys, state, args, message):
    result = run(args_for(project, state=state, **args), capsys)
    assert result["_rc"] == 1 and message in result["msg"]


def test_swap_refuses_an_existing_pre_restore_name(server, project, capsys):
    with_scratch(server)
    state = server.state()
    state["dbs"][OLD] = {"rows": {}}
    server.write(state)
    result = run(args_for(project, state="swapped", scratch_database=SCRATCH, pre_restore_database=OLD), capsys)
    assert result["_rc"] == 1 and "database %s exists already" % OLD in result["msg"]


def test_swap_without_live_database_just_renames(server, project, capsys):
    server.write({"dbs": {"postgres": {"rows": {}}, SCRATCH: {"rows": dict(ROWS)}}, "fail": {}})
    result = run(args_for(project, state="swapped", scratch_database=SCRATCH), capsys)
    assert result["_rc"] == 0 and result["old_database"] is None
    assert result["actions"] == ["renamed %s to lifetracker" % SCRATCH]
    assert server.dbs() == ["lifetracker", "postgres"]


# --------------------------------------------------------------------------- in_place, dropped

def test_in_place_drops_recreates_and_restores(server, project, capsys):
    result = run(args_for(project, path=str(FIX / "plain.sql"), state="in_place"), capsys)
    assert result["_rc"] == 0, result.get("msg")
    assert result["actions"][:2] == ["dropped database lifetracker", "created database lifetracker"]
    assert server.state()["dbs"]["lifetracker"]["rows"] == ROWS


def test_in_place_failure_says_what_state_it_left(server, project, capsys):
    server.update(fail={"pg_restore": "pg_restore: error: boom\n"})
    result = run(args_for(project, path=str(FIX / "custom.dump"), state="in_place"), capsys)
    assert result["_rc"] == 1 and result["changed"] is True
    assert "database lifetracker is now partly restored: restore the safety backup" in result["msg"]


DROP_CASES = [
    ("derived", "lifetracker_pre_restore_20260101000000", True, 0, True),
    ("absent", "lifetracker_restore_20260101000000", False, 0, False),
    ("live", "lifetracker", True, 1, "must not be the live database"),
    ("not-ours", "lifetracker_copy", True, 1, "is not a scratch, pre-restore or verify database"),
    ("maintenance", "postgres", True, 1, "is not a scratch, pre-restore or verify database"),
]


@pytest.mark.parametrize("name,present,rc,outcome", [c[1:] for c in DROP_CASES], ids=[c[0] for c in DROP_CASES])
def test_dropped(server, project, capsys, name, present, rc, outcome):
    state = server.state()
    state["dbs"].setdefault(name, {"rows": {}}) if present else None
    server.write(state)
    result = run(args_for(project, state="dropped", drop_database=name), capsys)
    assert result["_rc"] == rc
    if rc:
        assert outcome in result["msg"] and name in server.dbs()
    else:
        assert result["changed"] is outcome and name not in server.dbs()


INVALID_CASES = [
    ("scratch-is-live", {"state": "swapped", "scratch_database": "lifetracker"}, "must not be the live database"),
    ("live-is-maintenance", {"path": "/x", "database": "postgres"}, "must not be the maintenance database"),
    ("bad-sha", {"path": "/x", "sha256": "abc"}, "sha256 must be 64 hex digits"),
    ("jobs", {"path": "/x", "jobs": 0}, "jobs must be at least 1"),
    ("name-too-long", {"state": "swapped", "scratch_database": "x" * 64}, "longer than 63 bytes"),
    ("missing-path", {"state": "restored_scratch"}, "state is restored_scratch but all of the following are missing: path"),
    ("directory-in-compose", {"path": str(FIX / "dir.dump"), "state": "restored_scratch"},
     "directory-format dump can only be restored with via: host"),
]


@pytest.mark.parametrize("args,message", [c[1:] for c in INVALID_CASES], ids=[c[0] for c in INVALID_CASES])
def test_invalid_input_is_refused(server, project, capsys, args, message):
    result = run(args_for(project, **args), capsys)
    assert result["_rc"] == 1 and message in result["msg"], result["msg"]
    assert server.dbs() == ["lifetracker", "postgres"]


# --------------------------------------------------------------------------- real causes, via=auto

CAUSE_CASES = [
    # (id, fixture, args, server failure, PATH of only the fake tools, message start, not in message)
    ("container-stopped", "custom.dump", {}, {"compose_down": None}, False,
     "cannot check backup %s (the backup itself was not judged): pg_restore (docker compose exec postgres) failed "
     "(exit code 1): the compose service postgres is not running", "truncated or corrupt"),
    ("no-host-pg_restore", "custom.dump", {"via": "host"}, {}, True,
     "cannot check backup %s (the backup itself was not judged): pg_restore not found on the host: install the "
     "PostgreSQL client tools (apt-get install postgresql-client)", "truncated or corrupt"),
    ("corrupt-stays-corrupt", "truncated.dump", {}, {}, False,
     "backup %s is not readable (truncated or corrupt?): pg_restore (docker compose exec postgres) failed", "compose service"),
]


@pytest.mark.parametrize("name,args,fail,bare_path,start,absent", [c[1:] for c in CAUSE_CASES],
                         ids=[c[0] for c in CAUSE_CASES])
def test_verification_names_the_real_cause(server, project, capsys, monkeypatch, name, args, fail, bare_path, start,
                                           absent):
    server.update(fail=fail)
    if bare_path:
        monkeypatch.setenv("PATH", server.bindir)
        import os
        os.unlink(os.path.join(server.bindir, "pg_restore"))
    path = str(FIX / name)
    result = run(args_for(project, path=path, **args), capsys)
    assert result["_rc"] == 1 and result["msg"].startswith(start % path), result["msg"]
    assert absent not in result["msg"]


def test_a_stopped_container_is_named_in_a_restore_step_too(server, project, capsys):
    with_scratch(server)
    server.update(fail={"compose_down": None})
    result = run(args_for(project, state="swapped", scratch_database=SCRATCH), capsys)
    assert result["_rc"] == 1 and result["msg"].startswith(
        "psql (docker compose exec postgres) failed (exit code 1): the compose service postgres is not running")
    assert result["msg"].endswith("(nothing was changed)")


def test_auto_takes_the_host_tools_when_they_fit(server, project, capsys):
    result = run(args_for(project, path=str(FIX / "custom.dump"), via="auto", state="restored_scratch"), capsys)
    assert result["_rc"] == 0 and result["via"] == "host" and "via_reason" not in result, result.get("msg")
    restore = [c for c in server.calls() if c["tool"] == "pg_restore" and "--exit-on-error" in c["argv"]]
    assert [c["via"] for c in restore] == ["host"]


def test_auto_falls_back_to_compose_and_a_compose_failure_says_why_both_failed(server, project, capsys):
    server.update(fail={"host_connect": ""})
    result = run(args_for(project, path=str(FIX / "custom.dump"), via="auto"), capsys)
    assert result["_rc"] == 0 and result["via"] == "compose", result.get("msg")
    assert result["via_reason"].startswith("the host's pg_restore cannot reach the server: psql (host, 127.0.0.1:5433) "
                                           "failed (exit code 2): nothing listens at 127.0.0.1:25720")
    server.update(fail={"host_connect": "", "compose_down": None})
    result = run(args_for(project, path=str(FIX / "custom.dump"), via="auto"), capsys)
    assert result["_rc"] == 1
    assert result["msg"].startswith("cannot check backup %s (the backup itself was not judged): the host's pg_restore "
                                    "cannot reach the server" % (FIX / "custom.dump"))
    assert ", and pg_restore (docker compose exec postgres) failed (exit code 1): the compose service postgres is " \
           "not running" in result["msg"]


def test_env_keys_name_the_settings_of_another_app(server, project, capsys):
    (project / ".env").write_text("APP_DB_USER=shop\nAPP_DB_NAME=lifetracker\nAPP_DB_PASS=%s\n" % PW)
    keys = {"database": "APP_DB_NAME", "user": "APP_DB_USER", "password": "APP_DB_PASS"}
    result = run(args_for(project, state="dropped", drop_database=OLD, env_keys=keys), capsys)
    assert result["_rc"] == 0 and result["database"] == "lifetracker", result.get("msg")
    psql = [c for c in server.calls() if c["tool"] == "psql"][0]
    assert psql["argv"][psql["argv"].index("-U") + 1] == "shop" and psql["container_env"]["PGPASSWORD"] == PW
    result = run(args_for(project, state="dropped", drop_database=OLD, env_keys={"user": "NOPE"}), capsys)
    assert result["_rc"] == 1 and "no database user: set login_user or NOPE in %s/.env" % project in result["msg"]


# --------------------------------------------------------------------------- info (read-only)

INFO_CASES = [
    # (id, extra databases on the server, live present, expected names, derived ones)
    ("live-only", {}, True, ["lifetracker"], []),
    ("with-copies", {OLD: {"rows": {}, "allowconn": False}, SCRATCH: {"rows": {}}, "lifetracker_copy": {"rows": {}},
                     "lifetrackerx": {"rows": {}}}, True,
     ["lifetracker", "lifetracker_copy", OLD, SCRATCH], [OLD, SCRATCH]),
    ("no-live", {OLD: {"rows": {}}}, False, [OLD], [OLD]),
]


@pytest.mark.parametrize("extra,live,names,derived", [c[1:] for c in INFO_CASES], ids=[c[0] for c in INFO_CASES])
@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_info_lists_the_live_database_and_its_copies(server, project, capsys, extra, live, names, derived, check):
    state = server.state()
    state["dbs"].update(extra)
    if not live:
        del state["dbs"]["lifetracker"]
    server.write(state)
    before = server.dbs()
    result = run(args_for(project, state="inspected"), capsys, check=check)
    assert result["_rc"] == 0 and result["changed"] is False, result.get("msg")
    assert [r["datname"] for r in result["databases"]] == names
    assert [r["datname"] for r in result["databases"] if r["derived"]] == derived == result["restore_databases"]
    assert (result["server_version"], result["server_version_num"]) == ("15.18 (fake)", 150018)
    if live:
        assert result["live"]["datname"] == "lifetracker" and result["live"]["oid"].isdigit()
        assert isinstance(result["live"]["size"], int) and result["live"]["datallowconn"] is True
    else:
        assert result["live"] is None
    allowed = {r["datname"]: r["datallowconn"] for r in result["databases"]}
    assert allowed.get(OLD) is (False if "allowconn" in extra.get(OLD, {}) else (True if OLD in names else None))
    assert server.dbs() == before and result["actions"] == []
    assert all(c["tool"] == "psql" for c in server.calls())


def test_info_through_auto_reads_with_host_psql(server, project, capsys):
    result = run(args_for(project, state="inspected", via="auto"), capsys)
    assert result["_rc"] == 0 and result["via"] == "host" and result["live"]["datname"] == "lifetracker"
    host = [c for c in server.calls() if c["via"] == "host"]
    assert host and all(c["pgpassfile_mode"] == "0o600" and c["pgpassword"] is None for c in host)


def test_info_names_a_stopped_container(server, project, capsys):
    server.update(fail={"compose_down": None})
    result = run(args_for(project, state="inspected"), capsys)
    assert result["_rc"] == 1 and "the compose service postgres is not running" in result["msg"]
    assert "nothing was changed" not in result["msg"]  # a read changes nothing by definition


# --------------------------------------------------------------------------- fault 6: only derived databases swap

OTHER_APP_CASES = [
    # (id, state, arguments naming another app's database, the name refused)
    ("swap-in-another-apps-db", "swapped", {"scratch_database": "shop"}, "scratch_database shop"),
    ("swap-in-a-lookalike", "swapped", {"scratch_database": "lifetracker_restore_x"}, "scratch_database lifetracker_restore_x"),
    ("live-renamed-to-another-apps-name", "swapped", {"scratch_database": SCRATCH, "pre_restore_database": "shop"},
     "pre_restore_database shop"),
    ("swap-back-another-apps-db", "swapped_back", {"pre_restore_database": "shop"}, "pre_restore_database shop"),
    ("swap-back-displaced-to-another-name", "swapped_back", {"pre_restore_database": OLD, "scratch_database": "shop2"},
     "scratch_database shop2"),
]


@pytest.mark.parametrize("state,args,refused", [c[1:] for c in OTHER_APP_CASES], ids=[c[0] for c in OTHER_APP_CASES])
def test_only_databases_derived_from_the_live_one_are_swapped(server, project, capsys, state, args, refused):
    dbs = server.state()["dbs"]
    dbs.update({"shop": {"rows": {"orders": 5}}, SCRATCH: {"rows": dict(ROWS)}, OLD: {"rows": {}}})
    server.write({"dbs": dbs, "fail": {}})
    result = run(args_for(project, state=state, **args), capsys)
    assert result["_rc"] == 1
    assert result["msg"].startswith("%s is not a scratch, pre-restore or verify database of lifetracker "
                                    "(<db>_restore_<ts>, <db>_pre_restore_<ts>, <db>_verify_<ts>)" % refused), result["msg"]
    assert server.calls() == []  # refused before any SQL ran
    assert server.state()["dbs"]["shop"] == {"rows": {"orders": 5}}


# --------------------------------------------------------------------------- fault 9: each message names the real cause

LIBPQ_MISSING = ("TOOL: error while loading shared libraries: libpq.so.5: cannot open shared object file: "
                 "No such file or directory\n")
REAL_CAUSE_CASES = [
    # (id, args, server failure, message start (%s: the backup), words that must not be in it)
    ("container-paused", {}, {"docker_exec": "Error response from daemon: Container 88dfd599f6c1 is paused, "
                                             "unpause the container before exec\n"},
     "cannot check backup %s (the backup itself was not judged): pg_restore (docker compose exec postgres) failed "
     "(exit code 1): the database container 88dfd599f6c1 is paused (docker unpause 88dfd599f6c1)",
     ["truncated", "corrupt"]),
    ("container-restarting", {}, {"docker_exec": "Error response from daemon: Container 88dfd599f6c1 is restarting, "
                                                 "wait until the container is running\n"},
     "cannot check backup %s (the backup itself was not judged): pg_restore (docker compose exec postgres) failed "
     "(exit code 1): the database container 88dfd599f6c1 is restarting", ["truncated", "corrupt"]),
    ("docker-unknown-failure", {}, {"docker_exec": "no configuration file provided: not found\n"},
     "cannot check backup %s (the backup itself was not judged): pg_restore (docker compose exec postgres) failed "
     "(exit code 1): no configuration file provided", ["truncated", "corrupt"]),
    ("host-tool-without-libpq", {"via": "host"}, {"host_tool": LIBPQ_MISSING},
     "cannot check backup %s (the backup itself was not judged): pg_restore (host) failed (exit code 127): "
     "pg_restore cannot start: the shared library libpq.so.5 is missing on the server", ["truncated", "corrupt", "5433"]),
]


@pytest.mark.parametrize("args,fail,start,absent", [c[1:] for c in REAL_CAUSE_CASES], ids=[c[0] for c in REAL_CAUSE_CASES])
def test_a_backup_check_that_could_not_run_names_why(server, project, capsys, args, fail, start, absent):
    server.update(fail=fail)
    path = str(FIX / "custom.dump")
    result = run(args_for(project, path=path, **args), capsys)
    assert result["_rc"] == 1 and result["msg"].startswith(start % path), result["msg"]
    assert [word for word in absent if word in result["msg"]] == []


def test_a_host_tool_that_cannot_start_is_not_reported_as_unreachable(server, project, capsys):
    """via=auto: a host psql without libpq is a missing library, not a wrong port or host."""
    server.update(fail={"host_tool": LIBPQ_MISSING})
    result = run(args_for(project, state="inspected", via="auto"), capsys)
    assert result["_rc"] == 0 and result["via"] == "compose", result.get("msg")
    assert result["via_reason"].startswith("the host's psql cannot start: psql (host) failed (exit code 127): psql cannot "
                                           "start: the shared library libpq.so.5 is missing on the server"), result["via_reason"]
    assert "reach" not in result["via_reason"] and "5433" not in result["via_reason"]


# --------------------------------------------------------------------------- fault 2: no psql meta-commands

REAL_PLAIN = (FIX / "plain_restrict.sql").read_text()  # pg_dump -Fp 15.18 of the sandbox image (\restrict guards)
BODY_AT = REAL_PLAIN.index("SET statement_timeout")

META_CASES = [
    # (id, text inserted after the \restrict line's block, refused command or None)
    ("real-pg_dump-output", "", None),
    ("shell", "\\! touch pwned\n", "\\!"),
    ("output-to-file", "\\o /tmp/x\n", "\\o"),
    ("copy-to-file", "\\copy public.notes to '/tmp/x'\n", "\\copy"),
    ("mid-line", "SELECT 1; \\! id\n", "\\!"),
    ("after-a-string", "SELECT 'a''b'; \\setenv PAGER x\n", "\\setenv"),
    ("connect", "\\connect other\n", "\\connect"),
    ("second-restrict-key", "\\unrestrict 43KncPgWp0MAZtAgu5sWoE0gFpVNbmjCTRwnxpf4XGxQnaYTvde076wgxMufRJM\n"
                            "\\! touch pwned\n", "\\!"),  # anything after the guard is closed
    ("multi-line-string", "SELECT 'a\n\\! inside a string';\n", None),
    ("nested-comment", "/* a /* b */ \\! still a comment */ SELECT 1;\n", None),
    ("after-a-dollar-quote", "DO $$ BEGIN NULL; END $$; \\o /tmp/x\n", "\\o"),
    ("in-a-string", "SELECT '\\! not a command';\n", None),
    ("in-an-e-string", "SELECT E'it\\'s \\\\! no';\n", None),
    ("in-a-dollar-quote", "DO $x$ BEGIN PERFORM '\\o /tmp/x'; END $x$;\n", None),
    ("in-a-comment", "-- \\! only a comment\n/* \\o /tmp/x */ SELECT 1;\n", None),
    ("in-copy-data", "COPY public.t (a) FROM stdin;\n\\\\! data\n\\.\n", None),
    ("after-copy-data", "COPY public.t (a) FROM stdin;\nx\n\\.\n\\! touch pwned\n", "\\!"),
]


@pytest.mark.parametrize("inserted,refused", [c[1:] for c in META_CASES], ids=[c[0] for c in META_CASES])
def test_plain_sql_with_psql_meta_commands_is_refused(server, project, capsys, tmp_path, inserted, refused):
    path = tmp_path / "dump.sql"
    path.write_text(REAL_PLAIN[:BODY_AT] + inserted + REAL_PLAIN[BODY_AT:])
    result = run(args_for(project, path=str(path), state="restored_scratch"), capsys)
    if refused is None:
        assert result["_rc"] == 0, result.get("msg")
        return
    assert result["_rc"] == 1
    assert result["msg"].startswith("backup %s: line " % path), result["msg"]
    assert "runs the psql meta-command %s " % refused in result["msg"], result["msg"]
    assert not [c for c in server.calls() if c["tool"] == "psql" and "--single-transaction" in c["argv"]]
    assert server.dbs() == ["lifetracker", "postgres"]  # refused at verification: nothing created


def test_gzipped_plain_sql_is_scanned_too(server, project, capsys, tmp_path):
    import gzip
    path = tmp_path / "dump.sql.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(REAL_PLAIN[:BODY_AT] + "\\! touch pwned\n" + REAL_PLAIN[BODY_AT:])
    result = run(args_for(project, path=str(path)), capsys)
    assert result["_rc"] == 1 and "runs the psql meta-command \\! " in result["msg"], result.get("msg")


# --------------------------------------------------------------------------- fault 1: datallowconn never left off

def allowconn(server):
    return {name: db.get("allowconn", True) for name, db in server.state()["dbs"].items()}


def test_a_swap_killed_midway_allows_connections_again(server, project, capsys):
    """psql dies after `ALLOW_CONNECTIONS false` (killed, connection lost): the module turns it back on."""
    with_scratch(server)
    server.update(fail={"swap_killed": None})
    result = run(args_for(project, state="swapped", scratch_database=SCRATCH, pre_restore_database=OLD), capsys)
    assert result["_rc"] == 1
    assert "allowed connections again on lifetracker, %s" % SCRATCH in result["msg"], result["msg"]
    assert allowconn(server) == {"postgres": True, "lifetracker": True, SCRATCH: True}


@pytest.mark.parametrize("state,args", [
    ("restored_scratch", {"path": str(FIX / "custom.dump")}),
    ("swapped", {"scratch_database": SCRATCH, "pre_restore_database": OLD}),
    ("dropped", {"drop_database": OLD}),
])
def test_a_later_run_repairs_databases_left_refusing_connections(server, project, capsys, state, args):
    with_scratch(server)
    dbs = server.state()["dbs"]
    dbs["lifetracker"]["allowconn"] = False
    dbs[SCRATCH]["allowconn"] = False
    dbs["other"] = {"rows": {}, "allowconn": False}  # not ours: left alone
    server.write({"dbs": dbs, "fail": {}})
    result = run(args_for(project, state=state, **args), capsys)
    assert result["_rc"] == 0, result.get("msg")
    assert result["repaired_connections"] == ["lifetracker", SCRATCH]
    assert result["changed"] is True
    assert allowconn(server) == dict({n: True for n in server.dbs()}, other=False)


def test_check_mode_reports_but_does_not_repair(server, project, capsys):
    state = server.state()
    state["dbs"]["lifetracker"]["allowconn"] = False
    server.write(state)
    result = run(args_for(project, path=str(FIX / "custom.dump"), state="restored_scratch"), capsys, check=True)
    assert result["_rc"] == 0 and result["repaired_connections"] == ["lifetracker"], result.get("msg")
    assert allowconn(server)["lifetracker"] is False


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_inspected_reads_table_stats_of_the_live_and_scratch_databases(server, project, capsys, check):
    state = server.state()
    state["dbs"][SCRATCH] = {"rows": {'public."Entry"': 20}}
    state["dbs"]["lifetracker"]["rows"] = {'public."Entry"': 25, "public.notes": 7}
    server.write(state)
    result = run(args_for(project, state="inspected", table_stats=["lifetracker", SCRATCH, OLD],
                          exact_count_limit_mb=1), capsys, check=check)
    assert result["_rc"] == 0 and result["changed"] is False, result.get("msg")
    assert sorted(result["tables"]) == ["lifetracker", SCRATCH]  # OLD does not exist: left out
    entry = {"rows": 25, "estimate": -1, "bytes": 8192 * 26, "pk": ["id"]}
    assert result["tables"]["lifetracker"]['public."Entry"'] == entry
    assert result["tables"]["lifetracker"]["public.notes"]["pk"] is None
    assert result["tables"][SCRATCH] == {'public."Entry"': {"rows": 20, "estimate": -1, "bytes": 8192 * 21, "pk": ["id"]}}


@pytest.mark.parametrize("missing,message", [
    ((), None),
    (("docker",), "docker: not found - apt-get install docker.io"),
    (("git",), "git: not found - apt-get install git"),
], ids=["ready", "no-docker", "no-git"])
def test_inspected_check_server_runs_preflight_first(server, project, capsys, monkeypatch, missing, message):
    """check_server (db_restore.yml's first read on one server): preflight's own checks first; what is
    missing refuses with preflight's message before the database is reached. The database's name comes
    from the env file, and live_table_stats reads its tables without naming it."""
    from test_preflight import FakeProbe  # the preflight tests' canned answers
    (project / "compose.yaml").write_text("services: {}\n")
    monkeypatch.setattr(_preflight, "Probe", lambda module, timeout: FakeProbe(absent=missing))
    result = run(args_for(project, state="inspected", check_server=True, live_table_stats=True), capsys)
    if message is None:
        assert result["_rc"] == 0 and result["database"] == "lifetracker", result.get("msg")
        assert result["server"]["ok"] is True and result["server"]["database"]["name"] == "lifetracker"
        assert result["ansible_facts"] == {"effective_user_id": os.geteuid()}
        assert list(result["tables"]) == ["lifetracker"]
    else:
        assert result["_rc"] == 1 and result["msg"].startswith(message), result
        assert [m["what"] for m in result["server"]["missing"]] == list(missing)
        assert server.calls() == []


@pytest.mark.parametrize("args", [
    {"state": "inspected"},
    {"state": "inspected", "live_table_stats": False, "table_stats": ["lifetracker"]},
], ids=["default", "named"])
def test_inspected_without_check_server_no_probe_runs(server, project, capsys, monkeypatch, args):
    """The default (a caller that checked the server already): no second check; live_table_stats off
    reads only the databases named."""
    def no_probe(module, timeout):
        raise AssertionError("the server check ran")
    monkeypatch.setattr(_preflight, "Probe", no_probe)
    result = run(args_for(project, **args), capsys)
    assert result["_rc"] == 0 and "server" not in result and "ansible_facts" not in result, result.get("msg")
    assert list(result["tables"]) == args.get("table_stats", [])


def test_check_server_only_with_inspected(server, project, capsys):
    result = run(args_for(project, state="dropped", drop_database=SCRATCH, check_server=True), capsys)
    assert result["_rc"] == 1 and result["msg"] == "check_server applies to state=inspected only"
    assert server.calls() == []


def test_inspected_refuses_table_stats_of_another_database(server, project, capsys):
    result = run(args_for(project, state="inspected", table_stats=["otherapp"]), capsys)
    assert result["_rc"] == 1 and "table_stats otherapp is not a scratch, pre-restore or verify database" in result["msg"]


def test_verified_returns_the_manifests_tables(server, project, tmp_path, capsys):
    dump = copy_with_manifest(tmp_path)
    manifest = json.loads(open(str(dump) + ".json").read())
    manifest["tables"] = {'public."Entry"': {"rows": 3, "estimate": 3, "bytes": 16384, "pk": ["id"]}}
    open(str(dump) + ".json", "w").write(json.dumps(manifest))
    result = run(args_for(project, path=str(dump)), capsys)
    assert result["_rc"] == 0, result.get("msg")
    assert result["backup_tables"] == manifest["tables"]


# ============================================================ issue 18: what several tasks did, in one call
# The restore's reads in one `inspected` call, the comparison read by the scratch restore,
# and stop + swap + start in one call for the downtime.

NAME = "lifetracker_lifetracker_%s_%s.dump"


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

def with_restored_scratch(server):
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
    with_restored_scratch(server)
    server.update(fail=fail)
    result = run(args_for(project, state="swapped", scratch_database=SCRATCH, pre_restore_database=OLD,
                          services=["api", "web"], start_services=start), capsys)
    assert result["_rc"] == rc, result.get("msg")
    assert [s for s in steps(server) if s != "swap" or "swap" in expected] == expected
    assert result.get("failed_step") == failed_step
    assert (result["stopped"], result["started"]) == (stopped, started)
    assert result["step_done"] is swapped
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
    assert result["step_done"] is True
    assert server.state()["dbs"]["lifetracker"]["rows"] == {"old": 1}  # swapped back before the start failed


def test_swap_with_services_in_check_mode_runs_no_command(server, project, capsys):
    with_restored_scratch(server)
    result = run(args_for(project, state="swapped", scratch_database=SCRATCH, pre_restore_database=OLD,
                          services=["api"]), capsys, check=True)
    assert result["_rc"] == 0 and result["changed"] is True
    assert result["actions"][0] == "would stop api first and start them again after"
    assert steps(server) == []
    assert server.dbs() == ["lifetracker", SCRATCH, "postgres"]


@pytest.mark.parametrize("name", ["-api", "api web", "api;rm", ""])
def test_service_names_are_refused_before_anything(server, project, capsys, name):
    with_restored_scratch(server)
    result = run(args_for(project, state="swapped", scratch_database=SCRATCH, services=[name]), capsys)
    assert result["_rc"] == 1 and "is not a plain name" in result["msg"]
    assert steps(server) == []


@pytest.mark.parametrize("state,extra", [("restored_scratch", {"path": str(FIX / "custom.dump")}),
                                         ("dropped", {"drop_database": SCRATCH}), ("inspected", {})])
def test_services_belong_to_the_states_that_stop_the_clients(server, project, capsys, state, extra):
    result = run(args_for(project, state=state, services=["api"], **extra), capsys)
    assert result["_rc"] == 1 and "services applies to the states swapped, swapped_back, in_place only" in result["msg"]
    assert steps(server) == []
