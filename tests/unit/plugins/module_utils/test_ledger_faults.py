"""Issue 16 faults 3 and 8: a torn ledger, short writes, invalid bytes, a symlinked ledger."""

import json
import os

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils import _ledger
from ansible_collections.maverick.rollback.plugins.module_utils._ledger import append_record, read_records

A, B, C = ("a" * 40, "b" * 40, "c" * 40)


def rec(to, action="rollback"):
    return {"action": action, "app": "lifetracker", "from_commit": A, "to_commit": to, "outcome": "healthy"}


def line(record):
    return json.dumps(record) + "\n"


def test_torn_last_line_then_append_keeps_every_complete_record(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_text(line(rec(A)) + line(rec(B)) + '{"action": "rollback", "to_commit": "ccc')  # crash mid-write
    append_record(str(path), rec(C))
    warnings = []
    assert [r["to_commit"] for r in read_records(str(path), warnings)] == [A, B, C]
    assert len(warnings) == 1 and "line 3" in warnings[0] and "skipped" in warnings[0]


def test_invalid_utf8_line_is_skipped_and_the_others_read(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(line(rec(A)).encode() + b'{"action": "rollback", "note": "\xff\xfe"}\n' + line(rec(B)).encode())
    warnings = []
    assert [r["to_commit"] for r in read_records(str(path), warnings)] == [A, B]
    assert len(warnings) == 1 and "line 2" in warnings[0] and "UTF-8" in warnings[0]


def test_short_writes_are_completed(tmp_path, monkeypatch):
    real_write = os.write
    calls = []

    def short_write(fd, data):  # a full disk's partial writes: at most 7 bytes per call
        calls.append(len(data))
        return real_write(fd, bytes(data[:7]))

    monkeypatch.setattr(_ledger.os, "write", short_write)
    path = str(tmp_path / "ledger.jsonl")
    append_record(path, rec(A))
    append_record(path, rec(B))
    monkeypatch.setattr(_ledger.os, "write", real_write)
    assert [r["to_commit"] for r in read_records(path)] == [A, B]
    assert len(calls) > 2


def test_write_making_no_progress_fails_and_leaves_no_fragment(tmp_path, monkeypatch):
    path = tmp_path / "ledger.jsonl"
    append_record(str(path), rec(A))
    before = path.read_bytes()
    real_write = os.write
    state = {"n": 0}

    def full_disk(fd, data):
        state["n"] += 1
        return real_write(fd, bytes(data[:10])) if state["n"] == 1 else 0

    monkeypatch.setattr(_ledger.os, "write", full_disk)
    with pytest.raises(OSError):
        append_record(str(path), rec(B))
    monkeypatch.setattr(_ledger.os, "write", real_write)
    assert path.read_bytes() == before  # the 10 bytes written were cut off again


def test_symlinked_ledger_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    link = tmp_path / "ledger.jsonl"
    link.symlink_to(target)
    with pytest.raises(_ledger.LedgerError) as refused:
        append_record(str(link), rec(A))
    assert "symbolic link" in str(refused.value) and str(link) in str(refused.value)
    with pytest.raises(_ledger.LedgerError):
        read_records(str(link))
    assert target.read_text() == "precious\n"
