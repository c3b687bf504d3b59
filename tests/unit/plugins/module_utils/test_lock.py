"""App lock: exclusive create, fail fast naming the holder, stale handling."""

import json
import os
import stat

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils._lock import (
    LockHeld, acquire, describe, fresh_holder, held_message, is_stale, release)

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
    assert fresh_holder(path, NOW + 600) is None  # past its ttl: stale, acquire() reports it
    open(path, "w").close()
    assert fresh_holder(path, NOW) is None  # half-written: acquire() reports it


def test_held_message_says_wait_or_break(tmp_path):
    fresh, stale = record("one", started=NOW - 30), record("old", started=NOW - 3600)
    assert held_message(fresh, NOW, "/l").startswith("another run holds the lock /l: alice on awx-1 (run one, AWX job 7)")
    assert "wait for it to finish" in held_message(fresh, NOW, "/l")
    assert held_message(stale, NOW, "/l").startswith("stale lock /l: held by alice")
    assert "break_stale=true" in held_message(stale, NOW, "/l")
