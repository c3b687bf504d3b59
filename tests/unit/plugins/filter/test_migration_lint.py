"""migration_lint: a deploy's lint of its new migrations, the rehearsal's times and the policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.filter.migration_lint import durations, migration_lint

APP = Path(__file__).resolve().parents[4] / "sandbox" / "app" / "releases"
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
     [TAGS + ": compatible with older code; 0.25 s on the rehearsal copy; 0 lint finding(s)"]),
    ("rename, warn", [RENAME], "warn", "warn", 1,
     [RENAME + ": incompatible with older code; 2.5 s on the rehearsal copy; 1 lint finding(s)",
      'renaming-column: older code selecting "name" of "Tag" fails (ALTER TABLE "Tag" RENAME COLUMN "name" TO "label")']),
    ("rename, refuse", [TAGS, RENAME], "refuse", "refuse", 1, ["policy refuse"]),
    ("index without CONCURRENTLY, no rehearsal time", ["20250901000000_index"], "warn", "warn", 1,
     ["20250901000000_index: compatible with older code; 1 lint finding(s)", "require-concurrent-index-creation"]),
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
