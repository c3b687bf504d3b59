"""deploy scenario: deploy.yml, migration_rehearsal.yml and full_rollback.yml on the sandbox.

Tests run in file order and build on each other's state:
prepare brought v1 up by hand (no ledger); converge deployed v1 (adopted, backed up,
images tagged). Then v2 (adds a migration, rehearsed on a copy first), the same commit
again (no change), v4 (its migration fails half-way): stopped by the rehearsal, and with
the rehearsal off brought back (app and database) with no data lost; v3 (bad /health):
rolled back; then full_rollback to v1 (code, schema and data of v1), `previous` from
git's reflog when the ledger is gone, and v5 (its migration renames a column): refused
by the migration lint with policy refuse, deployed with the lint in the summary with warn.
"""

from __future__ import annotations

import json
import re
import shlex
import time

import pytest

from conftest import APP_DIR, app_env, flat, health, play, recap

DEPLOY = "playbooks/deploy.yml"
REHEARSAL = "playbooks/migration_rehearsal.yml"
FULL = "playbooks/full_rollback.yml"
QUICK = "playbooks/quick_rollback.yml"
PORT = 25600
LEDGER = "/var/lib/maverick-rollback/lifetracker/ledger.jsonl"
LOCK = "/var/lib/maverick-rollback/lifetracker/lock"
V1 = "425da83ab2e6e51e85116ef52ea6119fe9b4e709"
V2 = "b65522e1bab699cd5a9a58211cf8067bb51b2527"
V3 = "f26adb1c30fba7f95142c2839f358299c6188b0e"
V4 = "6d1ef0208fe2d619ec17902e2eaa1d6c78917ee6"
TAGS = "20250201000000_add_tags"
MOOD = "20250301000000_entry_mood_required"

_PW = {}


def psql_cmd(host, sql, db="lifetracker"):
    """psql over TCP as the app connects (password from the app's .env, in the environment)."""
    if "pw" not in _PW:
        _PW["pw"] = app_env(host)["POSTGRES_PASSWORD"]
    return ("PGPASSWORD=%s psql -X -h 127.0.0.1 -p %d -U lifetracker -d %s -Atc %s"
            % (shlex.quote(_PW["pw"]), PORT, db, shlex.quote(sql)))


def psql(host, sql, db="lifetracker"):
    return host.check_output(psql_cmd(host, sql, db))


def add_entry(host, title):
    psql(host, "INSERT INTO \"Entry\" (title) VALUES ('%s')" % title)


QUERIES = {
    "migrations": "SELECT migration_name || ':' || (finished_at IS NOT NULL) || ':' || (rolled_back_at IS NOT NULL) "
                  "FROM _prisma_migrations ORDER BY migration_name",
    "tables": "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    "columns": "SELECT column_name FROM information_schema.columns WHERE table_name = 'Entry' ORDER BY 1",
    "entries": "SELECT title FROM \"Entry\" ORDER BY id",
    "databases": "SELECT datname FROM pg_database WHERE datname LIKE 'lifetracker%' ORDER BY 1",
}


def state(host):
    """HEAD, the api container (id, image, start time), database contents and the ledger: one round trip."""
    parts = ["echo @@%s; %s" % (key, psql_cmd(host, sql)) for key, sql in QUERIES.items()]
    parts += [
        "echo @@head; git -C %s rev-parse HEAD" % APP_DIR,
        "echo @@api; docker inspect -f '{{.Id}} {{.Image}} {{.State.StartedAt}}' mr-deploy-api-1",
        "echo @@ledger; cat %s 2>/dev/null || true" % LEDGER,
    ]
    out = host.check_output(" ; ".join(parts))
    sections = dict((chunk.split("\n", 1) + [""])[:2] for chunk in out.split("@@")[1:])
    lines = {k: [line for line in v.splitlines() if line.strip()] for k, v in sections.items()}
    container, image, started = lines["api"][0].split()
    return {
        "migrations": lines["migrations"],
        "tables": set(lines["tables"]),
        "columns": set(lines["columns"]),
        "entries": lines["entries"],
        "databases": lines["databases"],
        "head": lines["head"][0],
        "api": {"container": container, "image": image, "started": started},
        "ledger": [json.loads(line) for line in lines["ledger"]],
    }


