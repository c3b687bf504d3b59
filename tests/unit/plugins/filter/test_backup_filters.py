"""backup_list and backup_protect: which backups "latest", "before=" and retention see.

Data-driven: find results / ledger records as the db_backup and db_restore roles pass them.
"""

import pytest

from ansible_collections.maverick.rollback.plugins.filter.backup_list import backup_list
from ansible_collections.maverick.rollback.plugins.filter.backup_protect import backup_protect
from ansible_collections.maverick.rollback.plugins.module_utils._backups import same_commit

D = "/var/lib/maverick-rollback/backups"
S = D + "/pre-restore"


def name(stamp, commit="b65522e1bab6", seq="", app="lifetracker", db="lifetracker"):
    return "%s/%s_%s_%s_%s%s.dump" % (D, app, db, stamp, commit, seq)


# --------------------------------------------------------------------------- backup_list

LIST_CASES = [
    # (id, input, expected paths newest first)
    ("empty", [], []),
    ("none-input", None, []),
    ("sorted by stamp, not by input order",
     [name("20260101T000000Z"), name("20260301T000000Z"), name("20260201T000000Z")],
     [name("20260301T000000Z"), name("20260201T000000Z"), name("20260101T000000Z")]),
    ("same second: the -N sequence is newer (plain name sorting would get this wrong)",
     [name("20260101T000000Z", seq="-1"), name("20260101T000000Z"), name("20260101T000000Z", seq="-2")],
     [name("20260101T000000Z", seq="-2"), name("20260101T000000Z", seq="-1"), name("20260101T000000Z")]),
    ("manifests map to their backup, duplicates merge",
     [name("20260101T000000Z") + ".json", name("20260101T000000Z")],
     [name("20260101T000000Z")]),
    ("other apps, databases and stray files are ignored",
     [name("20260101T000000Z", app="other"), name("20260101T000000Z", db="lifetracker_test"),
      D + "/.lifetracker_lifetracker_20260101T000000Z_b65522e1bab6.dump.partial-77", D + "/backup.sql",
      D + "/lifetracker_lifetracker_2026_b65522e1bab6.dump", name("20260102T000000Z", commit="unknown")],
     [name("20260102T000000Z", commit="unknown")]),
    ("directory-format backup path with a trailing slash", [name("20260101T000000Z") + "/"], [name("20260101T000000Z")]),
]


@pytest.mark.parametrize("items,expected", [c[1:] for c in LIST_CASES], ids=[c[0] for c in LIST_CASES])
def test_backup_list_order_and_selection(items, expected):
    assert [b["path"] for b in backup_list(items, "lifetracker", "lifetracker")] == expected


def test_backup_list_fields_from_find_results():
    files = [{"path": name("20260105T031500Z", commit="abcdef123456") + ".json", "size": 650, "mtime": 1.0},
             {"path": name("20260105T031500Z", commit="abcdef123456"), "size": 123456, "mtime": 2.0}]
    (entry,) = backup_list(files, "lifetracker", "lifetracker")
    assert entry == {"name": "lifetracker_lifetracker_20260105T031500Z_abcdef123456.dump", "stamp": "20260105T031500Z",
                     "commit": "abcdef123456", "seq": 0, "path": name("20260105T031500Z", commit="abcdef123456"),
                     "created": "2026-01-05T03:15:00Z", "size": 123456, "mtime": 2.0}


def test_backup_list_manifest_size_is_not_the_backup_size():
    (entry,) = backup_list([{"path": name("20260105T031500Z") + ".json", "size": 650}], "lifetracker", "lifetracker")
    assert "size" not in entry


def test_backup_list_app_and_database_are_literal_not_patterns():
    # '.' in an app name must not match any character.
    items = ["%s/lifeXtracker_db_20260101T000000Z_abcd.dump" % D, "%s/life.tracker_db_20260101T000000Z_abcd.dump" % D]
    assert [b["path"] for b in backup_list(items, "life.tracker", "db")] == [items[1]]


# --------------------------------------------------------------------------- backup_protect

A, B, C = "a" * 40, "b" * 40, "c" * 40


def bk(path, commit, outcome="verified", **kw):
    return dict({"action": "backup", "path": path, "commit": commit[:12], "outcome": outcome}, **kw)


PROTECT_CASES = [
    ("empty ledger", [], [A], []),
    ("newest backup per kept release",
     [bk(D + "/1", A), bk(D + "/2", A), bk(D + "/3", B), bk(D + "/4", C)], [A, B],
     [D + "/2", D + "/3"]),
    ("failed backups and other directories do not count",
     [bk(D + "/1", A), bk(S + "/2", A), bk(D + "/3", A, outcome="failed")], [A],
     [D + "/1"]),
    ("releases not kept are not protected", [bk(D + "/1", C)], [A, B], []),
    ("unknown commits never match", [bk(D + "/1", "unknown")], ["unknown"], []),
    ("a deploy record's backup of a kept release",
     [{"action": "deploy", "to_commit": A, "backup": "/elsewhere/x.dump", "outcome": "healthy"},
      {"action": "deploy", "to_commit": C, "backup": "/elsewhere/old.dump", "outcome": "healthy"}], [A],
     ["/elsewhere/x.dump"]),
    ("the newest restore's backup and safety backup only",
     [{"action": "restore", "backup": "/r/old.dump", "safety_backup": S + "/old"},
      {"action": "restore", "backup": "/r/new.dump", "safety_backup": S + "/new"},
      {"action": "restore_undo", "pre_restore_database": "x"}], [],
     ["/r/new.dump", S + "/new"]),
    ("junk records are skipped", ["not a dict", {"action": "backup"}, {}], [A], []),
]


@pytest.mark.parametrize("records,releases,expected", [c[1:] for c in PROTECT_CASES], ids=[c[0] for c in PROTECT_CASES])
def test_backup_protect(records, releases, expected):
    assert backup_protect(records, releases, D) == expected


def test_backup_protect_without_directory_considers_every_directory():
    assert backup_protect([bk(S + "/1", A)], [A]) == [S + "/1"]


def test_backup_protect_more_restores():
    records = [{"action": "restore", "backup": "/r/%d" % i} for i in range(3)]
    assert backup_protect(records, [], restores=2) == ["/r/1", "/r/2"]
    assert backup_protect(records, [], restores=0) == []


@pytest.mark.parametrize("a,b,same", [
    ("b65522e1bab6", "b65522e1bab699cd5a9a58211cf8067bb51b2527", True),
    ("B65522E1BAB6", "b65522e1bab6", True),
    ("b655", "b65522e1bab6", True),
    ("b65", "b65522e1bab6", False),  # too short to mean anything
    ("425da83ab2e6", "b65522e1bab6", False),
    ("unknown", "unknown", False),
    ("", None, False),
])
def test_same_commit(a, b, same):
    assert same_commit(a, b) is same


def test_one_copy_of_the_protection_rule():
    """The filter and pg_backup's ledger_path apply the same function of module_utils/_backups.py."""
    from ansible_collections.maverick.rollback.plugins.module_utils import _backups
    assert backup_protect is _backups.backup_protect
    records = [bk(D + "/1", A), {"action": "deploy", "to_commit": A, "outcome": "healthy"}]
    assert _backups.ledger_protect(records, 5, D) == backup_protect(records, [A], D) == [D + "/1"]
    assert _backups.ledger_protect(records, 0, D) == []
