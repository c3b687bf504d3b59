"""migration_resolve scenario: real Prisma (offline engine) and PostgreSQL on the sandbox.

Tests run in file order and build on each other's state:
prepare deployed v2 (init, add_tags); converge only reported. Then:
1. revert the succeeded migration add_tags: SQL written for review (not applied), no
   change on a second run or in check mode, applied with confirmation (table "Tag" and
   column "mood" gone), and the safety backup taken before it restores v2 (data back);
2. check out v4, whose migration fails half-way: deploy leaves the failed row and the
   committed column "mood_note"; the status report, bad names and check mode change
   nothing; rolled_back with a revert SQL file from the repo reverses the partial change
   and marks it; a second run is no change; after the developer's fix, deploy works.
"""

from __future__ import annotations

import json
import re
import shlex

import pytest

from conftest import APP_DIR, app_env, flat, health, play, recap

PLAYBOOK = "playbooks/migration_resolve.yml"
DEPLOY = "molecule/migration_resolve/deploy.yml"
PORT = 25560
STATE = "/var/lib/maverick-rollback/lifetracker"
LEDGER = STATE + "/ledger.jsonl"
BACKUPS = "/var/lib/maverick-rollback/backups/pre-migration"
V1 = "425da83ab2e6e51e85116ef52ea6119fe9b4e709"  # tag v1 (sandbox/app/README.md)
TAGS = "20250201000000_add_tags"
MOOD = "20250301000000_entry_mood_required"
MIGRATIONS = APP_DIR + "/packages/core/prisma/migrations"
REVERT_SQL = "packages/core/prisma/reverts/%s.sql" % MOOD
FIXED_SQL = """-- Make "mood" required and add a free-text note to go with it (fixed: one transaction,
-- the backfill uses the right column).
ALTER TABLE "Entry" ADD COLUMN "mood_note" TEXT;
UPDATE "Entry" SET "mood" = 3 WHERE "mood" IS NULL;
ALTER TABLE "Entry" ALTER COLUMN "mood" SET NOT NULL;
"""


# --------------------------------------------------------------------------- helpers
# Every host.* call is one Ansible round trip (seconds on a busy machine): the state
# the tests compare is read with ONE shell command.

_CACHE = {}


def psql_cmd(host, sql):
    """psql over TCP as the app connects (password from the app's .env, in the environment)."""
    if "pw" not in _CACHE:
        _CACHE["pw"] = app_env(host)["POSTGRES_PASSWORD"]
    return ("PGPASSWORD=%s psql -X -h 127.0.0.1 -p %d -U lifetracker -d lifetracker -Atc %s"
            % (shlex.quote(_CACHE["pw"]), PORT, shlex.quote(sql)))


def psql(host, sql):
    return host.check_output(psql_cmd(host, sql))


QUERIES = {
    "rows": "SELECT migration_name, finished_at IS NOT NULL, rolled_back_at IS NOT NULL "
            "FROM _prisma_migrations ORDER BY started_at, migration_name",
    "columns": "SELECT column_name FROM information_schema.columns WHERE table_name = 'Entry' ORDER BY 1",
    "tables": "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
}


def state(host):
    """Rows of _prisma_migrations, columns of "Entry", tables, backups, ledger, git status."""
    parts = ["echo @@%s; %s" % (key, psql_cmd(host, sql)) for key, sql in QUERIES.items()]
    parts += ["echo @@backups; ls -1 %s/*.dump 2>/dev/null || true" % BACKUPS,
              "echo @@ledger; cat %s 2>/dev/null || true" % LEDGER,
              "echo @@git; git -C %s status --porcelain" % APP_DIR]
    out = host.check_output(" ; ".join(parts))
    sections = dict((chunk.split("\n", 1) + [""])[:2] for chunk in out.split("@@")[1:])
    lines = {k: [line for line in v.splitlines() if line.strip()] for k, v in sections.items()}
    return {
        "rows": [(n, f == "t", r == "t") for n, f, r in (line.split("|") for line in lines["rows"])],
        "columns": set(lines["columns"]),
        "tables": set(lines["tables"]),
        "backups": sorted(lines["backups"]),
        "ledger": [json.loads(line) for line in lines["ledger"]],
        "git": "\n".join(lines["git"]),
    }


def snapshot(host):
    """Everything a refused or check-mode run must leave alone."""
    return snapshot_of(state(host))