def image_of(host, commit):
    """Image id kept for a commit (the api image tagged with its SHA)."""
    return host.check_output("docker image inspect -f '{{.Id}}' mr-deploy-api:%s" % commit)


def deploys(st):
    return [r for r in st["ledger"] if r.get("action") == "deploy"]


def rows_text(count):
    """A row count as the lint writes it (exact, under 1 000)."""
    return "%d row%s" % (count, "" if count == 1 else "s")


def entry_size(host):
    """The live "Entry" table's rows and its size as pg_size_pretty writes it (the lint's format)."""
    count, size = psql(host, "SELECT count(*) || '|' || pg_size_pretty(pg_total_relation_size('\"Entry\"')) "
                             "FROM \"Entry\"").split("|")
    return int(count), size


def assert_serving(host, commit):
    status, body = health(host)
    assert status == 200 and body.get("commit") == commit, (status, body)


# ------------------------------------------------------------ converge: adopt + deploy v1

def test_converge_adopted_v1_and_recorded_a_verified_backup(host):
    st = state(host)
    assert st["head"] == V1
    assert_serving(host, V1)
    first = st["ledger"][0]
    assert (first["action"], first["to_commit"], first["outcome"]) == ("adopt", V1, "healthy")
    backups = [r for r in st["ledger"] if r.get("action") == "backup"]
    assert backups and backups[0]["outcome"] == "verified" and backups[0]["commit"].startswith(V1[:12])
    deploy = deploys(st)[0]
    assert (deploy["from_commit"], deploy["to_commit"], deploy["outcome"]) == (V1, V1, "healthy")
    assert deploy["backup"] == backups[0]["path"]
    assert host.file(deploy["backup"]).mode == 0o600
    # v1's images are kept under its commit and run now
    assert st["api"]["image"] == image_of(host, V1)


# ------------------------------------------------------------------------ v1 -> v2

def test_deploy_v2_rehearses_backs_up_migrates_and_records(host):
    add_entry(host, "written-on-v1")
    rows, size = entry_size(host)
    assert rows >= 1
    # The plan (check mode: nothing changes) names the table v2's migration alters with the live
    # database's rows and size, and the table it creates as new.
    before = state(host)
    check = play(DEPLOY, "-e", "commit=v2", check=True)
    assert check.returncode == 0, check.stdout
    plan = flat(check.stdout).replace('\\"', '"')
    assert '%s: compatible with older code; touches "Entry" (%s, %s), "Tag" (new); 0 lint finding(s)' % (
        TAGS, rows_text(rows), size) in plan, plan
    assert "table sizes: the live database lifetracker, before the deploy" in plan
    assert state(host) == before
    proc = play(DEPLOY, "-e", "commit=v2")
    assert proc.returncode == 0, proc.stdout
    out = flat(proc.stdout).replace('\\"', '"')
    assert "migration rehearsal of %s: OK - 1 migration(s) applied to the copy" % V2[:12] in out
    assert "DEPLOYED %s" % V2[:12] in out
    # plan: the live database; summary: the rehearsal copy (restored from the pre-deploy backup,
    # so the same rows), next to the migration's time there
    plan, summary = out[:out.index("DEPLOYED %s" % V2[:12])], out[out.index("DEPLOYED %s" % V2[:12]):]
    assert '%s: compatible with older code; touches "Entry" (%s, %s), "Tag" (new);' % (TAGS, rows_text(rows), size) in plan
    assert re.search(r'%s: compatible with older code; touches "Entry" \(%s, \d+ (bytes|kB)\), "Tag" \(new\); '
                     r'[0-9.]+ s on the rehearsal copy; 0 lint finding\(s\)' % (TAGS, rows_text(rows)), summary), summary
    assert "table sizes: the rehearsal copy, before its migrations" in summary
    st = state(host)
    assert st["head"] == V2
    assert_serving(host, V2)
    assert "Tag" in st["tables"] and "mood" in st["columns"]
    assert st["migrations"] == ["20250101000000_init:true:false", TAGS + ":true:false"]
    assert st["entries"] == ["written-on-v1"]
    # the rehearsal's copy is gone; nothing else was created
    assert st["databases"] == ["lifetracker"]
    deploy = deploys(st)[-1]
    assert (deploy["from_commit"], deploy["to_commit"], deploy["outcome"]) == (V1, V2, "healthy")
    assert deploy["migrations"] == [TAGS]
    manifest = json.loads(host.file(deploy["backup"] + ".json").content_string)
    assert manifest["commit"].startswith(V1[:12])  # taken while v1 ran: the database before v2
    assert st["api"]["image"] == image_of(host, V2)


