"""App lock: exclusive create, fail fast naming the holder, stale handling."""

import json
import os
import stat

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils import _lock
from ansible_collections.maverick.rollback.plugins.module_utils._lock import (
    LockHeld, NotHolder, acquire, describe, fresh_holder, held_by_another, held_message, is_stale, keep_alive, refresh, release,
    this_process, worker_alive)

NOW = 1_800_000_000.0


def record(run_id, started=NOW, ttl=600):
    return {"run_id": run_id, "owner": "alice", "controller": "awx-1", "awx_job_id": "7",
            "ttl": ttl, "started_epoch": started, "started": "2027-01-15T08:00:00Z"}


def test_first_acquire_creates_private_lock(tmp_path):
    path = str(tmp_path / "app" / "lock")
    assert acquire(path, record("one"), break_stale=False, now=NOW) == (True, None)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.load(open(path))["run_id"] == "one"


def test_second_run_fails_naming_the_holder(tmp_path):
    path = str(tmp_path / "lock")
    acquire(path, record("one"), False, NOW)
    with pytest.raises(LockHeld) as held:
        acquire(path, record("two"), False, NOW + 5)
    assert held.value.holder["run_id"] == "one"
    assert "alice on awx-1 (run one, AWX job 7)" in describe(held.value.holder, NOW + 5)
    assert "5s ago" in describe(held.value.holder, NOW + 5)


def test_same_run_is_reentrant(tmp_path):
    path = str(tmp_path / "lock")
    acquire(path, record("one"), False, NOW)
    assert acquire(path, record("one"), False, NOW) == (False, None)


@pytest.mark.parametrize("break_stale", [False, True])
def test_stale_lock_broken_only_on_request(tmp_path, break_stale):
    path = str(tmp_path / "lock")
    acquire(path, record("old", started=NOW - 3600, ttl=60), False, NOW - 3600)
    if not break_stale:
        with pytest.raises(LockHeld):
            acquire(path, record("new"), False, NOW)
        return
    acquired, broken = acquire(path, record("new"), True, NOW)
    assert acquired and broken["run_id"] == "old"
    assert json.load(open(path))["run_id"] == "new"


def test_fresh_lock_is_never_broken(tmp_path):
    path = str(tmp_path / "lock")
    acquire(path, record("one"), False, NOW)
    with pytest.raises(LockHeld):
        acquire(path, record("two"), True, NOW + 1)


def test_unreadable_lock_counts_as_stale(tmp_path):
    path = tmp_path / "lock"
    path.write_text("{torn")
    assert is_stale(None, NOW)
    acquired, _ = acquire(str(path), record("new"), True, NOW)
    assert acquired


def test_release_only_own_lock(tmp_path):
    path = str(tmp_path / "lock")
    acquire(path, record("one"), False, NOW)
    assert release(path, "two") is False and os.path.exists(path)
    assert release(path, "one") is True and not os.path.exists(path)
    assert release(path, "one") is False


def test_fresh_holder_only_for_a_live_run(tmp_path):
    path = str(tmp_path / "lock")
    assert fresh_holder(path, NOW) is None  # free
    acquire(path, record("one", started=NOW - 30), False, NOW)
    assert fresh_holder(path, NOW)["run_id"] == "one"
    # no heartbeat since it was taken (at NOW) for longer than its ttl: stale, acquire() reports it
    assert fresh_holder(path, NOW + 601) is None
    open(path, "w").close()
    assert fresh_holder(path, NOW) is None  # half-written: acquire() reports it


def test_held_message_says_wait_or_break(tmp_path):
    fresh, stale = record("one", started=NOW - 30), record("old", started=NOW - 3600)
    assert held_message(fresh, NOW, "/l").startswith("another run holds the lock /l: alice on awx-1 (run one, AWX job 7)")
    assert "wait for it to finish" in held_message(fresh, NOW, "/l")
    assert held_message(stale, NOW, "/l").startswith("stale lock /l: held by alice")
    assert "break_stale=true" in held_message(stale, NOW, "/l")


# --------------------------------------------------------------------------- run protocol

def test_reentry_keeps_the_holder_and_refreshes_its_heartbeat(tmp_path):
    path = str(tmp_path / "lock")
    acquire(path, record("one"), False, NOW)
    assert acquire(path, dict(record("one"), owner="bob", started_epoch=NOW + 50), False, NOW + 50) == (False, None)
    holder = json.load(open(path))
    assert (holder["owner"], holder["started_epoch"], holder["heartbeat_epoch"]) == ("alice", NOW, NOW + 50)


def test_refresh_only_by_the_holder(tmp_path):
    path = str(tmp_path / "lock")
    with pytest.raises(NotHolder) as free:
        refresh(path, "one", NOW)
    assert free.value.holder is None
    acquire(path, record("one"), False, NOW)
    assert refresh(path, "one", NOW + 700)["heartbeat_epoch"] == NOW + 700
    assert not is_stale(json.load(open(path)), NOW + 1200)  # 500 s after the heartbeat, ttl 600
    with pytest.raises(NotHolder) as other:
        refresh(path, "two", NOW + 800)
    assert other.value.holder["run_id"] == "one"


