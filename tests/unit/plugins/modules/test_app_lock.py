"""app_lock as a module: begin/end re-entrant by run id, refresh, release of another
run's lock, check mode, a symlinked lock refused."""

import json

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils._lock import acquire, read_holder
from ansible_collections.maverick.rollback.plugins.modules import app_lock

from pg_testlib import run_module

pytestmark = pytest.mark.usefixtures("warned")


@pytest.fixture
def lock(tmp_path):
    return str(tmp_path / "app" / "lock")


def run(capsys, lock, check=False, **args):
    return run_module(app_lock.main, dict({"path": lock}, **args), capsys, check=check)


def begin(capsys, lock, run_id="r1", **args):
    return run(capsys, lock, run_id=run_id, owner="alice", controller="awx-1", controller_pid=4242,
               awx_job_id="7", **args)


def test_begin_records_who_and_a_heartbeat(capsys, lock):
    result = begin(capsys, lock)
    assert result["_rc"] == 0 and result["changed"] and result["reentered"] is False
    holder = read_holder(lock)
    assert {k: holder[k] for k in ("run_id", "owner", "controller", "controller_pid", "awx_job_id", "ttl")} == {
        "run_id": "r1", "owner": "alice", "controller": "awx-1", "controller_pid": 4242, "awx_job_id": "7",
        "ttl": 1800}
    assert holder["heartbeat_epoch"] == holder["started_epoch"]


def test_begin_again_with_the_same_run_id_reenters_without_changing_the_holder(capsys, lock):
    begin(capsys, lock)
    first = read_holder(lock)
    result = run(capsys, lock, run_id="r1", owner="bob")
    assert result["_rc"] == 0 and result["changed"] is False and result["reentered"] is True
    after = read_holder(lock)
    assert after["owner"] == "alice" and after["started_epoch"] == first["started_epoch"]
    assert after["heartbeat_epoch"] >= first["heartbeat_epoch"]


def test_another_run_fails_naming_the_holder(capsys, lock):
    begin(capsys, lock)
    result = begin(capsys, lock, run_id="r2")
    assert result["_rc"] == 1
    assert result["msg"].startswith("another run holds the lock %s: alice on awx-1 (run r1, AWX job 7)" % lock)
    assert read_holder(lock)["run_id"] == "r1"


def test_release_by_another_run_does_nothing_and_warns(capsys, warned, lock):
    begin(capsys, lock)
    result = run(capsys, lock, run_id="r2", state="released")
    assert result["_rc"] == 0 and result["changed"] is False and result["released"] is False
    assert any("held by another run, not by run r2: left in place" in w for w in warned)
    assert read_holder(lock)["run_id"] == "r1"
    result = run(capsys, lock, run_id="r1", state="released")
    assert result["released"] is True and read_holder(lock) is None


def test_release_of_a_free_lock_is_quiet(capsys, warned, lock):
    result = run(capsys, lock, run_id="r1", state="released")
    assert result["_rc"] == 0 and result["released"] is False and not warned


def test_refresh_renews_the_heartbeat_of_the_holder_only(capsys, lock):
    acquire(lock, {"run_id": "r1", "ttl": 60, "started_epoch": 1.0}, False, now=1.0)
    result = run(capsys, lock, run_id="r1", state="refreshed")
    assert result["_rc"] == 0 and result["changed"] is False and result["holder"]["heartbeat_epoch"] > 1000.0
    result = run(capsys, lock, run_id="r2", state="refreshed")
    assert result["_rc"] == 1 and result["msg"].startswith("run r2 does not hold the lock %s" % lock)


def test_check_mode_changes_nothing(capsys, lock):
    result = begin(capsys, lock, check=True)
    assert result["_rc"] == 0 and result["changed"] and read_holder(lock) is None
    begin(capsys, lock)
    before = open(lock).read()
    assert begin(capsys, lock, check=True)["reentered"] is True
    assert run(capsys, lock, run_id="r1", state="released", check=True)["released"] is True
    assert open(lock).read() == before


def test_stale_lock_is_broken_on_request_and_reported(capsys, warned, lock):
    acquire(lock, {"run_id": "dead", "owner": "night", "ttl": 60, "started_epoch": 1.0}, False, now=1.0)
    refused = begin(capsys, lock)
    assert refused["_rc"] == 1 and refused["msg"].startswith("stale lock %s: held by night" % lock)
    broken = begin(capsys, lock, break_stale=True)
    assert broken["_rc"] == 0 and broken["broken"]["run_id"] == "dead"
    assert any(w.startswith("broke a stale lock: night") for w in warned)
    assert read_holder(lock)["run_id"] == "r1"


def test_symlinked_lock_is_refused(capsys, tmp_path):
    target = tmp_path / "target"
    target.write_text(json.dumps({"run_id": "r1"}))
    link = tmp_path / "lock"
    link.symlink_to(target)
    for state in ("acquired", "released", "refreshed", "query"):
        result = run(capsys, str(link), run_id="r1", state=state)
        assert result["_rc"] == 1, state
        assert result["msg"].startswith("refusing the app lock %s: it is a symbolic link" % link), state
    assert json.loads(target.read_text()) == {"run_id": "r1"} and link.is_symlink()
