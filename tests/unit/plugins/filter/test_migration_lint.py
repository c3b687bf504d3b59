"""migration_lint: a deploy's lint of its new migrations, the tables they touch with their sizes, the
rehearsal's times and the policy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.filter.migration_lint import (
    durations, migration_lint, size_text, split_name)

ROOT = Path(__file__).resolve().parents[4]
APP = ROOT / "sandbox" / "app" / "releases"
TABLE_CASES = yaml.safe_load((Path(__file__).parent / "tables" / "migration_tables.yml").read_text())
TAGS = "20250201000000_add_tags"
RENAME = "20250317000000_rename_tag_name"
SQL = {TAGS: (APP / "v2/packages/core/prisma/migrations" / TAGS / "migration.sql").read_text(),
       RENAME: (APP / "v5/packages/core/prisma/migrations" / RENAME / "migration.sql").read_text(),
       "20250901000000_index": 'CREATE INDEX "Entry_title_idx" ON "Entry" ("title");'}
ROWS = [  # the rehearsal copy's _prisma_migrations, as psql's json_agg returns it
    {"migration_name": TAGS, "started_at": "2026-12-05T23:50:01.100000+00:00",
     "finished_at": "2026-12-05T23:50:01.350000+00:00", "rolled_back_at": None},
    {"migration_name": RENAME, "started_at": "2026-12-05T23:50:01.400000+00:00",
     "finished_at": "2026-12-05T23:50:03.900000+00:00", "rolled_back_at": None},
    {"migration_name": "20250301000000_failed", "started_at": "2026-12-05T23:50:04+00:00", "finished_at": None},
]

CASES = [
    # (id, names, policy, decision, findings, texts in lines)
    ("nothing new", [], "refuse", "ok", 0, []),
    ("additive v2, refuse policy: no findings", [TAGS], "refuse", "ok", 0,
     [TAGS + ': compatible with older code; touches "Entry", "Tag" (new); 0.25 s on the rehearsal copy; '
      '0 lint finding(s)']),
    ("rename, warn", [RENAME], "warn", "warn", 1,
     [RENAME + ': incompatible with older code; touches "Tag"; 2.5 s on the rehearsal copy; 1 lint finding(s)',
      'renaming-column: older code selecting "name" of "Tag" fails (ALTER TABLE "Tag" RENAME COLUMN "name" TO "label")']),
    ("rename, refuse", [TAGS, RENAME], "refuse", "refuse", 1, ["policy refuse"]),
    ("index without CONCURRENTLY, no rehearsal time", ["20250901000000_index"], "warn", "warn", 1,
     ['20250901000000_index: compatible with older code; touches "Entry"; 1 lint finding(s)',
      "require-concurrent-index-creation"]),
    ("SQL not found", ["20251001000000_missing"], "warn", "ok", 0, ["20251001000000_missing: incompatible with older code"]),
]


@pytest.mark.parametrize("names,policy,decision,findings,texts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_lint(names, policy, decision, findings, texts):
    lint = migration_lint(names, sql=SQL, policy=policy, rehearsal=ROWS, target="v5")
    assert (lint["decision"], lint["findings"]) == (decision, findings), lint["lines"]
    assert [m["name"] for m in lint["migrations"]] == names
    for text in texts:
        assert any(text in line for line in lint["lines"]), (text, lint["lines"])
    if decision == "refuse":
        assert "Nothing was changed" in lint["message"][0] and "v5" in lint["message"][0]
        assert "app_migration_lint_policy=warn" in lint["message"][-1]
    else:
        assert lint["message"] == []


def test_durations_only_finished_rows():
    assert durations(ROWS) == {TAGS: 0.25, RENAME: 2.5}
    assert durations([{"migration_name": "x", "started_at": "garbage", "finished_at": "2026-01-01T00:00:00Z"}, "x"]) == {}
    assert durations(None) == {}


def test_unknown_policy_is_an_error():
    with pytest.raises(AnsibleFilterError, match="warn or refuse"):
        migration_lint([TAGS], sql=SQL, policy="block")


# ---------------------------------------------------------------- tables touched

@pytest.mark.parametrize("case", TABLE_CASES, ids=[c["id"] for c in TABLE_CASES])
def test_tables_touched(case):
    text = (ROOT / case["file"]).read_text() if "file" in case else case["sql"]
    (m,) = migration_lint(["m"], sql={"m": text})["migrations"]
    assert [[t["table"], t["new"]] for t in m["tables"]] == case["tables"]
    if "lint_tables" in case:
        assert [[f["rule"], f["tables"]] for f in m["lint"]] == case["lint_tables"]


# ---------------------------------------------------------------- sizes and the large-table flag

ENTRY = 'public."Entry"'
SMALL = {ENTRY: {"rows": 1204, "estimate": 1100, "bytes": 98304, "pk": ["id"]},
         'public."User"': {"rows": 12, "estimate": 0, "bytes": 16384, "pk": ["id"]}}
BIG_BYTES = {ENTRY: {"rows": None, "estimate": 90000, "bytes": 410 * 1024 * 1024, "pk": ["id"]}}
BIG_ROWS = {ENTRY: {"rows": None, "estimate": 2300000, "bytes": 50 * 1024 * 1024, "pk": ["id"]}}
UNANALYZED = {ENTRY: {"rows": None, "estimate": -1, "bytes": 80 * 1024 * 1024, "pk": ["id"]}}
MANIFEST = {ENTRY: {"rows": 1500000, "estimate": 1500000, "bytes": 79 * 1024 * 1024, "pk": ["id"]}}
INDEX = "20250901000000_index"
FK = "20250902000000_fk"
SQL[FK] = 'ALTER TABLE "Entry" ADD CONSTRAINT "Entry_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id");'
SQL["20250903000000_time_default"] = 'ALTER TABLE "Entry" ADD COLUMN "seen" TIMESTAMP DEFAULT now();'
SQL["20250904000000_other_schema"] = 'CREATE INDEX "i" ON "Note"("x");'

SIZE_CASES = [
    # (id, names, tables, fallback, large limits, texts in lines, texts not in lines, large findings)
    ("exact rows and size", [INDEX], SMALL, None, {},
     [INDEX + ': compatible with older code; touches "Entry" (1 204 rows, 96 kB); 1 lint finding(s)',
      "table sizes: the live database (~: PostgreSQL's estimate; LARGE: over 100 MB or 1 000 000 rows)"],
     ["LARGE TABLE"], 0),
    ("over the size limit: estimate, flagged large", [INDEX], BIG_BYTES, None, {},
     ['touches "Entry" (~90 000 rows, 410 MB, LARGE)',
      'require-concurrent-index-creation: CREATE INDEX without CONCURRENTLY blocks writes to "Entry" while the index '
      'builds (CREATE INDEX "Entry_title_idx" ON "Entry" ("title")) - LARGE TABLE "Entry" (~90 000 rows, 410 MB): '
      "writes wait for as long as this takes",
      "migration lint (1 finding(s), 1 on a large table, policy warn):"], [], 1),
    ("over the row limit", [INDEX], BIG_ROWS, None, {}, ['"Entry" (~2 300 000 rows, 50 MB, LARGE)'], [], 1),
    ("limits are the caller's", [INDEX], SMALL, None, {"large_mb": 0, "large_rows": 1000},
     ['"Entry" (1 204 rows, 96 kB, LARGE)', "LARGE: over 0 MB or 1 000 rows"], [], 1),
    ("copy never analyzed: the manifest's count", [INDEX], UNANALYZED, MANIFEST, {},
     ['"Entry" (1 500 000 rows, 80 MB, LARGE)'], [], 1),
    ("copy never analyzed, no manifest: rows unknown", [INDEX], UNANALYZED, None, {},
     ['"Entry" (rows unknown, 80 MB)'], ["LARGE TABLE", "80 MB, LARGE"], 0),
    ("a foreign key names both tables, large referenced one flagged", [FK],
     {ENTRY: SMALL[ENTRY], 'public."User"': {"rows": 5000000, "estimate": 5000000, "bytes": 10, "pk": ["id"]}}, None, {},
     ['touches "Entry" (1 204 rows, 96 kB), "User" (5 000 000 rows, 10 bytes, LARGE)',
      'LARGE TABLE "User" (5 000 000 rows, 10 bytes)'], [], 1),
    ("a finding that does not lock is not flagged", ["20250903000000_time_default"], BIG_BYTES, None, {},
     ["adding-field-with-default", '"Entry" (~90 000 rows, 410 MB, LARGE)'], ["LARGE TABLE"], 0),
    ("a rename costs the same on any table", [RENAME], {'public."Tag"': BIG_ROWS[ENTRY]}, None, {},
     ["renaming-column", '"Tag" (~2 300 000 rows, 50 MB, LARGE)'], ["LARGE TABLE"], 0),
    ("created by an earlier migration of the release", [TAGS, RENAME], SMALL, None, {},
     ['touches "Entry" (1 204 rows, 96 kB), "Tag" (new)', 'touches "Tag" (created by %s)' % TAGS], [], 0),
    ("not in the database", ["20250904000000_other_schema"], SMALL, None, {}, ['"Note" (not in the database)'], [], 0),
    ("unqualified name found in the only schema that has it", ["20250904000000_other_schema"],
     {"app.\"Note\"": {"rows": 3, "estimate": 3, "bytes": 8192, "pk": None}}, None, {},
     ['"Note" (3 rows, 8192 bytes)'], [], 0),
    ("ambiguous: in two schemas, neither public", ["20250904000000_other_schema"],
     {"a.\"Note\"": {"rows": 3, "bytes": 1}, "b.\"Note\"": {"rows": 4, "bytes": 1}}, None, {},
     ['"Note" (not in the database)'], [], 0),
    ("sizes not read: names only", [INDEX], None, None, {},
     [INDEX + ': compatible with older code; touches "Entry"; 1 lint finding(s)'], ["table sizes"], 0),
]


@pytest.mark.parametrize("names,tables,fallback,limits,texts,absent,large", [c[1:] for c in SIZE_CASES],
                         ids=[c[0] for c in SIZE_CASES])
def test_sizes(names, tables, fallback, limits, texts, absent, large):
    lint = migration_lint(names, sql=SQL, tables=tables, fallback=fallback, sizes_of="the live database", **limits)
    joined = "\n".join(lint["lines"])
    for text in texts:
        assert text in joined, (text, lint["lines"])
    for text in absent:
        assert text not in joined, (text, lint["lines"])
    assert lint["large_findings"] == large


def test_touched_tables_carry_their_numbers():
    (m,) = migration_lint([INDEX], sql=SQL, tables=BIG_BYTES)["migrations"]
    assert m["tables"] == [{"table": '"Entry"', "schema": "", "name": "Entry", "new": False, "created_by": None,
                            "found": True, "rows": 90000, "exact": False, "bytes": 410 * 1024 * 1024, "large": True,
                            "sizes": "~90 000 rows, 410 MB", "text": '"Entry" (~90 000 rows, 410 MB, LARGE)'}]
    assert m["lint"][0]["large"] == ['"Entry"'] and m["lint"][0]["locks"] is True


def test_sizes_error_is_shown_and_the_lint_goes_on():
    lint = migration_lint([RENAME], sql=SQL, tables={}, sizes_error="authentication failed for user lifetracker")
    assert lint["lines"][-1] == "  table sizes: not read (authentication failed for user lifetracker)"
    assert lint["findings"] == 1 and lint["decision"] == "warn"


@pytest.mark.parametrize("policy,decision", [("warn", "warn"), ("refuse", "refuse")])
def test_policy_is_unchanged_by_large_tables(policy, decision):
    lint = migration_lint([INDEX], sql=SQL, tables=BIG_BYTES, policy=policy)
    assert (lint["decision"], lint["findings"], lint["large_findings"]) == (decision, 1, 1)
    if decision == "refuse":
        assert any("LARGE TABLE" in line for line in lint["message"])


@pytest.mark.parametrize("size,text", [(0, "0 bytes"), (8192, "8192 bytes"), (10240, "10 kB"), (98304, "96 kB"),
                                       (410 * 1024 * 1024, "410 MB"), (3 * 1024 ** 4, "3072 GB"),
                                       (20 * 1024 ** 4, "20 TB")])
def test_size_text_as_pg_size_pretty(size, text):
    assert size_text(size) == text


@pytest.mark.parametrize("name,parts", [("public.entries", ("public", "entries")), ('public."Tag"', ("public", "Tag")),
                                        ('"my.schema"."a""b"', ("my.schema", 'a"b')), ("solo", ("", "solo"))])
def test_split_name_reads_format_I(name, parts):
    assert split_name(name) == parts


@pytest.mark.parametrize("kwargs,match", [({"tables": ["x"]}, "tables must be a dict"),
                                          ({"fallback": "x"}, "fallback must be a dict"),
                                          ({"large_mb": "big"}, "must be numbers")])
def test_bad_size_inputs_are_refused(kwargs, match):
    with pytest.raises(AnsibleFilterError, match=match):
        migration_lint([TAGS], sql=SQL, **kwargs)
