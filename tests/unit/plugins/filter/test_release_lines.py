"""release_lines: recent commits annotated from the ledger and kept images."""

from ansible_collections.maverick.rollback.plugins.filter.release_lines import release_lines

SHA1, SHA2 = "4" * 40, "b" * 40


def test_release_lines_annotate():
    log = [SHA2 + "\t2025-02-03\ttag: v2\tfeat: moods", SHA1 + "\t2025-01-02\tHEAD, tag: v1, origin/main\tfeat: first"]
    ledger = {SHA1: {"deploys": 2, "last_time": "T1", "last_outcome": "healthy", "last_action": "rollback"}}
    lines = release_lines(log, ledger, [SHA1], SHA1)
    assert lines[0] == "bbbbbbbbbbbb 2025-02-03 [v2] feat: moods"
    assert lines[1] == "444444444444 2025-01-02 [v1] feat: first | rollback healthy at T1 (2x) | images kept <= running"