def snapshot_of(st):
    return (st["rows"], st["columns"], st["tables"], st["backups"], len(st["ledger"]), st["git"])


def file_facts(host, path):
    """(octal mode, sha256) of a file on the server, one round trip."""
    mode, digest = host.check_output("stat -c %%a %s && sha256sum %s | cut -d' ' -f1" % (path, path)).split()
    return int(mode, 8), digest


def resolve(*args, check=False):
    return play(PLAYBOOK, *args, check=check)


# ---------------------------------------------------------------- v2: status report

def test_converged_status_report_changes_nothing(host):
    proc = resolve()
    assert proc.returncode == 0, proc.stdout
    assert "database schema is up to date (2 migrations applied)" in flat(proc.stdout)
    assert "next: nothing to do, the database is up to date" in flat(proc.stdout)
    assert recap(proc) == (0, 0)
    st = state(host)
    assert st["rows"] == [("20250101000000_init", True, False), (TAGS, True, False)]
    assert st["backups"] == [] and st["ledger"] == []


# --------------------------------------------------- v2: revert a succeeded migration

def review_file(host):
    return host.check_output("ls -1 %s/reverts/%s/*_revert_add_tags/migration.sql" % (STATE, TAGS))


def test_revert_is_generated_for_review_not_applied(host):
    psql(host, "INSERT INTO \"Tag\" (name) VALUES ('running'); INSERT INTO \"Entry\" (title, mood) VALUES ('run', 4)")
    before = snapshot(host)
    proc = resolve("-e", "migration=" + TAGS, "-e", "action=reverted")
    assert proc.returncode == 0, proc.stdout
    review = review_file(host)
    v1, sql, modes = host.check_output(
        "git -C %s rev-parse v1 && echo @@ && cat %s && echo @@ && stat -c %%a %s %s/reverts"
        % (APP_DIR, review, review, STATE)).split("@@")
    assert 'DROP TABLE "Tag";' in sql and 'ALTER TABLE "Entry" DROP COLUMN "mood";' in sql
    assert v1.strip() in sql  # the schema it goes back to: v1, parent of the commit that added add_tags
    assert modes.split() == ["600", "700"]
    out = flat(proc.stdout)
    assert "did: wrote %s for review (not applied)" % review in out
    assert "re-run with -e migration_resolve_apply_revert=true" in out
    # not applied: rows, schema, backups and the (clean) work tree as before; the ledger has the run
    after = snapshot(host)
    assert after[:4] == before[:4] and after[5] == "" and after[4] == before[4] + 1
    assert "Tag" in after[2] and "mood" in after[1]
    last = state(host)["ledger"][-1]
    assert (last["action"], last["migration"], last["outcome"], last["resolved_state"]) == \
        ("migration_resolve", TAGS, "written_for_review", "revert_written")
    assert last["revert_review_path"] == review and last["revert_target_commit"] == v1.strip()
    assert last["backup_path"] is None and "to_commit" not in last


def test_revert_second_run_and_check_mode_change_nothing(host):
    before = snapshot(host)
    again = resolve("-e", "migration=" + TAGS, "-e", "action=reverted")
    assert again.returncode == 0, again.stdout
    assert recap(again) == (0, 0)
    assert "already written for review, unchanged" in flat(again.stdout)
    check = resolve("-e", "migration=" + TAGS, "-e", "action=reverted", "-e", "migration_resolve_apply_revert=true",
                    check=True)
    assert check.returncode == 0, check.stdout
    assert "CHECK MODE: nothing was changed" in check.stdout
    assert re.search(r"would: safety backup into %s, apply \d{14}_revert_add_tags with prisma migrate deploy"
                     % BACKUPS, flat(check.stdout))
    assert snapshot(host) == before


