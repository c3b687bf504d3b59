"""release_ledger as a module: schema refusal before writing, the run id stamp, the
lock heartbeat, warnings for skipped lines, a symlinked ledger refused."""

import json

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils._lock import acquire, read_holder
from ansible_collections.maverick.rollback.plugins.modules import release_ledger

from pg_testlib import run_module

pytestmark = pytest.mark.usefixtures("warned")

A, B = "a" * 40, "b" * 40
GOOD = {"action": "rollback", "app": "lifetracker", "from_commit": A, "to_commit": B, "outcome": "healthy"}


def run(capsys, check=False, **args):
    return run_module(release_ledger.main, args, capsys, check=check)


@pytest.fixture
def ledger(tmp_path):
    return tmp_path / "app" / "ledger.jsonl"


BAD = [
    # (id, change, message fragment)
    ("missing-key", {"to_commit": None}, "invalid ledger record (action 'rollback'): missing required key(s) to_commit."),
    ("bad-outcome", {"outcome": "ok"}, "outcome 'ok' is not one of healthy, reverted, failed."),
    ("unknown-action", {"action": "rollback_all"}, "invalid ledger record (action 'rollback_all'): unknown action"),
]


@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
@pytest.mark.parametrize("change,fragment", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_record_fails_before_writing(capsys, ledger, change, fragment, check):
    record = {key: value for key, value in dict(GOOD, **change).items() if value is not None}
    result = run(capsys, check=check, path=str(ledger), state="appended", record=record)
    assert result["_rc"] == 1 and fragment in result["msg"]
    assert "Nothing was written to the ledger" in result["msg"]
    assert not ledger.exists()


def test_good_record_is_written_with_time(capsys, ledger):
    result = run(capsys, path=str(ledger), state="appended", record=GOOD)
    assert result["_rc"] == 0 and result["changed"]
    written = json.loads(ledger.read_text())
    assert written["to_commit"] == B and written["time"].endswith("Z")
    assert result["last_healthy"]["to_commit"] == B


def test_run_id_stamped_and_lock_heartbeat_refreshed(capsys, ledger):
    lock = str(ledger.parent / "lock")
    acquire(lock, {"run_id": "r1", "ttl": 60, "started_epoch": 1.0}, False, now=1.0)
    result = run(capsys, path=str(ledger), state="appended", record=GOOD, run_id="r1", lock_path=lock)
    assert result["_rc"] == 0 and json.loads(ledger.read_text())["run_id"] == "r1"
    assert read_holder(lock)["heartbeat_epoch"] > 1000.0  # refreshed now, not left at 1.0


def test_record_naming_another_run_is_refused(capsys, ledger):
    result = run(capsys, path=str(ledger), state="appended", record=dict(GOOD, run_id="r2"), run_id="r1")
    assert result["_rc"] == 1 and "its run_id 'r2' is not this run's ('r1')" in result["msg"]
    assert not ledger.exists()


def test_lock_of_another_run_is_left_alone_with_a_warning(capsys, warned, ledger):
    lock = str(ledger.parent / "lock")
    acquire(lock, {"run_id": "other", "ttl": 60, "started_epoch": 1.0}, False, now=1.0)
    result = run(capsys, path=str(ledger), state="appended", record=GOOD, run_id="r1", lock_path=lock)
    assert result["_rc"] == 0
    assert any("held by another run, not by run r1" in w for w in warned)
    assert read_holder(lock)["heartbeat_epoch"] == 1.0


def test_unreadable_lines_are_warned_and_skipped(capsys, warned, ledger):
    ledger.parent.mkdir()
    ledger.write_bytes(json.dumps(dict(GOOD, to_commit=A)).encode() + b"\n\xff\n" + b'{"action": "rollb')
    result = run(capsys, path=str(ledger), state="appended", record=GOOD)
    assert result["_rc"] == 0
    assert [r["to_commit"] for r in result["records"]] == [A, B]
    assert any("line 2 skipped: invalid UTF-8" in w for w in warned)
    assert any("line 3 skipped: not JSON" in w for w in warned)
    assert any("its last line was incomplete" in w for w in warned)


def test_symlinked_ledger_is_refused(capsys, tmp_path):
    target = tmp_path / "passwd"
    target.write_text("root:x:0:0\n")
    link = tmp_path / "ledger.jsonl"
    link.symlink_to(target)
    for args in ({"state": "appended", "record": GOOD}, {}):
        result = run(capsys, path=str(link), **args)
        assert result["_rc"] == 1
        assert result["msg"].startswith("refusing the release ledger %s: it is a symbolic link (to %s)" % (link, target))
    assert target.read_text() == "root:x:0:0\n"


# The run protocol's end in one call: the record, then the lock given back (release_lock), with
# app_lock state=released's rule - only by the run that holds it.
# (id, holder of the lock before (run id, None: no lock), check mode, released, holder after, warning)
RELEASE_CASES = [
    ("this run's lock is given back", "r1", False, True, None, ""),
    ("another run's lock is left with a warning", "other", False, False, "other",
     "held by another run, not by run r1: left in place"),
    ("no lock: nothing to give back", None, False, False, None, ""),
    ("check mode: would be given back, nothing written", "r1", True, True, "r1", ""),
    ("check mode, another run's lock", "other", True, False, "other", "held by another run, not by run r1"),
]


@pytest.mark.parametrize("before,check,released,after,warning", [c[1:] for c in RELEASE_CASES],
                         ids=[c[0] for c in RELEASE_CASES])
def test_append_then_release_the_lock(capsys, warned, ledger, before, check, released, after, warning):
    lock = str(ledger.parent / "lock")
    if before:
        acquire(lock, {"run_id": before, "ttl": 60, "started_epoch": 1.0}, False, now=1.0)
    result = run(capsys, check=check, path=str(ledger), state="appended", record=GOOD, run_id="r1", lock_path=lock,
                 release_lock=True)
    assert result["_rc"] == 0, result.get("msg")
    assert result["changed"] is True and result["released"] is released
    assert (read_holder(lock) or {}).get("run_id") == after
    assert ledger.exists() is not check
    if not check:
        assert json.loads(ledger.read_text())["run_id"] == "r1"
    held = [w for w in warned if "held by another run" in w]
    assert len(held) == (1 if warning else 0) and all(warning in w for w in held)


def test_a_refused_record_keeps_the_lock(capsys, ledger):
    lock = str(ledger.parent / "lock")
    acquire(lock, {"run_id": "r1", "ttl": 60, "started_epoch": 1.0}, False, now=1.0)
    result = run(capsys, path=str(ledger), state="appended", record=dict(GOOD, outcome="ok"), run_id="r1",
                 lock_path=lock, release_lock=True)
    assert result["_rc"] == 1 and "Nothing was written to the ledger" in result["msg"]
    assert read_holder(lock)["run_id"] == "r1" and not ledger.exists()


def test_without_release_lock_the_lock_stays(capsys, ledger):
    lock = str(ledger.parent / "lock")
    acquire(lock, {"run_id": "r1", "ttl": 60, "started_epoch": 1.0}, False, now=1.0)
    result = run(capsys, path=str(ledger), state="appended", record=GOOD, run_id="r1", lock_path=lock)
    assert result["_rc"] == 0 and "released" not in result and read_holder(lock)["run_id"] == "r1"


@pytest.mark.parametrize("args,fragment", [
    ({"state": "query", "run_id": "r1", "lock_path": "/nonexistent/lock"}, "release_lock gives the lock back after an append: it needs state=appended"),
    ({"state": "appended", "record": GOOD, "run_id": "r1"}, "release_lock is True but all of the following are missing: lock_path"),
], ids=["query", "no-lock-path"])
def test_release_lock_needs_an_append_and_the_lock(capsys, ledger, args, fragment):
    result = run(capsys, path=str(ledger), release_lock=True, **args)
    assert result["_rc"] == 1 and fragment in result["msg"]
    assert not ledger.exists()
