# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release ledger: append-only JSON lines, one record per deploy/rollback/restore.

Standard library only (no Ansible imports), so it is unit-tested directly. The
record schema is in _ledger_schema.py; the file handling rules in _state_files.py.
"""

from __future__ import annotations

import fcntl
import json
import os

from ansible_collections.maverick.rollback.plugins.module_utils._ledger_schema import FLEET_ACTIONS
from ansible_collections.maverick.rollback.plugins.module_utils._state_files import (
    STATE_FILE_MODE, StateFileError, ensure_dir, fsync_dir, open_state_file, write_all)

LEDGER_MODE = STATE_FILE_MODE
LEDGER = "release ledger"
LedgerError = StateFileError  # a symlinked or non-regular ledger, refused with a message saying so
MAX_WARNINGS = 5  # unreadable lines named one by one; the rest counted


def parse_line(raw):
    """(record or None, why it was skipped or ''). Each line is decoded on its own, so one
    bad byte or a torn write costs that line only."""
    raw = raw.strip()
    if not raw:
        return None, ""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, "invalid UTF-8 (byte 0x%02x at column %d)" % (raw[exc.start], exc.start + 1)
    try:
        record = json.loads(text)
    except ValueError:
        return None, "not JSON (a write torn by a crash?): %r" % text[:60]
    if not isinstance(record, dict):
        return None, "not a JSON object: %r" % text[:60]
    return record, ""


def read_records(path, warnings=None):
    """All records of the ledger, oldest first. Unreadable lines are skipped, each
    named in `warnings` (a list) when given: a torn line must not hide the rest."""
    try:
        fd = open_state_file(path, os.O_RDONLY, LEDGER)
    except FileNotFoundError:
        return []
    records = []
    with os.fdopen(fd, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            record, skipped = parse_line(raw)
            if record is not None:
                records.append(record)
            elif skipped and warnings is not None:
                warnings.append("release ledger %s line %d skipped: %s" % (path, number, skipped))
    return records


def warn_all(module, warnings):
    """Pass read_records' warnings to a module (module.warn), the first MAX_WARNINGS by name."""
    for warning in warnings[:MAX_WARNINGS]:
        module.warn(warning)
    if len(warnings) > MAX_WARNINGS:
        module.warn("release ledger: %d more unreadable lines skipped" % (len(warnings) - MAX_WARNINGS))


def _ends_torn(fd, size):
    """True when the last line has no newline: a writer crashed in the middle of it."""
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _cut_back(fd, size):
    try:
        os.ftruncate(fd, size)
    except OSError:
        pass  # the next append starts on a new line anyway (_ends_torn)


def append_record(path, record, warnings=None):
    """Append one record as one line, durably, creating the file 0600 (dir 0700).

    Appenders take turns (flock on the file). A torn last line left by a crash is
    closed with a newline first, so the new record stays readable on its own line;
    short writes are completed; on a failed write the partial line is cut off again.
    """
    directory = os.path.dirname(path)
    ensure_dir(directory)
    created = not os.path.lexists(path)
    line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
    fd = open_state_file(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, LEDGER, LEDGER_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.fchmod(fd, LEDGER_MODE)
        size = os.fstat(fd).st_size
        torn = _ends_torn(fd, size)
        if torn and warnings is not None:
            warnings.append("release ledger %s: its last line was incomplete (a write torn by a crash); it was "
                            "closed with a newline and is skipped by readers" % path)
        try:
            write_all(fd, (b"\n" if torn else b"") + line)
            os.fsync(fd)
        except OSError:
            _cut_back(fd, size)
            raise
    finally:
        os.close(fd)
    if created:
        fsync_dir(directory)
    return line.decode("utf-8").strip()


def release_records(records):
    """Records of releases on this host (a fleet run's own record is not one)."""
    return [r for r in records if r.get("to_commit") and r.get("action") not in FLEET_ACTIONS]


def healthy_records(records):
    return [r for r in release_records(records) if r.get("outcome") == "healthy"]


def previous_healthy(records, current_commit):
    """The last healthy release before the one running now.

    Walks healthy records newest first, skipping the current commit: the first
    other commit found is what `commit=previous` means.
    """
    for record in reversed(healthy_records(records)):
        if record["to_commit"] != current_commit:
            return record
    return None


def commits_to_keep(records, keep):
    """Commits whose images must survive pruning: the newest `keep` distinct
    healthy releases, plus every commit the ledger names as a revert target."""
    kept = []
    for record in reversed(healthy_records(records)):
        if record["to_commit"] not in kept:
            kept.append(record["to_commit"])
        if len(kept) >= keep:
            break
    return kept


def annotate(records):
    """Per commit: last deployed time, last outcome, count of deploys; for a commit that
    was healthy, when last (last_healthy_time) and where among the host's release records
    (last_healthy_seq, 0 = oldest): what a fleet's commit=previous compares across hosts."""
    summary = {}
    for seq, record in enumerate(release_records(records)):
        commit = record["to_commit"]
        entry = summary.setdefault(commit, {"deploys": 0})
        entry["deploys"] += 1
        entry["last_time"] = record.get("time")
        entry["last_outcome"] = record.get("outcome")
        entry["last_action"] = record.get("action")
        if record.get("outcome") == "healthy":
            entry["last_healthy_time"] = record.get("time")
            entry["last_healthy_seq"] = seq
    return summary
