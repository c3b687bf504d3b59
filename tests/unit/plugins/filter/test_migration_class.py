"""migration_class: which migrations older code survives, judged from their SQL by PostgreSQL's parser."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.maverick.rollback.plugins.filter.migration_class import migration_class
from ansible_collections.maverick.rollback.plugins.module_utils import _schema

try:  # ansible-core >= 2.19
    from ansible._internal._datatag._tags import TrustedAsTemplate

    def trusted(text):
        return TrustedAsTemplate().tag(text)
except ImportError:  # pragma: no cover
    def trusted(text):
        return text

ROOT = Path(__file__).resolve().parents[4]
CASES = yaml.safe_load((Path(__file__).parent / "tables" / "migration_class.yml").read_text())
APP = ROOT / "sandbox" / "app" / "releases"
INIT = ("20250101000000_init", APP / "v1/packages/core/prisma/migrations/20250101000000_init/migration.sql")
TAGS = ("20250201000000_add_tags", APP / "v2/packages/core/prisma/migrations/20250201000000_add_tags/migration.sql")
MOOD = ("20250301000000_entry_mood_required",
        APP / "v4/packages/core/prisma/migrations/20250301000000_entry_mood_required/migration.sql")


def sql_of(case):
    return (ROOT / case["file"]).read_text() if "file" in case else case["sql"]


def migration(name, path):
    return {"name": name, "sql": path.read_text()}


def test_the_table_covers_enough():
    assert len(CASES) >= 40
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_statements(case):
    (verdict,) = migration_class([{"name": "m", "sql": sql_of(case)}])["migrations"]
    statements = verdict["statements"]
    assert [[s["class"], s["kind"]] for s in statements] == case["expect"]
    assert [f["rule"] for f in verdict["lint"]] == case.get("lint", [])
    assert all(s["reason"] for s in statements)
    if "reason" in case:
        deciding = [s for s in statements if s["class"] == "incompatible"] or statements
        assert case["reason"] in deciding[0]["reason"]
    if "lint_reason" in case:
        assert case["lint_reason"] in verdict["lint"][0]["reason"]
    if "text" in case:
        assert statements[0]["statement"] == case["text"]
    expected = "incompatible" if any(klass == "incompatible" for klass, _kind in case["expect"]) else "compatible"
    assert verdict["class"] == expected


def test_statement_text_is_trimmed_and_complete():
    (verdict,) = migration_class([migration(*TAGS)])["migrations"]
    assert [s["statement"] for s in verdict["statements"]] == [
        'ALTER TABLE "Entry" ADD COLUMN     "mood" INTEGER',
        'CREATE TABLE "Tag" (\n    "id" SERIAL NOT NULL,\n    "name" TEXT NOT NULL,\n\n'
        '    CONSTRAINT "Tag_pkey" PRIMARY KEY ("id")\n)',
        'CREATE UNIQUE INDEX "Tag_name_key" ON "Tag"("name")',
    ]


def test_schema_ahead_by_the_additive_v2_migration():
    """The demo's case: v2's schema, v1's code - allowed, and the summary says why."""
    result = migration_class([migration(*TAGS)])
    assert result["class"] == "compatible"
    assert result["compatible"] == [TAGS[0]] and result["incompatible"] == []
    assert result["incompatible_statements"] == [] and result["lint"] == []
    assert result["summary"] == [
        '20250201000000_add_tags: compatible (new column "mood" on "Entry", nullable: older code does not write it; '
        'new table "Tag": older code does not use it; index on "Tag", a table this migration creates)']


def test_one_incompatible_migration_decides_and_is_quoted():
    result = migration_class([migration(*INIT), migration(*TAGS), migration(*MOOD)])
    assert result["class"] == "incompatible"
    assert result["compatible"] == [INIT[0], TAGS[0]] and result["incompatible"] == [MOOD[0]]
    assert [(s["migration"], s["kind"], s["statement"]) for s in result["incompatible_statements"]] == [
        (MOOD[0], "UPDATE", 'UPDATE "Entry" SET "mood" = 3 WHERE "mod" IS NULL'),
        (MOOD[0], "ALTER TABLE SET NOT NULL", 'ALTER TABLE "Entry" ALTER COLUMN "mood" SET NOT NULL'),
    ]
    assert result["quoted"] == [
        MOOD[0] + ': UPDATE "Entry" SET "mood" = 3 WHERE "mod" IS NULL -- changes the data of "Entry": older code '
        'may not expect the rows as they are now, and rolling the code back does not undo it',
        MOOD[0] + ': ALTER TABLE "Entry" ALTER COLUMN "mood" SET NOT NULL -- "mood" of "Entry" becomes NOT NULL: '
        'older code can insert rows without it']
    assert result["summary"][2].startswith(MOOD[0] + ': incompatible (changes the data of "Entry"')
    assert [(f["migration"], f["rule"]) for f in result["lint"]] == [(MOOD[0], "adding-not-nullable-field")]
    assert result["lint"][0]["statement"] == 'ALTER TABLE "Entry" ALTER COLUMN "mood" SET NOT NULL'