def test_second_deploy_of_the_same_commit_changes_nothing(host):
    before = state(host)
    proc = play(DEPLOY, "-e", "commit=v2")
    assert proc.returncode == 0, proc.stdout
    assert recap(proc) == (0, 0)
    assert "no change: %s already runs" % V2[:12] in flat(proc.stdout)
    after = state(host)
    assert after["api"] == before["api"] and len(after["ledger"]) == len(before["ledger"])


@pytest.mark.parametrize("playbook, args", [(DEPLOY, ["-e", "commit=v1"]), (FULL, ["-e", "confirm=yes"])],
                         ids=["deploy", "full_rollback"])
def test_a_run_in_flight_is_reported_before_anything_is_read(host, playbook, args):
    """Another operator's run holds the lock: refused at the first read, its lock untouched."""
    holder = json.dumps({"run_id": "inflight", "owner": "night-shift", "controller": "awx-1", "ttl": 600,
                         "started_epoch": time.time(), "started": "now", "awx_job_id": "42"})
    host.check_output("printf '%%s' %s > %s && chmod 600 %s" % (shlex.quote(holder), LOCK, LOCK))
    try:
        before = state(host)
        proc = play(playbook, *args)
        assert proc.returncode != 0
        out = flat(proc.stdout)
        assert "Refuse before anything changes (another run" in out
        assert "another run holds the lock %s: night-shift on awx-1 (run inflight, AWX job 42)" % LOCK in out
        assert state(host) == before
        assert host.file(LOCK).content_string == holder
    finally:
        host.check_output("rm -f %s" % LOCK)


def test_rehearsal_alone_reports_and_changes_nothing(host):
    before = state(host)
    proc = play(REHEARSAL, "-e", "commit=v4")
    assert proc.returncode != 0
    out = flat(proc.stdout)
    assert "the migrations of %s FAILED on a copy of the database" % V4[:12] in out
    assert "Production was not touched" in out
    after = state(host)
    assert after == before


def test_rehearsal_skips_a_backup_someone_else_planted(host):
    """'latest' for the rehearsal follows db_restore's rule: a backup and manifest named 2099 but
    owned by another user (uid 1000) are left out with a warning; the newest trusted one is used."""
    newest = [r["path"] for r in state(host)["ledger"] if r["action"] == "backup" and r["outcome"] == "verified"][-1]
    planted = re.sub(r"_[0-9]{8}T[0-9]{6}Z_", "_20991231T235959Z_", newest)
    host.check_output("cp -p %s %s && cp -p %s.json %s.json && chown 1000 %s %s.json"
                      % (newest, planted, newest, planted, planted, planted))
    try:
        proc = play(REHEARSAL, "-e", "commit=v4")
        out = flat(proc.stdout)
        assert "WARNING: backups left out of the choice" in out and planted in out, out
        assert "(copy of %s, dropped" % newest.rsplit("/", 1)[1] in out
    finally:
        host.check_output("rm -f %s %s.json" % (planted, planted))


def test_rehearsal_waits_its_turn_a_held_lock_refuses_it(host):
    """The rehearsal restores a copy and runs migrations: not while another run holds the lock."""
    holder = json.dumps({"run_id": "inflight", "owner": "night-shift", "controller": "awx-1", "ttl": 600,
                         "started_epoch": time.time(), "started": "now", "awx_job_id": "42"})
    host.check_output("printf '%%s' %s > %s && chmod 600 %s" % (shlex.quote(holder), LOCK, LOCK))
    try:
        before = state(host)
        proc = play(REHEARSAL, "-e", "commit=v2")
        assert proc.returncode != 0, proc.stdout
        assert "another run holds the lock %s: night-shift on awx-1" % LOCK in flat(proc.stdout)
        assert state(host) == before  # no copy restored
        assert host.file(LOCK).content_string == holder
    finally:
        host.check_output("rm -f %s" % LOCK)


