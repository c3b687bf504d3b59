# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One lock per app: a JSON file naming the run that holds it.

Modules are short-lived processes, so a run is alive while it shows signs of life:
- a heartbeat (heartbeat_epoch) refreshed by every lock call of the holder
  (re-entry, state=refreshed) and every ledger call that names its run id;
- while one long step works (a 1.5 h dump), a worker process on this host whose pid
  and start time the lock records (keep_alive()): alive as long as that process is.
A holder is stale only when its worker is gone (or none) and its last heartbeat is
older than its TTL. Every change of the lock file (create, break, refresh, release)
happens under a short flock on its directory and is published whole (link or
rename of a fully written temporary file), so two breakers cannot both win and a
reader never sees half a record.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
import sys
import threading
import time
import uuid

from ansible_collections.maverick.rollback.plugins.module_utils._state_files import (
    STATE_FILE_MODE, StateFileError, ensure_dir, fsync_dir, open_state_file, write_all)

LOCK_MODE = STATE_FILE_MODE
LOCK = "app lock"
LockError = StateFileError  # a symlinked or non-regular lock file, refused with a message saying so


class LockHeld(Exception):
    """Another run holds the lock (fresh, or stale without break_stale); .holder has its record."""

    def __init__(self, holder, age):
        super().__init__("lock held")
        self.holder = holder
        self.age = age


class NotHolder(Exception):
    """This run does not hold the lock; .holder is the record found (None when free)."""

    def __init__(self, holder):
        super().__init__("not the holder")
        self.holder = holder


def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- liveness

def process_table():
    """Which pid namespace of which boot this process sees; '' where /proc cannot say.
    A pid means something only when read from the same table."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            boot = handle.read().strip()
        return "%s/%s" % (boot, os.readlink("/proc/self/ns/pid"))
    except OSError:
        return ""


def process_start(pid):
    """Start time of a process (clock ticks after boot, /proc/<pid>/stat field 22), None if gone."""
    try:
        with open("/proc/%d/stat" % int(pid), encoding="utf-8", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, ValueError, IndexError, TypeError):
        return None


def this_process():
    """The worker entry keep_alive() puts in the lock."""
    return {"pid": os.getpid(), "start": process_start(os.getpid()), "table": process_table(),
            "host": socket.gethostname()}


def worker_alive(holder):
    """True when the holder's worker process still runs here (same pid table, same start time)."""
    worker = (holder or {}).get("worker") or {}
    table = process_table()
    if not worker or not table or worker.get("table") != table or worker.get("start") is None:
        return False
    return process_start(worker.get("pid")) == worker.get("start")


def last_sign_of_life(holder):
    holder = holder or {}
    return max(float(holder.get("started_epoch") or 0), float(holder.get("heartbeat_epoch") or 0))


def lock_age(holder, now):
    return max(0.0, now - float((holder or {}).get("started_epoch", 0)))


def is_stale(holder, now, alive=worker_alive):
    """Unreadable (a crash of an older version between create and write), or no worker
    alive and no heartbeat within the TTL. Age alone never makes a holder stale."""
    if not holder:
        return True
    if alive(holder):
        return False
    return now - last_sign_of_life(holder) > float(holder.get("ttl", 0))


def describe(holder, now):
    if not holder:
        return "an unreadable lock file"
    heartbeat = holder.get("heartbeat_epoch")
    return "%s on %s (run %s%s), started %s, %ds ago%s%s, ttl %ss" % (
        holder.get("owner", "?"), holder.get("controller", "?"), holder.get("run_id", "?"),
        (", AWX job %s" % holder["awx_job_id"]) if holder.get("awx_job_id") else "",
        holder.get("started", "?"), int(lock_age(holder, now)),
        (", last heartbeat %ds ago" % int(max(0.0, now - float(heartbeat)))) if heartbeat else "",
        (", working in pid %s on %s" % (holder["worker"].get("pid"), holder["worker"].get("host")))
        if worker_alive(holder) else "",
        holder.get("ttl", "?"))


def held_message(holder, now, path):
    """What a run that finds the lock taken is told (app_lock, release_facts)."""
    if is_stale(holder, now):
        return ("stale lock %s: held by %s. Nothing was changed. If that run is gone, re-run with "
                "the break-stale-lock flag (break_stale=true)." % (path, describe(holder, now)))
    return ("another run holds the lock %s: %s. Nothing was changed; wait for it to finish."
            % (path, describe(holder, now)))


# --------------------------------------------------------------------------- the file

