"""backup_pick, backup_fields: which backup a restore takes,
what a backup's name says."""

from pathlib import Path

import pytest
import yaml

from ansible_collections.maverick.rollback.plugins.filter.backup_fields import backup_fields
from ansible_collections.maverick.rollback.plugins.filter.backup_pick import backup_pick

D = "/b"
SHORT = ["20260101T000000Z_aaaaaaaaaaaa", "20260101T000000Z_aaaaaaaaaaaa-1", "20260201T000000Z_bbbbbbbbbbbb",
         "20260202T000000Z_bbbbbbbbbbbb", "20260301T000000Z_cccccccccccc"]
PICK_CASES = yaml.safe_load((Path(__file__).parent / "tables" / "backup_pick.yml").read_text())


def path(short):
    return "%s/lt_lt_%s.dump" % (D, short) if short and not short.startswith("/") else short


@pytest.mark.parametrize("case", PICK_CASES, ids=[c["id"] for c in PICK_CASES])
def test_backup_pick(case):
    files = [{"path": path(s) + ".json", "size": 700} for s in reversed(case.get("files", SHORT))]
    got = backup_pick(files, case["request"], "lt", "lt", case.get("records", []), case.get("resolved", ""))
    assert (got["path"], got["how"], got["prefix"]) == (path(case["path"]), case["how"], case.get("prefix", ""))
    assert got["commit_known"] is case.get("commit_known", True)
    assert got["backup"].get("path", "") == (got["path"] if got["how"] not in ("path", "") else "")
    if not case["request"].startswith("/"):
        assert [c["path"] for c in got["candidates"]] == [path(s) for s in sorted(case.get("files", SHORT), reverse=True)]


def test_backup_pick_candidates_are_limited():
    files = [path(s) for s in SHORT]
    assert [c["path"] for c in backup_pick(files, "latest", "lt", "lt", limit=2)["candidates"]] == [path(SHORT[4]), path(SHORT[3])]


@pytest.mark.parametrize("given,expected", [
    ("/var/lib/maverick-rollback/backups/lifetracker_lifetracker_20260105T031500Z_abcdef123456.dump",
     {"name": "lifetracker_lifetracker_20260105T031500Z_abcdef123456.dump", "app": "lifetracker", "database": "lifetracker",
      "stamp": "20260105T031500Z", "commit": "abcdef123456", "seq": 0}),
    ("/b/life.tracker_my_db_20260105T031500Z_unknown-3.dump/",
     {"name": "life.tracker_my_db_20260105T031500Z_unknown-3.dump", "app": "life.tracker", "database": "my_db",
      "stamp": "20260105T031500Z", "commit": "unknown", "seq": 3}),
    ("/b/lt_db_20260105T031500Z_abcd.dump.json",
     {"name": "lt_db_20260105T031500Z_abcd.dump", "app": "lt", "database": "db", "stamp": "20260105T031500Z",
      "commit": "abcd", "seq": 0}),
    ("/root/backup.sql", {}),
    ("", {}),
    (None, {}),
], ids=["plain", "directory-format-and-seq", "manifest", "runbook-dump", "empty", "none"])
def test_backup_fields(given, expected):
    assert backup_fields(given) == expected