def test_revert_applied_only_with_confirmation(host):
    review = review_file(host)
    name = review.split("/")[-2]
    proc = resolve("-e", "migration=" + TAGS, "-e", "action=reverted", "-e", "migration_resolve_apply_revert=true")
    assert proc.returncode == 0, proc.stdout
    st = state(host)
    assert "Tag" not in st["tables"] and "mood" not in st["columns"]
    assert st["rows"][-1] == (name, True, False)
    assert st["git"] == "?? packages/core/prisma/migrations/%s/" % name
    # the applied migration is the reviewed file, now in the repository's migrations
    assert host.check_output("cmp %s %s/%s/migration.sql && echo same" % (review, MIGRATIONS, name)) == "same"
    last = st["ledger"][-1]
    assert (last["outcome"], last["resolved_state"], last["revert_migration"]) == ("reverted", "reverted", name)
    assert last["deployed_migrations"] == [name] and last["health"]["healthy"] is True
    assert file_facts(host, last["backup_path"]) == (0o600, last["backup_sha256"])
    # via=auto took the server's own pg_dump (PostgreSQL 15 like the database)
    assert json.loads(host.file(last["backup_path"] + ".json").content_string)["via"] == "host"
    out = flat(proc.stdout)
    assert "safety backup: %s" % last["backup_path"] in out
    assert "next: commit packages/core/prisma/migrations/%s to the repository" % name in out
    again = resolve("-e", "migration=" + TAGS, "-e", "action=reverted", "-e", "migration_resolve_apply_revert=true")
    assert again.returncode == 0, again.stdout
    assert recap(again) == (0, 0)
    assert "nothing to revert: the database already matches the schema of" in flat(again.stdout)


def test_quick_rollback_gate_takes_the_revert_as_cancelling_the_migration(host):
    """v1 knows neither add_tags nor its revert: the schema is v1's again, the gate lets it through."""
    before = state(host)
    proc = play("playbooks/quick_rollback.yml", "-e", "commit=v1", "-e", "app_db_port=%d" % PORT, check=True)
    assert proc.returncode == 0, proc.stdout
    assert "migration gate: ok, v1 (%s) knows every applied migration" % V1[:12] in flat(proc.stdout)
    assert snapshot(host) == snapshot_of(before)


def test_safety_backup_restores_v2(host):
    """The backup taken before the revert is real: restoring it brings schema and data back."""
    backup = state(host)["ledger"][-1]["backup_path"]
    host.check_output("docker compose --project-directory %s exec -T postgres pg_restore -U lifetracker "
                      "-d lifetracker --clean --if-exists --single-transaction --exit-on-error < %s" % (APP_DIR, backup))
    # the developer drops the revert migration (never committed): the work tree is clean again
    host.check_output("rm -rf %s/*_revert_add_tags" % MIGRATIONS)
    assert psql(host, 'SELECT name FROM "Tag"') == "running"
    st = state(host)
    assert "mood" in st["columns"] and st["git"] == ""
    assert st["rows"] == [("20250101000000_init", True, False), (TAGS, True, False)]


# ------------------------------------------------------- v4: a migration fails half-way

def test_v4_deploy_fails_half_way_and_blocks_the_next_deploy(host):
    host.check_output("git -C %s checkout -q v4" % APP_DIR)
    first = play(DEPLOY)
    assert first.returncode != 0
    assert "prisma migrate deploy failed (exit 1, P3018)" in flat(first.stdout)
    st = state(host)
    assert st["rows"][-1] == (MOOD, False, False)  # started, finished_at NULL
    assert "mood_note" in st["columns"]  # committed before the failing UPDATE: the partial change
    second = play(DEPLOY)
    assert second.returncode != 0
    assert "P3009" in second.stdout and "a failed migration (%s) blocks deploy" % MOOD in flat(second.stdout)


def test_status_report_shows_the_failed_migration(host):
    before = snapshot(host)
    proc = resolve()
    assert proc.returncode == 0, proc.stdout
    out = flat(proc.stdout)
    assert "FAILED (1): %s" % MOOD in out
    assert "Prisma counted 0 applied step(s)" in out
    assert "column not found: mod" in out  # Prisma's log from _prisma_migrations
    assert 'UPDATE "Entry" SET "mood" = 3 WHERE "mod" IS NULL;' in out  # the migration's SQL
    assert "PARTIAL CHANGES" in out and 'ALTER TABLE "Entry" DROP COLUMN "mood_note";' in out
    assert "-e migration=%s -e action=rolled_back" % MOOD in out
    assert recap(proc) == (0, 0)
    assert snapshot(host) == before