def test_tables_created_by_an_earlier_migration_are_existing_tables():
    """Each migration is judged on its own: the table v2 created is an existing table for the next one."""
    later = {"name": "20250202000000_tag_unique_again",
             "sql": 'CREATE UNIQUE INDEX "Tag_label_key" ON "Tag"("label");'}
    result = migration_class([migration(*TAGS), later])
    assert result["incompatible"] == [later["name"]]


def test_names_with_sql_by_name():
    """What the migration gate passes: schema_ahead's names and the SQL release_facts read, by name."""
    sql = {TAGS[0]: TAGS[1].read_text(), MOOD[0]: MOOD[1].read_text()}
    assert migration_class([TAGS[0], MOOD[0]], sql=sql) == migration_class([migration(*TAGS), migration(*MOOD)])
    result = migration_class([TAGS[0], "20250501000000_unknown"], sql=sql)
    assert result["incompatible"] == ["20250501000000_unknown"]
    assert result["quoted"] == ["20250501000000_unknown: (no SQL) -- the migration's SQL was not found: it "
                                "cannot be judged"]
    with pytest.raises(AnsibleFilterError, match="sql must map migration names"):
        migration_class([TAGS[0]], sql=["x"])


def test_missing_sql_is_incompatible():
    result = migration_class([{"name": "20250501000000_gone", "sql": None}])
    assert result["class"] == "incompatible"
    assert result["summary"] == ["20250501000000_gone: incompatible (the migration's SQL was not found: "
                                 "it cannot be judged)"]


def test_no_migrations_is_compatible():
    assert migration_class([]) == {"class": "compatible", "compatible": [], "incompatible": [], "migrations": [],
                                   "summary": [], "incompatible_statements": [], "quoted": [], "lint": []}


@pytest.mark.parametrize("bad", ["DROP TABLE x", [{"sql": "x"}], [{"name": "a"}], [{"name": "a", "sql": 3}], ["a"]])
def test_refuses_other_input(bad):
    with pytest.raises(AnsibleFilterError, match="migration_class"):
        migration_class(bad)


def test_without_pglast_the_error_names_the_fix(monkeypatch):
    monkeypatch.setattr(_schema, "HAS_PGLAST", False)
    with pytest.raises(AnsibleFilterError, match=r"pip install pglast .*execution environment"):
        migration_class([{"name": "a", "sql": "SELECT 1"}])
    assert migration_class([]) == migration_class([])  # nothing to parse: no parser needed


def test_imports_and_explains_without_pglast():
    """A controller without pglast: the plugin still loads (ansible-doc, other filters) and the
    filter names the fix. A fresh interpreter where `import pglast` fails."""
    code = ("import sys; sys.modules['pglast'] = None; sys.path.insert(0, %r)\n"
            "from ansible.errors import AnsibleFilterError\n"
            "from ansible_collections.maverick.rollback.plugins.filter.migration_class import migration_class\n"
            "try:\n    migration_class([{'name': 'a', 'sql': 'SELECT 1'}])\n"
            "except AnsibleFilterError as exc:\n    print(exc)\n" % str(ROOT / ".collections"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "pip install pglast" in proc.stdout


def test_by_fqcn_in_a_template():
    templar = Templar(loader=DataLoader(), variables={"ahead": [TAGS[0]], "sql": {TAGS[0]: TAGS[1].read_text()}})
    assert templar.template(trusted("{{ (ahead | maverick.rollback.migration_class(sql=sql)).class }}")) == "compatible"


def test_sql_that_came_through_a_variable_is_judged():
    """ansible-core 2.19 tags strings read from variables (a str subclass, which pglast refuses)."""
    class TaggedStr(str):
        pass
    sql = 'ALTER TABLE "Entry" DROP COLUMN "note";'
    tagged = migration_class([{"name": "20260201000000_drop_note", "sql": TaggedStr(sql)}])
    assert tagged == migration_class([{"name": "20260201000000_drop_note", "sql": sql}])
    assert tagged["migrations"][0]["class"] == "incompatible", tagged