def read_holder(path):
    """The lock record; None when there is no lock or it is unreadable.
    A symbolic link is refused (LockError), never followed."""
    try:
        fd = open_state_file(path, os.O_RDONLY, LOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read()
    try:
        holder = json.loads(data.decode("utf-8"))
    except ValueError:
        return None
    return holder if isinstance(holder, dict) else None


def fresh_holder(path, now=None):
    """The record of a run holding the lock now (alive), else None.
    A stale, half-written or refused lock is left to acquire(), which reports or breaks it."""
    try:
        holder = read_holder(path)
    except LockError:
        return None
    now = time.time() if now is None else now
    return holder if holder and not is_stale(holder, now) else None


@contextlib.contextmanager
def _guard(path):
    """Changes of the lock file take turns: flock on its directory, held for a few syscalls."""
    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def _written(path, record):
    """A temporary file beside the lock holding the whole record, fsynced."""
    tmp = "%s.%s.tmp" % (path, uuid.uuid4().hex)
    fd = open_state_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, LOCK, LOCK_MODE)
    try:
        write_all(fd, json.dumps(record, sort_keys=True).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def _create(path, record):
    """Publish the record as the lock only if there is none (link fails on any existing
    name, a symlink included). False when one exists."""
    tmp = _written(path, record)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    fsync_dir(os.path.dirname(path))
    return True


def _replace(path, record):
    """Swap the lock for a new record in one step (rename); readers see old or new, whole."""
    tmp = _written(path, record)
    try:
        os.replace(tmp, path)
    except OSError:
        os.unlink(tmp)
        raise
    fsync_dir(os.path.dirname(path))


def _with_heartbeat(record, now):
    return dict(record, heartbeat_epoch=now, heartbeat=iso(now))


# The fields of a run taking the lock: app_lock's options, release_switch's `lock` suboptions.
LOCK_REQUEST_SPEC = dict(
    path=dict(type="path", required=True),
    run_id=dict(type="str", required=True),
    owner=dict(type="str", default="unknown"),
    controller=dict(type="str", default="unknown"),
    awx_job_id=dict(type="str", default=""),
    ttl=dict(type="int", default=1800),
    break_stale=dict(type="bool", default=False),
)


def lock_record(params, now):
    """The holder record of a run taking the lock: app_lock's options, or release_switch's `lock`."""
    record = dict(
        run_id=params["run_id"], owner=params["owner"], controller=params["controller"],
        awx_job_id=params["awx_job_id"], ttl=params["ttl"], started_epoch=now, started=iso(now),
    )
    if params.get("controller_pid") is not None:
        record["controller_pid"] = params["controller_pid"]
    return record


def held_by_another(holder, run_id, break_stale, now):
    """Check mode's answer to "would acquire refuse?" for a lock read without taking it: another
    run holds it and it is not a stale lock this call may break."""
    return bool(holder) and holder.get("run_id") != run_id and not (break_stale and is_stale(holder, now))


def acquire(path, record, break_stale, now=None):
    """Take the lock. Returns (acquired, broken_holder).

    (False, None): this run (same run_id) holds it already - re-entry; the holder
    stays as it is but for a fresh heartbeat. Raises LockHeld when another run holds
    it alive, or stale and break_stale is false (a stale lock is reported, broken only
    on request). LockError for a symlinked lock.
    """
    now = time.time() if now is None else now
    record = _with_heartbeat(record, now)
    ensure_dir(os.path.dirname(path))
    with _guard(path):
        if _create(path, record):
            return True, None
        holder = read_holder(path)
        if holder and holder.get("run_id") == record.get("run_id"):
            _replace(path, _with_heartbeat(holder, now))
            return False, None
        if not (break_stale and is_stale(holder, now)):
            raise LockHeld(holder, lock_age(holder, now))
        _replace(path, record)
        return True, holder


def take_in_call(module, lock, refuse):
    """A module taking the run's lock itself before it changes anything (release_switch and
    pg_backup with `lock`: the run protocol's request, LOCK_REQUEST_SPEC), instead of a remote
    call of its own. Returns True when this call took it (False: re-entered, or check mode).
    refuse(msg, holder) must not return (fail_json): another run holds it (in check mode:
    acquire would refuse), or it cannot be taken."""
    now = time.time()
    try:
        if module.check_mode:
            holder = read_holder(lock["path"])
            if held_by_another(holder, lock["run_id"], lock["break_stale"], now):
                raise LockHeld(holder, None)
            return False
        taken, broken = acquire(lock["path"], lock_record(lock, now), lock["break_stale"], now)
    except LockHeld as exc:
        refuse(held_message(exc.holder, now, lock["path"]) + " This run holds no app lock.", exc.holder)
    except (LockError, OSError) as exc:
        refuse("cannot take the app lock %s: %s. Nothing was changed." % (lock["path"], exc), None)
    if broken:
        module.warn("broke a stale lock: %s" % describe(broken, now))
    return taken


_KEEP = object()


def refresh(path, run_id, now=None, worker=_KEEP):
    """The holder's sign of life: a new heartbeat (and worker entry, None to drop it).
    Returns the updated record; NotHolder when run_id does not hold the lock."""
    now = time.time() if now is None else now
    if not os.path.isdir(os.path.dirname(path) or "."):
        raise NotHolder(None)
    with _guard(path):
        holder = read_holder(path)
        if not holder or holder.get("run_id") != run_id:
            raise NotHolder(holder)
        updated = _with_heartbeat(holder, now)
        if worker is None:
            updated.pop("worker", None)
        elif worker is not _KEEP:
            updated["worker"] = worker
        _replace(path, updated)
        return updated


def release(path, run_id):
    """Remove the lock only when this run holds it. Returns True if removed."""
    if not os.path.isdir(os.path.dirname(path) or "."):
        return False
    with _guard(path):
        holder = read_holder(path)
        if holder is None or holder.get("run_id") != run_id:
            return False
        os.unlink(path)
    fsync_dir(os.path.dirname(path))
    return True


def give_back(path, run_id, check_mode=False, now=None):
    """The run protocol's release (app_lock state=released, release_ledger release_lock): the lock
    is removed only when run_id holds it. Returns (released, warning, holder): warning names the
    other run whose lock was left in place ('' otherwise), holder is the lock left (None when
    released). In check mode what would be released is reported, nothing removed."""
    now = time.time() if now is None else now
    holder = read_holder(path)
    mine = bool(holder) and holder.get("run_id") == run_id
    done = mine and (check_mode or release(path, run_id))
    warning = ""
    if not done and holder and not mine:
        warning = ("the lock %s is held by another run, not by run %s: left in place (%s)"
                   % (path, run_id, describe(holder, now)))
    return bool(done), warning, None if done else read_holder(path)


def _beat(path, run_id, interval, stop):
    while not stop.wait(interval):
        try:
            refresh(path, run_id)
        except (NotHolder, LockError, OSError):
            return  # broken or gone: nothing left to keep alive


@contextlib.contextmanager
def keep_alive(path, run_id, interval=None):
    """For a module that works long while its run holds the lock (a dump, a restore):
    the lock names this process as the run's worker, alive while it runs, and a thread
    refreshes the heartbeat every `interval` s (default: a quarter of the TTL).
    Raises NotHolder at entry when run_id does not hold the lock."""
    holder = refresh(path, run_id, worker=this_process())
    interval = interval or max(1.0, float(holder.get("ttl") or 60) / 4)
    stop = threading.Event()
    beater = threading.Thread(target=_beat, args=(path, run_id, interval, stop), daemon=True)
    beater.start()
    try:
        yield holder
    finally:
        stop.set()
        beater.join()
        try:
            refresh(path, run_id, worker=None)
        except (NotHolder, LockError, OSError):
            pass


class RunLockLost(Exception):
    """A long step's run does not hold (or no longer holds) its app lock: stop, change nothing more."""


def _lost_message(path, run_id, holder):
    who = ("run %s holds it now: %s" % (holder.get("run_id", "?"), describe(holder, time.time()))) if holder else "it is free"
    return "run %s does not hold the app lock %s (%s); stopped" % (run_id, path, who)


@contextlib.contextmanager
def held_while(path, run_id):
    """keep_alive() for a module's long step when its caller names the run's lock (path and
    run_id); nothing when either is empty. RunLockLost at entry when run_id does not hold it."""
    if not (path and run_id):
        yield None
        return
    try:
        manager = keep_alive(path, run_id)
        holder = manager.__enter__()
    except NotHolder as exc:
        raise RunLockLost(_lost_message(path, run_id, exc.holder))
    try:
        yield holder
    except BaseException:
        if not manager.__exit__(*sys.exc_info()):
            raise
    else:
        manager.__exit__(None, None, None)


def check_held(path, run_id):
    """RunLockLost when another run took the lock while this one worked (broke it as stale)."""
    if not (path and run_id):
        return
    try:
        holder = read_holder(path)
    except LockError:
        holder = None
    if not holder or holder.get("run_id") != run_id:
        raise RunLockLost(_lost_message(path, run_id, holder))
