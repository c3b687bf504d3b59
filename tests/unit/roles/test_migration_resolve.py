"""Role migration_resolve: the revert-SQL transaction guard and the interface files.

The guard's regular expressions live in roles/migration_resolve/vars/main.yml and are
applied there with Jinja's regex_replace/search; this applies the same expressions in the
same order with Python's re (what those filters use).
"""

import re
from pathlib import Path

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "migration_resolve"
VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())


def has_transaction_control(sql):
    code = re.sub(VARS["__migration_resolve_re_dollar"], " ", sql)
    code = re.sub(VARS["__migration_resolve_re_block_comment"], " ", code)
    code = re.sub(VARS["__migration_resolve_re_line_comment"], " ", code)
    code = re.sub(VARS["__migration_resolve_re_string"], "''", code)
    return re.search(VARS["__migration_resolve_re_txn"], code) is not None


GUARD_CASES = [
    # id, sql, refused
    ("plain", 'ALTER TABLE "Entry" DROP COLUMN IF EXISTS "mood_note";\n', False),
    ("two statements", 'ALTER TABLE "Entry" DROP COLUMN "a";\nDROP TABLE "Tag";\n', False),
    ("commit", 'ALTER TABLE "Entry" DROP COLUMN "a";\nCOMMIT;\n', True),
    ("begin first", "BEGIN;\nDROP TABLE x;\nCOMMIT;\n", True),
    ("lowercase rollback", "drop table x; rollback;", True),
    ("start transaction", "  START   TRANSACTION;\nDROP TABLE x;", True),
    ("end", "DROP TABLE x;\nend;", True),
    ("abort", "DROP TABLE x;\nABORT;", True),
    ("do block", "DO $$\nBEGIN\n  ALTER TABLE x DROP COLUMN y;\nEND\n$$;\n", False),
    ("tagged dollar quote", "DO $fix$ BEGIN PERFORM 1; END $fix$;\nDROP TABLE x;", False),
    ("case end", "UPDATE x SET a = CASE WHEN b THEN 1\nEND;\n", False),
    ("comment", "-- COMMIT; would be wrong here\nDROP TABLE x;\n", False),
    ("block comment", "/* BEGIN; ... COMMIT; */\nDROP TABLE x;\n", False),
    ("string", "INSERT INTO log VALUES ('; COMMIT');\n", False),
    ("commit after do", "DO $$ BEGIN NULL; END $$;\nCOMMIT;\n", True),
    ("begin_word column", "ALTER TABLE x DROP COLUMN begin_date;\n", False),
]


@pytest.mark.parametrize("sql,refused", [c[1:] for c in GUARD_CASES], ids=[c[0] for c in GUARD_CASES])
def test_revert_sql_transaction_guard(sql, refused):
    assert has_transaction_control(sql) is refused


@pytest.mark.parametrize("name,ok", [
    ("20250301000000_entry_mood_required", True),
    ("20250301000000_a", True),
    ("../../etc/passwd", False),
    ("2025030100000_short", False),
    ("20250301000000_with-dash", False),
    ("20250301000000_x;rm", False),
    ("", False),
])
def test_migration_name_pattern(name, ok):
    assert bool(re.match(VARS["__migration_resolve_name_pattern"], name)) is ok


@pytest.mark.parametrize("path,ok", [
    ("packages/core/prisma/reverts/20250301000000_entry_mood_required.sql", True),
    ("revert.sql", True),
    ("/etc/passwd", False),
    ("-f", False),
    ("./x.sql", False),
    ("a b.sql", False),
    ("$(id).sql", False),
])
def test_revert_sql_path_pattern(path, ok):
    # ".." components are refused separately (validate.yml), "a/../b" matches the pattern
    assert bool(re.match(VARS["__migration_resolve_path_pattern"], path)) is ok


def test_argument_specs_match_defaults():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults) == set(specs)
    for name, spec in specs.items():
        assert spec.get("default") == defaults[name], name
        assert spec.get("description"), name
    assert all(name.startswith("migration_resolve_") for name in defaults)


def test_internal_vars_are_prefixed():
    assert all(name.startswith("__migration_resolve_") for name in VARS)
