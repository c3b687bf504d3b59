"""Release ledger: append-only JSON lines and what is derived from them."""

import json
import os
import stat

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils._ledger import (
    annotate, append_record, commits_to_keep, previous_healthy, read_records)

A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)


def rec(to, outcome="healthy", action="rollback"):
    return {"to_commit": to, "outcome": outcome, "action": action, "time": "t-" + to[:1]}


def test_append_creates_private_file_and_dir(tmp_path):
    path = tmp_path / "state" / "ledger.jsonl"
    line = append_record(str(path), rec(A))
    assert json.loads(line)["to_commit"] == A
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_append_only_keeps_every_line(tmp_path):
    path = str(tmp_path / "ledger.jsonl")
    for commit in (A, B, C):
        append_record(path, rec(commit))
    assert [r["to_commit"] for r in read_records(path)] == [A, B, C]


def test_torn_or_foreign_lines_are_skipped(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_text(json.dumps(rec(A)) + "\n[1,2]\n\n" + '{"to_commit": "bbb", "outc')
    assert [r["to_commit"] for r in read_records(str(path))] == [A]


def test_missing_ledger_reads_empty(tmp_path):
    assert read_records(str(tmp_path / "nope")) == []


@pytest.mark.parametrize("records,current,expected", [
    ([rec(A), rec(B)], B, A),                         # plain: the one before
    ([rec(A), rec(B), rec(C, "reverted")], B, A),     # failed attempts do not count
    ([rec(A), rec(B), rec(B)], B, A),                 # repeated deploys of the current
    ([rec(A), rec(B), rec(A)], A, B),                 # went back: previous is B
    ([rec(A)], A, None),                              # nothing before
    ([], A, None),
    ([rec(A), rec(B)], D, B),                         # current unknown to the ledger
], ids=["plain", "skip-failed", "repeat", "back-and-forth", "only-current", "empty", "unknown-current"])
def test_previous_healthy(records, current, expected):
    found = previous_healthy(records, current)
    assert (found or {}).get("to_commit") == expected


def test_commits_to_keep_newest_distinct_healthy():
    records = [rec(A), rec(B), rec(C, "failed"), rec(A), rec(D)]
    assert commits_to_keep(records, 2) == [D, A]
    assert commits_to_keep(records, 5) == [D, A, B]


def test_annotate_counts_and_last_outcome():
    summary = annotate([rec(A), rec(B, "reverted"), rec(A)])
    assert summary[A]["deploys"] == 2 and summary[A]["last_outcome"] == "healthy"
    assert summary[B]["last_outcome"] == "reverted"


def test_a_fleet_record_is_no_release_of_its_host():
    """The fleet's record on its lock host names the target healthy: previous, kept images and
    list_releases read the host's own release records only."""
    from ansible_collections.maverick.rollback.plugins.module_utils._ledger import (
        annotate, commits_to_keep, previous_healthy)
    old, new = "a" * 40, "b" * 40
    records = [{"action": "rollback", "to_commit": old, "outcome": "healthy"},
               {"action": "rollback", "to_commit": new, "outcome": "healthy"},
               {"action": "fleet_rollback", "to_commit": new, "outcome": "healthy", "fleet": {}}]
    assert previous_healthy(records, new)["to_commit"] == old
    assert commits_to_keep(records, 5) == [new, old]
    assert annotate(records)[new]["deploys"] == 1