BAD = [
    ("traversal", ["-e", "migration=../../etc/passwd", "-e", "action=rolled_back"],
     "refusing migration '../../etc/passwd': not a Prisma migration directory name"),
    ("unknown", ["-e", "migration=20991231000000_never_existed", "-e", "action=rolled_back"],
     "migration 20991231000000_never_existed is not in %s" % MIGRATIONS),
    ("not-failed", ["-e", "migration=" + TAGS, "-e", "action=rolled_back"],
     "(P3012): migration %s is not in a failed state" % TAGS),
    ("failed-revert", ["-e", "migration=" + MOOD, "-e", "action=reverted"],
     "migration %s FAILED, it did not succeed: use action=rolled_back" % MOOD),
    ("bad-action", ["-e", "migration=" + MOOD, "-e", "action=dropped"], "refusing migration='%s' action='dropped'" % MOOD),
    ("sql-outside", ["-e", "migration=" + MOOD, "-e", "action=rolled_back",
                     "-e", "migration_resolve_revert_sql=../../../etc/passwd"],
     "refusing migration_resolve_revert_sql '../../../etc/passwd'"),
    ("sql-missing", ["-e", "migration=" + MOOD, "-e", "action=rolled_back",
                     "-e", "migration_resolve_revert_sql=packages/core/prisma/nope.sql"],
     "'packages/core/prisma/nope.sql': it does not exist in /opt/lifetracker"),
    ("partial-left", ["-e", "migration=" + MOOD, "-e", "action=rolled_back"],
     "%s left partial changes in the database" % MOOD),
    ("survey-flag", ["-e", "migration=" + MOOD, "-e", "action=rolled_back", "-e", "migration_resolve_deploy=maybe"],
     "argument 'migration_resolve_deploy' is of type str and we were unable to convert to bool"),
]


