# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One lock per app: a JSON file created with O_EXCL (atomic on POSIX)."""

from __future__ import annotations

import json
import os
import time

LOCK_MODE = 0o600


class LockHeld(Exception):
    """Another run holds the lock (fresh); .holder has its record."""

    def __init__(self, holder, age):
        super().__init__("lock held")
        self.holder = holder
        self.age = age


def read_holder(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def lock_age(holder, now):
    return max(0.0, now - float((holder or {}).get("started_epoch", 0)))


def is_stale(holder, now):
    """Past its TTL, or unreadable (a crash between create and write)."""
    if not holder:
        return True
    return lock_age(holder, now) > float(holder.get("ttl", 0))


def describe(holder, now):
    if not holder:
        return "an unreadable lock file"
    return "%s on %s (run %s%s), started %s, %ds ago, ttl %ss" % (
        holder.get("owner", "?"), holder.get("controller", "?"), holder.get("run_id", "?"),
        (", AWX job %s" % holder["awx_job_id"]) if holder.get("awx_job_id") else "",
        holder.get("started", "?"), int(lock_age(holder, now)), holder.get("ttl", "?"))


def held_message(holder, now, path):
    """What a run that finds the lock taken is told (app_lock, release_facts)."""
    if is_stale(holder, now):
        return ("stale lock %s: held by %s. Nothing was changed. If that run is gone, re-run with "
                "the break-stale-lock flag (break_stale=true)." % (path, describe(holder, now)))
    return ("another run holds the lock %s: %s. Nothing was changed; wait for it to finish."
            % (path, describe(holder, now)))


def fresh_holder(path, now=None):
    """The record of a run holding the lock now (younger than its TTL), else None.
    A stale or half-written lock is left to acquire(), which reports or breaks it."""
    holder = read_holder(path)
    now = time.time() if now is None else now
    return holder if holder and not is_stale(holder, now) else None


def try_create(path, record):
    """Create the lock file exclusively; False when it already exists."""
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, LOCK_MODE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def acquire(path, record, break_stale, now=None):
    """Take the lock. Returns (acquired, broken_holder).

    Raises LockHeld when a fresh lock exists, or a stale one and break_stale
    is false (a stale lock is reported, broken only on request).
    """
    now = time.time() if now is None else now
    if try_create(path, record):
        return True, None
    holder = read_holder(path)
    if holder and holder.get("run_id") == record.get("run_id"):
        return False, None  # ours already (re-entrant within one run)
    if not (is_stale(holder, now) and break_stale):
        raise LockHeld(holder, lock_age(holder, now))
    os.unlink(path)
    if not try_create(path, record):
        raise LockHeld(read_holder(path), 0)
    return True, holder


def release(path, run_id):
    """Remove the lock only when this run holds it. Returns True if removed."""
    holder = read_holder(path)
    if holder is None or holder.get("run_id") != run_id:
        return False
    os.unlink(path)
    return True