def test_rehearsal_drops_only_the_copy_it_created(host):
    """A database under the copy's name that this run did not create survives the run's cleanup."""
    stamp = "20260101000000"
    theirs = "lifetracker_verify_" + stamp
    psql(host, "CREATE DATABASE %s" % theirs)
    try:
        psql(host, "CREATE TABLE kept (x int)", db=theirs)
        # The stamp the run names its copy with, fixed here so that the name is taken.
        proc = play(REHEARSAL, "-e", "commit=v2", "-e", "__migration_rehearsal_stamp=" + stamp)
        assert proc.returncode != 0, proc.stdout
        assert "scratch database %s exists already" % theirs in flat(proc.stdout)
        assert theirs in state(host)["databases"]
        assert psql(host, "SELECT count(*) FROM pg_tables WHERE tablename = 'kept'", db=theirs) == "1"
    finally:
        psql(host, "DROP DATABASE IF EXISTS %s" % theirs)
    assert state(host)["databases"] == ["lifetracker"]


# ------------------------------------------------------------------ v4: bad migration

def test_deploy_v4_is_stopped_by_the_rehearsal(host):
    before = state(host)
    proc = play(DEPLOY, "-e", "commit=v4")
    assert proc.returncode != 0
    out = flat(proc.stdout)
    assert "DEPLOY OF %s FAILED at the validate step" % V4[:12] not in out
    assert "FAILED on a copy of the database" in out
    assert "state: production was not touched (still %s)" % V2[:12] in out
    after = state(host)
    # same container (never restarted), same code, same schema, same rows; copy dropped
    assert after["api"] == before["api"] and after["head"] == V2
    assert after["migrations"] == before["migrations"] and after["columns"] == before["columns"]
    assert after["entries"] == before["entries"] and after["databases"] == ["lifetracker"]
    assert_serving(host, V2)


def test_deploy_v4_without_rehearsal_brings_app_and_database_back(host):
    add_entry(host, "written-on-v2")
    before = state(host)
    proc = play(DEPLOY, "-e", "commit=v4", "-e", "rehearse=false", timeout=600)
    assert proc.returncode != 0
    out = flat(proc.stdout)
    assert "DEPLOY OF %s FAILED at the switch step" % V4[:12] in out
    assert "the database was restored from the pre-deploy backup" in out
    assert "the app runs %s again and is healthy" % V2[:12] in out
    after = state(host)
    assert after["head"] == V2
    assert_serving(host, V2)
    # schema and rows exactly as before the deploy: no failed row, no half-added column
    assert after["migrations"] == before["migrations"]
    assert after["columns"] == before["columns"] and "mood_note" not in after["columns"]
    assert after["entries"] == before["entries"] == ["written-on-v1", "written-on-v2"]
    # nothing lost: the failed release's database is kept under a dated name
    kept = [d for d in after["databases"] if d.startswith("lifetracker_pre_restore_")]
    assert len(kept) == 1
    # there its failed migration (partial change still in place) is marked rolled back, so
    # swapping it back would not leave `migrate deploy` blocked on P3009
    failed_rows = psql(host, "SELECT migration_name, rolled_back_at IS NOT NULL FROM _prisma_migrations "
                             "WHERE finished_at IS NULL", db=kept[0])
    assert failed_rows.split() == [MOOD + "|t"]
    assert "mood_note" in psql(host, "SELECT column_name FROM information_schema.columns "
                                     "WHERE table_name = 'Entry'", db=kept[0]).split()
    assert "its failed migration %s marked rolled back there" % MOOD in out
    record = deploys(after)[-1]
    assert (record["to_commit"], record["outcome"], record["stage"]) == (V4, "rolled_back", "switch")
    assert record["database_restored"] is True and record["failed_database"] == kept[0]
    assert record["failed_migration_marked"] is True


# ---------------------------------------------------------------------- v3: bad /health