@pytest.mark.parametrize("args,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_requests_are_refused_and_change_nothing(host, args, message):
    before = snapshot(host)
    proc = resolve(*args)
    assert proc.returncode != 0
    out = flat(proc.stdout)
    assert message in out, out[-3000:]
    if not message.startswith("argument "):  # the role's argument spec answered first
        assert "Nothing was changed" in out
    assert snapshot(host) == before


def test_revert_sql_escaping_the_repository_by_symlink_is_refused(host):
    host.check_output("ln -sfn /etc/passwd %s/escape.sql" % APP_DIR)
    try:
        before = snapshot(host)
        proc = resolve("-e", "migration=" + MOOD, "-e", "action=rolled_back",
                       "-e", "migration_resolve_revert_sql=escape.sql")
        assert proc.returncode != 0
        assert "it resolves to /etc/passwd, outside the repository" in flat(proc.stdout)
        assert snapshot(host) == before
    finally:
        host.check_output("rm -f %s/escape.sql" % APP_DIR)


def write_sql(host, path, sql):
    """A SQL file in the server's work tree (untracked: the test plays the developer)."""
    host.check_output("mkdir -p %s/packages/core/prisma/reverts && printf '%%s\\n' %s > %s/%s"
                      % (APP_DIR, shlex.quote(sql), APP_DIR, path))


def test_revert_sql_with_transaction_control_is_refused(host):
    path = "packages/core/prisma/reverts/commit.sql"
    write_sql(host, path, 'ALTER TABLE "Entry" DROP COLUMN "mood_note";\nCOMMIT;')
    before = snapshot(host)
    proc = resolve("-e", "migration=" + MOOD, "-e", "action=rolled_back", "-e", "migration_resolve_revert_sql=" + path)
    assert proc.returncode != 0
    assert "without transaction control (BEGIN, COMMIT, ROLLBACK, END, ...)" in flat(proc.stdout)
    assert snapshot(host) == before


def test_failing_revert_sql_is_rolled_back_as_one_transaction(host):
    """The first statement would succeed, the second fails: nothing of it stays."""
    path = "packages/core/prisma/reverts/broken.sql"
    write_sql(host, path, 'ALTER TABLE "Entry" DROP COLUMN "mood_note";\nALTER TABLE "Entry" DROP COLUMN "nope";')
    before = state(host)
    proc = resolve("-e", "migration=" + MOOD, "-e", "action=rolled_back", "-e", "migration_resolve_revert_sql=" + path)
    assert proc.returncode != 0
    out = flat(proc.stdout)
    assert 'psql:<stdin>:2: ERROR: column "nope" of relation "Entry" does not exist' in out
    assert "the revert SQL ran in ONE transaction and was rolled back; the database is as before" in out
    st = state(host)
    assert "mood_note" in st["columns"] and st["rows"] == before["rows"]  # still failed, column still there
    (backup,) = sorted(set(st["backups"]) - set(before["backups"]))  # taken before the attempt
    last = st["ledger"][-1]
    assert (last["outcome"], last["backup_path"], last["resolved_state"]) == ("failed", backup, "failed")
    assert 'column "nope"' in last["error"]
    assert "safety backup: %s" % backup in out


def test_check_mode_changes_nothing(host):
    # the reviewed SQL that reverses v4's partial change
    write_sql(host, REVERT_SQL, '-- Reverse the partial change of %s\nALTER TABLE "Entry" DROP COLUMN IF EXISTS "mood_note";'
              % MOOD)
    before = snapshot(host)
    proc = resolve("-e", "migration=" + MOOD, "-e", "action=rolled_back",
                   "-e", "migration_resolve_revert_sql=" + REVERT_SQL, check=True)
    assert proc.returncode == 0, proc.stdout
    out = flat(proc.stdout)
    assert "CHECK MODE: nothing was changed" in out
    assert "would: safety backup into %s, run %s in one transaction, mark %s rolled back" % (BACKUPS, REVERT_SQL, MOOD) in out
    assert "NOT COMMITTED in git" in out
    applied = resolve("-e", "migration=" + MOOD, "-e", "action=applied", check=True)
    assert applied.returncode == 0, applied.stdout
    assert "would: safety backup into %s, mark %s applied" % (BACKUPS, MOOD) in flat(applied.stdout)
    assert snapshot(host) == before
    assert "mood_note" in before[1]


def test_rolled_back_with_revert_sql_reverses_the_partial_change(host):
    before = state(host)
    proc = resolve("-e", "migration=" + MOOD, "-e", "action=rolled_back", "-e", "migration_resolve_revert_sql=" + REVERT_SQL)
    assert proc.returncode == 0, proc.stdout
    st = state(host)
    assert st["rows"][-1] == (MOOD, False, True)  # rolled_back_at set
    assert "mood_note" not in st["columns"]
    (backup,) = sorted(set(st["backups"]) - set(before["backups"]))
    last = st["ledger"][-1]
    assert (last["migration"], last["resolve_action"], last["state_before"], last["resolved_state"], last["outcome"]) == \
        (MOOD, "rolled_back", "failed", "rolled_back", "resolved")
    assert last["backup_path"] == backup and file_facts(host, backup) == (0o600, last["backup_sha256"])
    assert last["revert_sql"] == REVERT_SQL
    assert last["revert_sql_sha256"] == file_facts(host, "%s/%s" % (APP_DIR, REVERT_SQL))[1]
    out = flat(proc.stdout)
    assert "did: ran %s in one transaction" % REVERT_SQL in out
    assert "did: migration %s marked as rolled back" % MOOD in out
    assert "safety backup: %s" % backup in out
    assert "next: fix packages/core/prisma/migrations/%s/migration.sql" % MOOD in out


def test_second_run_reports_no_change(host):
    before = snapshot(host)
    proc = resolve("-e", "migration=" + MOOD, "-e", "action=rolled_back", "-e", "migration_resolve_revert_sql=" + REVERT_SQL)
    assert proc.returncode == 0, proc.stdout
    assert recap(proc) == (0, 0)
    assert "no change: migration %s is already rolled back" % MOOD in flat(proc.stdout)
    assert snapshot(host) == before


def test_deploy_works_after_fixing_the_migration(host):
    # the developer's fix, in the server's work tree
    host.check_output("printf '%%s' %s > %s/%s/migration.sql" % (shlex.quote(FIXED_SQL), MIGRATIONS, MOOD))
    before = state(host)
    proc = resolve("-e", "migration=" + MOOD, "-e", "action=rolled_back", "-e", "migration_resolve_deploy=true")
    assert proc.returncode == 0, proc.stdout
    st = state(host)
    assert st["rows"][-2:] == [(MOOD, False, True), (MOOD, True, False)]  # old row rolled back, new row finished
    assert "mood_note" in st["columns"]
    assert psql(host, "SELECT is_nullable FROM information_schema.columns "
                      "WHERE table_name = 'Entry' AND column_name = 'mood'") == "NO"
    assert len(st["backups"]) == len(before["backups"]) + 1  # the deploy changes the database: backup first
    last = st["ledger"][-1]
    assert (last["outcome"], last["resolved_state"], last["deployed_migrations"]) == ("deployed", "applied", [MOOD])
    assert last["health"]["healthy"] is True
    out = flat(proc.stdout)
    assert "did: applied 1 migration: %s" % MOOD in out and "health: healthy after" in out
    assert health(host)[0] == 200
