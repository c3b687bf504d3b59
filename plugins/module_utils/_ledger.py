# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release ledger: append-only JSON lines, one record per deploy/rollback/restore.

Pure functions (no Ansible imports) so they are unit-tested directly.
"""

from __future__ import annotations

import json
import os

LEDGER_MODE = 0o600
STATE_DIR_MODE = 0o700


def read_records(path):
    """All records of the ledger, oldest first; unreadable lines are skipped."""
    if not os.path.exists(path):
        return []
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a torn last line after a crash must not hide the rest
            if isinstance(record, dict):
                records.append(record)
    return records


def append_record(path, record):
    """Append one record durably (O_APPEND, fsync), creating the file 0600."""
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory, mode=STATE_DIR_MODE)
    line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, LEDGER_MODE)
    try:
        os.fchmod(fd, LEDGER_MODE)
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return line.strip()


def healthy_records(records):
    return [r for r in records if r.get("outcome") == "healthy" and r.get("to_commit")]


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
    """Per commit: last deployed time, last outcome, count of deploys."""
    summary = {}
    for record in records:
        commit = record.get("to_commit")
        if not commit:
            continue
        entry = summary.setdefault(commit, {"deploys": 0})
        entry["deploys"] += 1
        entry["last_time"] = record.get("time")
        entry["last_outcome"] = record.get("outcome")
        entry["last_action"] = record.get("action")
    return summary
