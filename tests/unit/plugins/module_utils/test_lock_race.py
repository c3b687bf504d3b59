"""Issue 16 faults 4 and 8: liveness beyond the TTL, racing breakers, a symlinked lock."""

import json
import multiprocessing
import os

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils import _lock
from ansible_collections.maverick.rollback.plugins.module_utils._lock import LockHeld, acquire, read_holder

NOW = 1_800_000_000.0


def record(run_id, started=NOW, ttl=600, heartbeat=None):
    rec = {"run_id": run_id, "owner": "alice", "controller": "awx-1", "awx_job_id": "", "ttl": ttl,
           "started_epoch": started, "started": "2027-01-15T08:00:00Z"}
    if heartbeat is not None:
        rec["heartbeat_epoch"] = heartbeat
    return rec


def write_lock(path, rec):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(rec, handle)


def test_holder_working_past_its_ttl_with_a_fresh_heartbeat_is_not_broken(tmp_path):
    path = str(tmp_path / "lock")
    # a 1.5 h backup: started long ago, ttl 30 min, heartbeat 20 s ago
    write_lock(path, record("backup", started=NOW - 5400, ttl=1800, heartbeat=NOW - 20))
    with pytest.raises(LockHeld) as held:
        acquire(path, record("other"), break_stale=True, now=NOW)
    assert held.value.holder["run_id"] == "backup"
    assert read_holder(path)["run_id"] == "backup"


ATTEMPTS = 200


def _breaker(name, paths, barrier, results):
    """One of two racing runs: for each stale lock, wait for the other, then break it."""
    for attempt, path in enumerate(paths):
        barrier.wait()
        try:
            acquired = acquire(path, record(name), break_stale=True, now=NOW)[0]
            what = "won" if acquired else "reentered"
        except LockHeld:
            what = "held"
        except Exception as exc:  # pylint: disable=broad-except
            what = "error %r" % exc
        results.put((attempt, name, what))


def test_two_concurrent_breakers_exactly_one_holds(tmp_path):
    paths = [str(tmp_path / ("lock-%d" % attempt)) for attempt in range(ATTEMPTS)]
    for path in paths:
        write_lock(path, record("dead", started=NOW - 7200, ttl=60))
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_breaker, args=(name, paths, barrier, results)) for name in ("one", "two")]
    for proc in procs:
        proc.start()
    outcomes = {}
    for result in range(2 * ATTEMPTS):
        attempt, name, what = results.get(timeout=120)
        outcomes.setdefault(attempt, {})[name] = what
    assert result == 2 * ATTEMPTS - 1
    for proc in procs:
        proc.join()
    for attempt, path in enumerate(paths):
        outcome = outcomes[attempt]
        winners = [name for name, what in outcome.items() if what == "won"]
        assert sorted(outcome.values()) == ["held", "won"], "attempt %d: %s" % (attempt, outcome)
        assert read_holder(path)["run_id"] == winners[0], "attempt %d: %s" % (attempt, outcome)


def test_symlinked_lock_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    link = tmp_path / "lock"
    link.symlink_to(target)
    with pytest.raises(_lock.LockError) as refused:
        acquire(str(link), record("one"), break_stale=True, now=NOW)
    assert "symbolic link" in str(refused.value) and str(link) in str(refused.value)
    assert target.read_text() == "precious\n" and os.path.islink(str(link))