def test_deploy_v3_with_a_bad_health_rolls_back(host):
    before = state(host)
    proc = play(DEPLOY, "-e", "commit=v3")
    assert proc.returncode != 0
    out = flat(proc.stdout)
    assert "DEPLOY OF %s FAILED at the switch step" % V3[:12] in out
    assert "the app runs %s again and is healthy" % V2[:12] in out
    after = state(host)
    assert after["head"] == V2 and after["api"]["image"] == image_of(host, V2)
    assert_serving(host, V2)
    assert after["entries"] == before["entries"] and after["migrations"] == before["migrations"]
    gate = [r for r in after["ledger"] if r.get("to_commit") == V3 and r.get("action") == "deploy"]
    assert [r["outcome"] for r in gate] == ["failed", "rolled_back"]


# ------------------------------------------------------------ full rollback v2 -> v1

def test_full_rollback_refuses_without_confirmation_and_check_mode_changes_nothing(host):
    before = state(host)
    refused = play(FULL)
    assert refused.returncode != 0
    assert "without confirmation" in flat(refused.stdout) and "Nothing was changed" in flat(refused.stdout)
    check = play(FULL, check=True)
    assert check.returncode == 0, check.stdout
    assert "full rollback of lifetracker: %s -> %s" % (V2[:12], V1[:12]) in flat(check.stdout)
    assert state(host) == before


def test_full_rollback_puts_the_database_back_when_the_ledger_fails_after_the_swap(host):
    """The ledger cannot be written (immutable): the first append of the run is db_restore's,
    right after its swap (the safety backup, which appends too, is off here). The rescue must
    see the swap and put the previous database back, and say so."""
    add_entry(host, "written-before-a-blind-rollback")
    before = state(host)
    host.check_output("chattr +i %s" % LEDGER)
    try:
        proc = play(FULL, "-e", "confirm=yes", "-e", "db_restore_safety_backup=false", timeout=600)
    finally:
        host.check_output("chattr -i %s" % LEDGER)
    assert proc.returncode != 0, proc.stdout
    out = flat(proc.stdout)
    assert "FULL ROLLBACK FAILED: cannot append to the release ledger %s" % LEDGER in out
    assert "state: the previous database was put back" in out
    assert "the app runs %s again and is healthy" % V2[:12] in out
    after = state(host)
    # the swap happened: the database restored from v1's backup is kept under a dated name ...
    restored = [d for d in after["databases"] if d.startswith("lifetracker_restore_") and d not in before["databases"]]
    assert len(restored) == 1, after["databases"]
    assert psql(host, "SELECT string_agg(title, ',' ORDER BY id) FROM \"Entry\"", db=restored[0]) == "written-on-v1"
    # ... and the previous one is live again: v2's schema and every row written until the stop
    assert after["entries"] == before["entries"] and "written-before-a-blind-rollback" in after["entries"]
    assert after["migrations"] == before["migrations"] and after["columns"] == before["columns"]
    assert after["head"] == V2
    assert_serving(host, V2)
    assert after["ledger"] == before["ledger"]  # nothing could be written
    assert not host.file(LOCK).exists
    psql(host, "DROP DATABASE %s" % restored[0])


def test_full_rollback_brings_code_schema_and_data_back_to_v1(host):
    add_entry(host, "written-after-v2")
    proc = play(FULL, "-e", "confirm=yes", timeout=600)
    assert proc.returncode == 0, proc.stdout
    assert "FULL ROLLBACK DONE: lifetracker runs %s" % V1[:12] in flat(proc.stdout)
    st = state(host)
    assert st["head"] == V1 and st["api"]["image"] == image_of(host, V1)
    assert_serving(host, V1)
    # schema of v1 (the v2 table and column are gone) and the rows of v1's pre-deploy backup
    assert "Tag" not in st["tables"] and "mood" not in st["columns"]
    assert st["migrations"] == ["20250101000000_init:true:false"]
    assert st["entries"] == ["written-on-v1"]
    # the v2 database (with the rows written since) is kept for an undo
    kept = sorted(d for d in st["databases"] if d.startswith("lifetracker_pre_restore_"))
    newest = kept[-1]
    assert psql(host, "SELECT count(*) FROM \"Entry\" WHERE title = 'written-after-v2'", db=newest) == "1"
    last = st["ledger"][-1]
    assert (last["action"], last["to_commit"], last["outcome"], last["full_rollback"]) == ("rollback", V1, "healthy", True)