STALE_CASES = [
    # (id, holder fields, worker alive, stale at NOW)
    ("fresh", {"started_epoch": NOW - 30}, False, False),
    ("old-no-heartbeat", {"started_epoch": NOW - 601}, False, True),
    ("old-fresh-heartbeat", {"started_epoch": NOW - 5400, "heartbeat_epoch": NOW - 599}, False, False),
    ("old-stale-heartbeat", {"started_epoch": NOW - 5400, "heartbeat_epoch": NOW - 601}, False, True),
    ("old-live-worker", {"started_epoch": NOW - 5400, "heartbeat_epoch": NOW - 5000}, True, False),
    ("unreadable", None, False, True),
]


@pytest.mark.parametrize("fields,alive,stale", [c[1:] for c in STALE_CASES], ids=[c[0] for c in STALE_CASES])
def test_staleness_is_liveness_not_age(fields, alive, stale):
    holder = dict(record("one"), **fields) if fields is not None else None
    assert is_stale(holder, NOW, alive=lambda _holder: alive) is stale


HELD_CASES = [
    # (id, holder, break_stale, refused in check mode) - the rule acquire applies, read only
    ("free", None, False, False),
    ("this-run", record("mine"), False, False),
    ("another-run", record("other"), False, True),
    ("another-run-break-fresh", record("other"), True, True),
    ("another-run-stale-no-break", record("other", started=NOW - 601), False, True),
    ("another-run-stale-break", record("other", started=NOW - 601), True, False),
]


@pytest.mark.parametrize("holder,break_stale,refused", [c[1:] for c in HELD_CASES], ids=[c[0] for c in HELD_CASES])
def test_held_by_another_is_what_acquire_refuses(tmp_path, holder, break_stale, refused):
    assert held_by_another(holder, "mine", break_stale, NOW) is refused
    path = str(tmp_path / "lock")
    if holder is not None:
        with open(path, "w") as handle:
            json.dump(holder, handle)
    if refused:
        with pytest.raises(LockHeld):
            acquire(path, record("mine"), break_stale, NOW)
    else:
        acquire(path, record("mine"), break_stale, NOW)


def test_worker_alive_only_for_the_same_live_process():
    me = this_process()
    assert worker_alive({"worker": me})
    assert not worker_alive({"worker": dict(me, start=me["start"] + 1)})   # pid reused by another process
    assert not worker_alive({"worker": dict(me, table="other-boot/pid:[1]")})  # another host or container
    assert not worker_alive({"worker": dict(me, pid=2 ** 22 + 7)})           # gone
    assert not worker_alive({})


def test_keep_alive_names_this_process_and_keeps_the_lock_live_past_its_ttl(tmp_path):
    path = str(tmp_path / "lock")
    acquire(path, record("one", ttl=60), False, NOW)
    with keep_alive(path, "one", interval=3600):
        holder = json.load(open(path))
        assert holder["worker"]["pid"] == os.getpid()
        assert not is_stale(holder, NOW + 10 ** 6)  # the worker runs: not stale, whatever the clock says
        with pytest.raises(LockHeld):
            acquire(path, record("two"), True, NOW + 10 ** 6)
    holder = json.load(open(path))
    assert "worker" not in holder and holder["run_id"] == "one"
    with pytest.raises(NotHolder):
        with keep_alive(path, "two"):
            pass


def test_release_under_the_guard_leaves_no_temporary_files(tmp_path):
    path = str(tmp_path / "lock")
    acquire(path, record("one"), False, NOW)
    refresh(path, "one", NOW + 1)
    acquire(path, record("one"), False, NOW + 2)
    assert release(path, "one")
    assert os.listdir(str(tmp_path)) == []


class TwoBeats:
    """A stop event that lets the heartbeat thread beat twice, then stops it (no clock involved)."""

    def __init__(self):
        self.calls = 0

    def wait(self, _interval):
        self.calls += 1
        return self.calls > 2


def test_heartbeat_thread_refreshes_until_stopped_or_broken(tmp_path):
    path = str(tmp_path / "lock")
    acquire(path, record("one"), False, 1.0)
    _lock._beat(path, "one", 1, TwoBeats())
    assert json.load(open(path))["heartbeat_epoch"] > 1000.0  # refreshed with the real clock
    acquire(path, record("two", started=NOW - 7200, ttl=1), True, NOW + 10 ** 6)  # ... broken by another run
    stop = TwoBeats()
    _lock._beat(path, "one", 1, stop)
    assert stop.calls == 1 and json.load(open(path))["run_id"] == "two"  # stops at the first NotHolder


def test_held_while_keeps_the_runs_lock_alive_and_refuses_another_runs(tmp_path):
    """pg_backup / pg_restore's long steps: the lock names the worker while it works;
    a run id that does not hold the lock does not start; a lock taken by another run
    meanwhile stops the step before it publishes anything (check_held)."""
    from ansible_collections.maverick.rollback.plugins.module_utils._lock import RunLockLost, check_held, held_while
    path = str(tmp_path / "lock")
    with held_while(None, "one"):  # no lock given: nothing to do
        pass
    acquire(path, record("one", ttl=60), False, NOW)
    with held_while(path, "one"):
        assert json.load(open(path))["worker"]["pid"] == os.getpid()
        check_held(path, "one")
    assert "worker" not in json.load(open(path))
    with pytest.raises(RunLockLost, match="run two does not hold the app lock .*run one holds it"):
        with held_while(path, "two"):
            raise AssertionError("must not start")
    release(path, "one")
    acquire(path, record("two"), False, NOW)
    with pytest.raises(RunLockLost, match="run one does not hold"):
        check_held(path, "one")
