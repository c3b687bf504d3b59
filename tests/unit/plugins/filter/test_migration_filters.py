"""sql_transaction_check, migration_states, revert_migration: migration_resolve's decisions."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.filter.migration_states import migration_states
from ansible_collections.maverick.rollback.plugins.filter.revert_migration import revert_migration
from ansible_collections.maverick.rollback.plugins.filter.sql_transaction_check import sql_transaction_check

SQL_CASES = [
    # (id, sql, transaction control found, empty)
    ("plain", 'ALTER TABLE "Entry" DROP COLUMN IF EXISTS "mood_note";\n', [], False),
    ("two statements", 'ALTER TABLE "Entry" DROP COLUMN "a";\nDROP TABLE "Tag";\n', [], False),
    ("commit", 'ALTER TABLE "Entry" DROP COLUMN "a";\nCOMMIT;\n', ["COMMIT"], False),
    ("begin first", "BEGIN;\nDROP TABLE x;\nCOMMIT;\n", ["BEGIN", "COMMIT"], False),
    ("lowercase rollback", "drop table x; rollback;", ["ROLLBACK"], False),
    ("start transaction", "  START   TRANSACTION;\nDROP TABLE x;", ["START TRANSACTION"], False),
    ("prepare transaction", "DROP TABLE x;\nPREPARE TRANSACTION 'x';", ["PREPARE TRANSACTION"], False),
    ("end", "DROP TABLE x;\nend;", ["END"], False),
    ("abort", "DROP TABLE x;\nABORT;", ["ABORT"], False),
    ("do block", "DO $$\nBEGIN\n  ALTER TABLE x DROP COLUMN y;\nEND\n$$;\n", [], False),
    ("tagged dollar quote", "DO $fix$ BEGIN PERFORM 1; END $fix$;\nDROP TABLE x;", [], False),
    ("case end", "UPDATE x SET a = CASE WHEN b THEN 1\nEND;\n", [], False),
    ("comment", "-- COMMIT; would be wrong here\nDROP TABLE x;\n", [], False),
    ("block comment", "/* BEGIN; ... COMMIT; */\nDROP TABLE x;\n", [], False),
    ("string", "INSERT INTO log VALUES ('; COMMIT');\n", [], False),
    ("quote in a string", "INSERT INTO log VALUES ('it''s; COMMIT');\n", [], False),
    ("commit after do", "DO $$ BEGIN NULL; END $$;\nCOMMIT;\n", ["COMMIT"], False),
    ("begin_word column", "ALTER TABLE x DROP COLUMN begin_date;\n", [], False),
    ("comments only", "-- nothing to do\n/* really */\n   \n", [], True),
    ("empty", "", [], True),
    ("none", None, [], True),
]


@pytest.mark.parametrize("sql,found,empty", [c[1:] for c in SQL_CASES], ids=[c[0] for c in SQL_CASES])
def test_sql_transaction_check(sql, found, empty):
    assert sql_transaction_check(sql) == {"ok": not found and not empty, "empty": empty, "transaction_control": found}


def row(name, finished=True, rolled_back=False):
    return {"migration_name": name, "finished_at": "2026-01-01T00:00:00Z" if finished else None,
            "rolled_back_at": "2026-01-02T00:00:00Z" if rolled_back else None}


INIT, TAGS, MOOD = "20250101000000_init", "20250201000000_add_tags", "20250301000000_entry_mood_required"
ROWS = [row(INIT), row(TAGS, rolled_back=True), row(MOOD, finished=False), row(TAGS), row(MOOD, finished=False, rolled_back=True)]
STATE_CASES = [
    # (id, rows, name, expected)
    ("failed wins over a rolled-back retry", ROWS, MOOD, "failed"),
    ("applied again after a rollback", ROWS, TAGS, "applied"),
    ("applied", ROWS, INIT, "applied"),
    ("only rolled back", [row(TAGS, rolled_back=True)], TAGS, "rolled_back"),
    ("failed then rolled back (the resolve)", [row(MOOD, finished=False, rolled_back=True)], MOOD, "rolled_back"),
    ("never ran", ROWS, "20990101000000_future", "unapplied"),
    ("no table", [], INIT, "unapplied"),
]


@pytest.mark.parametrize("rows,name,expected", [c[1:] for c in STATE_CASES], ids=[c[0] for c in STATE_CASES])
def test_migration_state(rows, name, expected):
    assert migration_states(rows, name) == expected


def test_migration_states_lists():
    assert migration_states(ROWS + ["junk"]) == {"applied": [INIT, TAGS], "failed": [MOOD], "rolled_back": []}
    assert migration_states(None) == {"applied": [], "failed": [], "rolled_back": []}


REVIEW = "/var/lib/maverick-rollback/lifetracker/reverts/" + TAGS + "/"
NAME_CASES = [
    # (id, kwargs, expected)
    ("new revert", {"stamp": "20261127120000"}, "20261127120000_revert_add_tags"),
    ("reuse the one written for review", {"stamp": "20261201000000",
                                          "existing": [{"path": REVIEW + "20261127120000_revert_add_tags"}]},
     "20261127120000_revert_add_tags"),
    ("the last of several, by name", {"existing": [REVIEW + "20261130000000_revert_add_tags", "20261127120000_revert_add_tags/"]},
     "20261130000000_revert_add_tags"),
]


@pytest.mark.parametrize("kwargs,expected", [c[1:] for c in NAME_CASES], ids=[c[0] for c in NAME_CASES])
def test_revert_migration_name(kwargs, expected):
    assert revert_migration(TAGS, **kwargs) == expected


def test_revert_migration_needs_a_stamp_for_a_new_name():
    with pytest.raises(AnsibleFilterError, match="needs stamp"):
        revert_migration(TAGS)


def test_applied_reverts():
    rows = [row("20261127120000_revert_add_tags", finished=False), row("20261128000000_revert_add_tags"),
            row("20261129000000_revert_add_tags", rolled_back=True), row("20261130000000_revert_init"),
            row("20261130000000_revert_add_tags_more"), row("20261201000000_revert_add_tags")]
    assert [r["migration_name"] for r in revert_migration(TAGS, rows=rows)] == [
        "20261128000000_revert_add_tags", "20261201000000_revert_add_tags"]
    assert revert_migration(TAGS, rows=[]) == []