def test_previous_falls_back_to_the_reflog_without_a_ledger(host):
    host.check_output("mv %s %s.aside" % (LEDGER, LEDGER))
    try:
        proc = play(QUICK, "-e", "commit=previous", "-e", "app_rollback_allow_schema_ahead=true", check=True)
    finally:
        host.check_output("mv %s.aside %s" % (LEDGER, LEDGER))
    assert proc.returncode == 0, proc.stdout
    out = flat(proc.stdout)
    assert "commit=previous: %s, from git's reflog" % V2[:12] in out
    assert "to %s" % V2[:12] in out


# ------------------------------------------------------------ v1 -> v5: the migration lint

V5_RENAME = "20250317000000_rename_tag_name"


def test_deploy_v5_refused_by_the_lint_policy_before_any_change(host):
    # v5 from origin (this checkout's generated repo, mounted): the shared image may predate it.
    host.check_output("git -C %s fetch --quiet origin +refs/tags/v5:refs/tags/v5" % APP_DIR)
    before = state(host)
    proc = play(DEPLOY, "-e", "commit=v5", "-e", "app_migration_lint_policy=refuse")
    assert proc.returncode != 0
    out = flat(proc.stdout).replace('\\"', '"')
    assert "migration lint: the new migrations of v5" in out and "Nothing was changed" in out
    assert 'renaming-column: older code selecting "name" of "Tag" fails' in out
    assert "-e app_migration_lint_policy=warn" in out
    # the refusal names the tables each migration touches, with the live database's numbers
    rows, size = entry_size(host)
    assert '%s: compatible with older code; touches "Entry" (%s, %s), "Tag" (new);' % (TAGS, rows_text(rows), size) in out
    assert '%s: incompatible with older code; touches "Tag" (created by %s);' % (V5_RENAME, TAGS) in out
    assert state(host) == before  # no backup, no rehearsal, no switch, no ledger record
    assert not host.file(LOCK).exists


def test_rehearsal_alone_lints_what_it_ran_on_the_copy(host):
    """Run on its own (no deploy passing the SQL), the rehearsal reads the release's new
    migrations from git and lints them with the time each took on the copy."""
    before = state(host)
    proc = play(REHEARSAL, "-e", "commit=v5", timeout=600)
    assert proc.returncode == 0, proc.stdout
    out = flat(proc.stdout).replace('\\"', '"')
    # The copy comes from the newest backup (it has "Tag" already): the rename is what runs on it.
    assert re.search(r'%s: incompatible with older code; touches "Tag" \(\d+ rows?, \d+ (bytes|kB)\); '
                     r'[0-9.]+ s on the rehearsal copy; 1 lint finding' % V5_RENAME, out), out
    assert 'renaming-column: older code selecting "name" of "Tag" fails' in out
    assert state(host) == before  # the copy is dropped, production untouched


def test_deploy_v5_with_warn_shows_the_lint_and_the_rehearsal_times(host):
    rows, _size = entry_size(host)
    proc = play(DEPLOY, "-e", "commit=v5", timeout=600)
    assert proc.returncode == 0, proc.stdout
    out = flat(proc.stdout).replace('\\"', '"')
    v5 = host.check_output("git -C %s rev-parse v5^{commit}" % APP_DIR)
    summary = out[out.index("DEPLOYED %s" % v5[:12]):]
    assert "migration lint (1 finding(s), policy warn)" in summary
    assert V5_RENAME + ': incompatible with older code; touches "Tag" (created by %s); ' % TAGS in summary
    assert re.search(r'%s: compatible with older code; touches "Entry" \(%s, \d+ (bytes|kB)\), "Tag" \(new\); '
                     r'[0-9.]+ s on the rehearsal copy' % (TAGS, rows_text(rows)), summary), summary
    assert "s on the rehearsal copy" in summary
    assert 'renaming-column: older code selecting "name" of "Tag" fails' in summary
    st = state(host)
    assert st["head"] == v5
    assert_serving(host, v5)
    assert V5_RENAME + ":true:false" in st["migrations"]
