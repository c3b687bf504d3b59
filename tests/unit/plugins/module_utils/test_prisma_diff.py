"""_prisma: `migrate diff` argv and parser (state=diff), from real captured Prisma 7.10.1 output.

Fixtures: tests/unit/fixtures/prisma_diff/ (sandbox, see its README) and the
diff_* cases of tests/unit/fixtures/prisma/ (example-core project).
"""

from pathlib import Path

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils import _prisma as P

UNIT = Path(__file__).resolve().parents[2] / "fixtures"
CMD = ["bunx", "--bun", "prisma"]


def case(name):
    base = UNIT / ("prisma_diff" if name.startswith("sandbox_") else "prisma") / name
    rc = int(Path(str(base) + ".rc").read_text().strip())
    return rc, Path(str(base) + ".stdout").read_text(), Path(str(base) + ".stderr").read_text()


@pytest.mark.parametrize("kwargs,expected", [
    ({"to_schema": "/tmp/s.prisma"},
     CMD + ["migrate", "diff", "--from-config-datasource", "--to-schema", "/tmp/s.prisma", "--script"]),
    ({"to_schema": "/tmp/s.prisma", "config": "p.config.ts", "schema": "ignored.prisma"},
     CMD + ["migrate", "diff", "--from-config-datasource", "--to-schema", "/tmp/s.prisma", "--script",
            "--config", "p.config.ts"]),
])
def test_build_diff_argv(kwargs, expected):
    assert P.build_prisma_argv(CMD, "diff", **kwargs) == expected


def test_build_diff_argv_needs_a_schema():
    with pytest.raises(ValueError):
        P.build_prisma_argv(CMD, "diff")


DIFF_CASES = [
    # case, ok, empty, statements, SQL lines that must be in the script, error code
    ("sandbox_v2_db_to_v1_schema", True, False, 2,
     ['ALTER TABLE "Entry" DROP COLUMN "mood";', 'DROP TABLE "Tag";'], None),
    ("sandbox_v2_db_to_v2_schema", True, True, 0, ["-- This is an empty migration."], None),
    ("diff_script", True, False, 1, ['ALTER TABLE "Entry" DROP COLUMN "mood_note";'], None),
    ("diff_empty", True, True, 0, [], None),
    ("sandbox_diff_auth_failed", False, False, 0, [], "P1000"),
    ("sandbox_diff_bad_schema", False, False, 0, [], "P1012"),
    ("diff_p3006", False, False, 0, [], "P3006"),
]


@pytest.mark.parametrize("name,ok,empty,statements,lines,code", DIFF_CASES, ids=[c[0] for c in DIFF_CASES])
def test_parse_diff_captured(name, ok, empty, statements, lines, code):
    parsed = P.parse_diff(*case(name))
    assert parsed["ok"] is ok
    assert parsed["empty"] is empty
    assert parsed["statements"] == statements
    for line in lines:
        assert line in parsed["script"].splitlines()
    assert (parsed["error"] or {}).get("code") == code
    if ok and not empty:
        # exactly Prisma's stdout, one trailing newline: written as migration.sql as is
        assert parsed["script"].endswith(";\n") and not parsed["script"].startswith("\n")
        assert "Loaded Prisma config" not in parsed["script"]


def test_parse_diff_strips_ansi_and_counts_multiline_statements():
    out = ('\x1b[1m-- CreateTable\x1b[0m\nCREATE TABLE "T" (\n    "id" SERIAL NOT NULL,\n'
           '    CONSTRAINT "T_pkey" PRIMARY KEY ("id")\n);\n\n-- CreateIndex\nCREATE UNIQUE INDEX "x" ON "T"("id");\n')
    parsed = P.parse_diff(0, out, "")
    assert "\x1b" not in parsed["script"]
    assert parsed["statements"] == 2 and not parsed["empty"]


def test_parse_diff_comment_only_output_is_empty():
    assert P.parse_diff(0, "-- nothing here\n\n", "")["empty"] is True
