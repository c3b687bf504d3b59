"""Parity of tests/unit/roles/WIRING.md: the Jinja the roles run today and the filter expressions that
replace it give the same results, rendered by Ansible's own templar.

Delete this file together with WIRING.md once the roles are wired: the old Jinja it
reads from roles/ is gone then, and the filters keep their own tables of cases.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

try:  # ansible-core >= 2.19
    from ansible._internal._datatag._tags import TrustedAsTemplate

    def trusted(text):
        return TrustedAsTemplate().tag(text)
except ImportError:  # pragma: no cover
    def trusted(text):
        return text

ROOT = Path(__file__).resolve().parents[3]
ROLES = ROOT / "roles"


def load(path):
    loader = DataLoader()
    try:
        return loader.load_from_file(str(path), trusted_as_template=True)
    except TypeError:  # pragma: no cover
        return loader.load_from_file(str(path))


def role_vars(role):
    """The role's defaults and vars over the app contract's (every role depends on `app`)."""
    variables = dict(load(ROLES / "app" / "defaults" / "main.yml"))
    variables.update(load(ROLES / role / "defaults" / "main.yml"))
    variables.update(load(ROLES / "app" / "vars" / "main.yml"))
    variables.update(load(ROLES / role / "vars" / "main.yml"))
    return variables


def task(role, tasks_file, name):
    (found,) = [t for t in load(ROLES / role / "tasks" / tasks_file) if t.get("name") == name]
    return found


def render(template, variables):
    return Templar(loader=DataLoader(), variables=variables).template(template)


def new(expression, variables):
    """A replacement expression from WIRING.md."""
    return render(trusted(expression), variables)


# ======================================================================= db_restore

B = "/var/lib/maverick-rollback/backups"


def backup(stamp, commit, seq=""):
    return "%s/lifetracker_lifetracker_%s_%s%s.dump" % (B, stamp, commit, seq)


FOUND = [{"path": backup(s, c, q) + ".json"} for s, c, q in [
    ("20260101T000000Z", "aaaaaaaaaaaa", ""), ("20260101T000000Z", "aaaaaaaaaaaa", "-1"), ("20260201T000000Z", "bbbbbbbbbbbb", ""),
    ("20260202T000000Z", "bbbbbbbbbbbb", ""), ("20260301T000000Z", "cccccccccccc", ""), ("20260401T000000Z", "unknown", "")]]
DEPLOYS = [{"action": "deploy", "from_commit": "b" * 12 + "9" * 28, "backup": backup("20260201T000000Z", "bbbbbbbbbbbb")},
           {"action": "deploy", "from_commit": "c" * 40, "backup": "/gone.dump"},
           {"action": "backup", "path": backup("20260301T000000Z", "cccccccccccc")}]
SELECT_CASES = [
    # (request, git's answer or None when the task was skipped)
    ("latest", None), ("/root/backup.sql", None), ("before=v2", {"rc": 0, "stdout": "b" * 12 + "9" * 28}),
    ("before=bbbbbbb", {"rc": 1, "stdout": ""}), ("before=CCCCCCCCCCCC", {"rc": 1, "stdout": ""}),
    ("before=v1", {"rc": 0, "stdout": "a" * 40}), ("before=deadbeef", {"rc": 1, "stdout": ""}),
]
# WIRING.md, roles/db_restore/tasks/select.yml "Pick the backup"
NEW_PICK = """{{ __db_restore_found.files | default([]) | maverick.rollback.backup_pick(__db_restore_backup,
    app_name, __db_restore_db, records=__db_restore_ledger.records | default([]),
    resolved=__db_restore_before_sha) }}"""


@pytest.mark.parametrize("records", [[], DEPLOYS], ids=["no-ledger", "ledger"])
@pytest.mark.parametrize("request_,git", SELECT_CASES, ids=[c[0] for c in SELECT_CASES])
def test_db_restore_select(request_, git, records):
    variables = dict(role_vars("db_restore"), db_restore_backup=request_, __db_restore_db="lifetracker",
                     __db_restore_found={"files": FOUND} if not request_.startswith("/") else {"skipped": True},
                     __db_restore_before_sha=git or {"skipped": True}, __db_restore_ledger={"records": records})
    found = task("db_restore", "select.yml", "Pick the backup")
    facts = render(found["ansible.builtin.set_fact"], dict(variables, **found["vars"]))
    pick = new(NEW_PICK, variables)
    assert (pick["path"], pick["candidates"]) == (facts["__db_restore_path"], facts["__db_restore_candidates"])
    if request_.startswith("before="):  # the "Refuse a commit that git does not know" assert
        assertion = task("db_restore", "select.yml", "Refuse a commit that git does not know and that is not a SHA")
        assert pick["commit_known"] is render(trusted("{{ %s }}" % assertion["ansible.builtin.assert"]["that"]), variables)


NAMES = ["lifetracker_lifetracker_20260105T031500Z_abcdef123456.dump", "lifetracker_lifetracker_20260105T031500Z_unknown-2.dump",
         "lifetracker_lifetracker_20260105T031500Z_abcd.dump.json", "lifetracker_lifetracker_test_20260105T031500Z_abcd.dump",
         "lifetracker_lifetracker_20260105T031500Z_ABCD.dump", ".lifetracker_lifetracker_20260105T031500Z_abcd.dump.partial-1",
         "lifetracker_lifetracker_20260105T031500Z_abcd.dump.json.tmp", "other_lifetracker_20260105T031500Z_abcd.dump"]
# WIRING.md, roles/db_restore/vars/main.yml
NEW_PATTERNS = {
    "__db_restore_manifest_re": "{{ 'backup_name' | maverick.rollback.rule(app=app_name, database=__db_restore_db, manifest=true) }}",
    "__db_restore_backup_re": "{{ 'backup_name' | maverick.rollback.rule(app=app_name, database=__db_restore_db) }}",
    "__db_restore_derived_re": "{{ 'derived_db' | maverick.rollback.rule(database=__db_restore_db) }}",
    "__db_restore_pre_restore_re": "{{ 'derived_db' | maverick.rollback.rule(database=__db_restore_db, kinds=['pre_restore']) }}",
    "__db_restore_db_pattern": "{{ 'db_name' | maverick.rollback.rule }}",
}
DB_NAMES = ["lifetracker", "lifetracker_restore_20260105031500", "lifetracker_pre_restore_20260105031500",
            "lifetracker_verify_20260105031500", "lifetracker_pre_restore_2026010503150", "lifetracker_test_restore_20260105031500",
            "lifetrackerXpre_restore_20260105031500", "1db", "db-1", "x" * 63, "x" * 64, "a b"]


@pytest.mark.parametrize("var", list(NEW_PATTERNS))
def test_db_restore_patterns(var):
    import re
    variables = dict(role_vars("db_restore"), __db_restore_db="lifetracker")
    old, replacement = render(variables[var], variables).strip(), new(NEW_PATTERNS[var], variables)
    for name in NAMES + DB_NAMES:
        assert bool(re.match(replacement, name)) is bool(re.match(old, name)), name


# ======================================================================= db_backup

# WIRING.md, roles/db_backup/vars/main.yml __db_backup_database
NEW_BACKUP_DATABASE = """{{ (__db_backup_dump.path | default('') | maverick.rollback.backup_fields).database
    | default(app_db_name | default('', true), true) }}"""


@pytest.mark.parametrize("dump,db_name", [
    ({"path": B + "/lifetracker_lifetracker_20260105T031500Z_abcdef123456.dump"}, ""),
    ({"path": B + "/life.tracker_my_db_20260105T031500Z_unknown-2.dump"}, "other"),
    ({}, "lifetracker"), ({}, ""), ({"path": ""}, "x"),
])
def test_db_backup_database(dump, db_name):
    variables = dict(role_vars("db_backup"), __db_backup_dump=dump, app_db_name=db_name)
    assert new(NEW_BACKUP_DATABASE, variables) == render(variables["__db_backup_database"], variables).strip()


# ======================================================================= migration_resolve

SQLS = ['ALTER TABLE "Entry" DROP COLUMN IF EXISTS "mood_note";\n', "BEGIN;\nDROP TABLE x;\nCOMMIT;\n",
        "DO $$\nBEGIN\n  ALTER TABLE x DROP COLUMN y;\nEND\n$$;\n", "-- only a comment\n", "   \n",
        "INSERT INTO log VALUES ('; COMMIT');\n", "drop table x; rollback;", "UPDATE x SET a = CASE WHEN b THEN 1\nEND;\n"]
# WIRING.md, roles/migration_resolve/tasks/revert_sql.yml "Refuse revert SQL that cannot run in one transaction"
NEW_SQL_OK = "{{ (__migration_resolve_revert_file.content | b64decode | maverick.rollback.sql_transaction_check).ok }}"


@pytest.mark.parametrize("sql", SQLS)
def test_migration_resolve_revert_sql_guard(sql):
    variables = dict(role_vars("migration_resolve"),
                     __migration_resolve_revert_file={"content": base64.b64encode(sql.encode()).decode()})
    found = task("migration_resolve", "revert_sql.yml", "Refuse revert SQL that cannot run in one transaction")
    variables.update(found["vars"])
    old = all(render(trusted("{{ %s }}" % that), variables) for that in found["ansible.builtin.assert"]["that"][1:])
    assert new(NEW_SQL_OK, variables) is old


def mrow(name, finished=True, rolled_back=False):
    return {"migration_name": name, "finished_at": "2026-01-01 00:00:00" if finished else None,
            "rolled_back_at": "2026-01-02 00:00:00" if rolled_back else None}


INIT, TAGS, MOOD = "20250101000000_init", "20250201000000_add_tags", "20250301000000_entry_mood_required"
TABLES = [
    [], [mrow(INIT), mrow(TAGS)], [mrow(INIT), mrow(TAGS), mrow(MOOD, finished=False)],
    [mrow(INIT), mrow(MOOD, finished=False, rolled_back=True), mrow(MOOD)],
    [mrow(INIT), mrow(TAGS), mrow("20261127120000_revert_add_tags", finished=False),
     mrow("20261128000000_revert_add_tags"), mrow("20261129000000_revert_add_tags", rolled_back=True)],
]
# WIRING.md, roles/migration_resolve/tasks/status.yml "Remember what the status says" (its vars)
NEW_STATES = "{{ __migration_resolve_read.migrations_table | default([]) | maverick.rollback.migration_states }}"
# WIRING.md, roles/migration_resolve/tasks/plan_revert.yml
NEW_STATE = "{{ __migration_resolve_rows | maverick.rollback.migration_states(__migration_resolve_name) }}"
NEW_APPLIED_REVERTS = "{{ __migration_resolve_name | maverick.rollback.revert_migration(rows=__migration_resolve_rows) }}"


@pytest.mark.parametrize("rows", TABLES, ids=["no-table", "applied", "failed", "rolled-back-then-applied", "reverts"])
@pytest.mark.parametrize("name", [INIT, TAGS, MOOD, "20990101000000_never"])
def test_migration_resolve_states(rows, name):
    variables = dict(role_vars("migration_resolve"), migration_resolve_migration=name, migration_resolve_action="",
                     __migration_resolve_status_read={"migrations_table": rows, "local_migrations": []},
                     __migration_resolve_rows=rows)
    status = task("migration_resolve", "status.yml", "Remember what the status says")
    status_vars = dict(variables, **status["vars"])
    states = new(NEW_STATES, status_vars)
    assert states["failed"] == render(status["vars"]["__migration_resolve_failed_read"], status_vars)
    assert sorted(states["applied"]) == sorted(render(status["vars"]["__migration_resolve_applied_read"], status_vars))

    judge = task("migration_resolve", "plan_revert.yml", "Judge the migration's state from _prisma_migrations")
    old = render(judge["ansible.builtin.set_fact"]["__migration_resolve_revert_state"], dict(variables, **judge["vars"]))
    assert new(NEW_STATE, variables) == old.strip()

    plan = task("migration_resolve", "plan_revert.yml", "Plan the revert")
    old_rows = render(plan["ansible.builtin.set_fact"]["__migration_resolve_revert_applied_rows"], variables)
    assert new(NEW_APPLIED_REVERTS, variables) == old_rows


# WIRING.md, roles/migration_resolve/tasks/plan_revert.yml "Name the revert migration"
NEW_REVERT_NAME = """{{ __migration_resolve_name | maverick.rollback.revert_migration(
    stamp=now(utc=true).strftime('%Y%m%d%H%M%S'), existing=__migration_resolve_reviews.files) }}"""


@pytest.mark.parametrize("files", [[], [{"path": "/r/%s/20261127120000_revert_add_tags" % TAGS},
                                        {"path": "/r/%s/20261130000000_revert_add_tags" % TAGS}]], ids=["new", "reviewed"])
def test_migration_resolve_revert_name(files):
    variables = dict(role_vars("migration_resolve"), migration_resolve_migration=TAGS,
                     __migration_resolve_reviews={"files": files})
    old = render(task("migration_resolve", "plan_revert.yml", "Name the revert migration")["ansible.builtin.set_fact"]
                 ["__migration_resolve_revert_name"], variables).strip()
    got = new(NEW_REVERT_NAME, variables)
    assert (got if files else got[14:]) == (old if files else old[14:])
    assert got[:14].isdigit() and old[:14].isdigit()


# ======================================================================= db_restore: outcome, history, lists

# WIRING.md, roles/db_restore/vars/main.yml __db_restore_outcome
NEW_OUTCOME = """{{ {'action': __db_restore_action, 'error': __db_restore_error, 'health': __db_restore_health,
    'swapped': __db_restore_swapped | default(false), 'swapped_back': __db_restore_swapped_back | default(false),
    'revert_error': __db_restore_revert_error, 'revert_health': __db_restore_revert_health}
   | maverick.rollback.restore_outcome }}"""
GOOD, SICK = {"healthy": True, "elapsed_s": 1.5}, {"healthy": False, "reason": "HTTP 500"}


@pytest.mark.parametrize("action", ["restore", "undo", "drop"])
@pytest.mark.parametrize("error,health,swapped,back,revert_error,revert_health", [
    ("", GOOD, True, False, "", {}), ("", SICK, True, True, "", GOOD), ("", SICK, True, True, "", SICK),
    ("", SICK, True, False, "", {}), ("boom", {}, False, False, "", {}), ("boom", {}, False, False, "", GOOD),
    ("boom", {}, False, False, "", SICK), ("boom", {}, False, False, "start failed", {}), ("boom", {}, True, True, "", GOOD),
    ("boom", {}, True, True, "x", GOOD), ("", {}, False, False, "", {}),
])
def test_db_restore_outcome(action, error, health, swapped, back, revert_error, revert_health):
    drop = "x" if action == "drop" else ""
    variables = dict(role_vars("db_restore"), db_restore_undo=action == "undo", db_restore_drop_databases=drop,
                     db_restore_backup="latest" if action == "restore" else "", __db_restore_error=error,
                     __db_restore_health=health, __db_restore_swapped=swapped, __db_restore_swapped_back=back,
                     __db_restore_revert_error=revert_error, __db_restore_revert_health=revert_health)
    assert new(NEW_OUTCOME, variables) == render(variables["__db_restore_outcome"], variables).strip()


R1 = {"action": "restore", "outcome": "restored", "database": "lifetracker", "pre_restore_database": "lifetracker_pre_restore_1",
      "backup_sha256": "s1", "database_oid": "16384", "safety_backup": "/s/1.dump"}
R2 = dict(R1, pre_restore_database="lifetracker_pre_restore_2", backup_sha256="s2", database_oid=16999)
U2 = {"action": "restore_undo", "outcome": "restored", "database": "lifetracker", "pre_restore_database": "lifetracker_pre_restore_2"}
LEDGERS = [[], [R1], [R1, R2], [R1, R2, U2], [R2, dict(R1, outcome="failed")], [dict(R2, database="other")],
           [R2, {"action": "deploy"}]]
# WIRING.md, roles/db_restore/vars/main.yml __db_restore_history (and __db_restore_last / _last_done from it)
NEW_HISTORY = """{{ __db_restore_ledger.records | default([]) | maverick.rollback.restore_history(__db_restore_db,
    sha256=(__db_restore_checked | default({})).sha256 | default(''), live_oid=(__db_restore_live or {}).oid | default('')) }}"""
# WIRING.md, roles/db_restore/tasks/undo_target.yml
NEW_UNDO_DB = "{{ db_restore_undo_database | default('', true) or __db_restore_history.undo_database }}"
NEW_UNDO_NOOP = "{{ db_restore_undo_database | default('', true) | length == 0 and __db_restore_history.undone }}"
# WIRING.md, roles/db_restore/tasks/verify.yml
NEW_REPEAT = "{{ not db_restore_force | bool and __db_restore_history.repeat }}"


@pytest.mark.parametrize("undo_database", ["", "lifetracker_pre_restore_9"])
@pytest.mark.parametrize("live", [None, {"datname": "lifetracker", "oid": "16999"}, {"datname": "lifetracker", "oid": "16384"}])
@pytest.mark.parametrize("sha", ["s1", "s2"])
@pytest.mark.parametrize("records", LEDGERS)
def test_db_restore_history(records, sha, live, undo_database):
    variables = dict(role_vars("db_restore"), __db_restore_db="lifetracker", __db_restore_ledger={"records": records},
                     __db_restore_dbinfo={"query_result": [live] if live else []}, __db_restore_checked={"sha256": sha},
                     db_restore_undo_database=undo_database, db_restore_force=False)
    old_facts = render(task("db_restore", "undo_target.yml", "Pick the database to put back")["ansible.builtin.set_fact"], variables)
    old_repeat = render(task("db_restore", "verify.yml", "Decide whether this restore was done already")
                        ["ansible.builtin.set_fact"]["__db_restore_noop"], variables)
    assert render(variables["__db_restore_last"], variables) == new(NEW_HISTORY, variables)["last"]
    assert render(variables["__db_restore_last_done"], variables) == new(NEW_HISTORY, variables)["last_done"]
    variables["__db_restore_history"] = new(NEW_HISTORY, variables)
    assert new(NEW_UNDO_DB, variables) == old_facts["__db_restore_undo_db"].strip()
    assert new(NEW_UNDO_NOOP, variables) is old_facts["__db_restore_noop"]
    assert new(NEW_REPEAT, variables) is old_repeat


# WIRING.md, roles/db_restore/vars/main.yml __db_restore_drop / __db_restore_services
@pytest.mark.parametrize("given", ["api", "api, worker,,api ", ["api", " web", "api", ""], "", None, []])
def test_db_restore_lists(given):
    variables = dict(role_vars("db_restore"), db_restore_drop_databases=given, app_db_clients=given)
    assert new("{{ db_restore_drop_databases | maverick.rollback.csv_list }}", variables) == \
        render(variables["__db_restore_drop"], variables)
    assert new("{{ app_db_clients | maverick.rollback.csv_list }}", variables) == \
        render(variables["__db_restore_services"], variables)


# ======================================================================= outcomes

# WIRING.md, roles/migration_resolve/vars/main.yml __migration_resolve_run, change.yml and record.yml
NEW_RESOLVE_RUN = """{{ {'action': __migration_resolve_action, 'migration': __migration_resolve_name,
    'stage': __migration_resolve_stage | default(''),
    'state_before': __migration_resolve_plan.migration_state | default(__migration_resolve_revert_state | default('')),
    'db_change': __migration_resolve_db_change | default(false), 'will_deploy': __migration_resolve_will_deploy | default(false),
    'health': __migration_resolve_health | default({}),
    'deployed': __migration_resolve_deployed.deployed_migrations | default([])} }}"""
NEW_RESOLVE_OUTCOME = "{{ (__migration_resolve_run | maverick.rollback.resolve_outcome).outcome }}"
NEW_RESOLVED_STATE = """{{ (__migration_resolve_run | combine({'failed': __migration_resolve_outcome == 'failed'})
    | maverick.rollback.resolve_outcome).resolved_state }}"""


@pytest.mark.parametrize("action", ["rolled_back", "applied", "reverted"])
@pytest.mark.parametrize("db_change,will_deploy", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("health", [None, {"healthy": True}, {"healthy": False}])
@pytest.mark.parametrize("deployed", [None, [MOOD]])
@pytest.mark.parametrize("failed_at", [None, "revert_sql", "deploy"])
def test_migration_resolve_outcome(action, db_change, will_deploy, health, deployed, failed_at):
    variables = dict(role_vars("migration_resolve"), __migration_resolve_run=trusted(NEW_RESOLVE_RUN),
                     migration_resolve_migration=MOOD, migration_resolve_action=action,
                     __migration_resolve_db_change=db_change, __migration_resolve_will_deploy=will_deploy,
                     __migration_resolve_plan={"migration_state": "failed"} if action != "reverted" else {},
                     __migration_resolve_revert_state="applied")
    if health is not None:
        variables["__migration_resolve_health"] = health
    if deployed is not None:
        variables["__migration_resolve_deployed"] = {"deployed_migrations": deployed}
    change = task("migration_resolve", "change.yml", "Change and record")
    if failed_at:
        variables.update(__migration_resolve_stage=failed_at, __migration_resolve_outcome="failed")
    else:
        (record,) = [t for t in change["block"] if t["name"] == "Record the run in the release ledger"]
        variables["__migration_resolve_outcome"] = render(record["vars"]["__migration_resolve_outcome"], variables).strip()
        assert new(NEW_RESOLVE_OUTCOME, variables) == variables["__migration_resolve_outcome"]
    (append,) = load(ROLES / "migration_resolve" / "tasks" / "record.yml")
    old_state = render(append["vars"]["__migration_resolve_resolved_state"], dict(variables, **append["vars"])).strip()
    assert new(NEW_RESOLVED_STATE, variables) == old_state


# ======================================================================= section 1: the rules in YAML

VALUES = ["b65522e1bab6", "v1.2.0", "release/2026-01", "main..HEAD", "../x", "-rf", ".x", "$(id)", "a b", "", "x" * 200,
          "x" * 201, "lifetracker", "life.tracker-2", "life_tracker", "1db", "_db", "x" * 63, "x" * 64, "abcd", "ABCDEF12", "abc",
          "20250301000000_entry_mood_required", "2025030100000_x", "20250301000000_a-b", "a/../b.sql", "a..b/x.sql",
          "packages/core/prisma/reverts/x.sql", "/etc/passwd", "./x.sql", "http://127.0.0.1:3000/health", "https://h", "ftp://h",
          "/var/backups/x.dump", "/x\x01y", "0", "5433", "-1", "api", "my_worker.2"]
# (role, old pattern variable or literal, old extra '..' check, rule kind)
YAML_RULES = [
    ("app_rollback", "__app_rollback_ref_pattern", "anywhere", "ref"),
    ("db_restore", "__db_restore_ref_pattern", "anywhere", "ref"),
    ("migration_resolve", "__migration_resolve_ref_pattern", "anywhere", "ref"),
    (None, "^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$", "anywhere", "ref"),  # deploy.yml, full_rollback.yml
    ("db_restore", "__db_restore_db_pattern", None, "db_name"),
    ("db_backup", "__db_backup_db_pattern", None, "db_name"),
    ("db_restore", "__db_restore_int_pattern", None, "int"),
    ("db_backup", "__db_backup_int_pattern", None, "int"),
    ("migration_resolve", "__migration_resolve_app_pattern", None, "app_name"),
    (None, "^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$", None, "app_name"),  # db_restore, db_backup validate.yml
    ("migration_resolve", "__migration_resolve_name_pattern", None, "migration_name"),
    ("migration_resolve", "__migration_resolve_path_pattern", "component", "repo_path"),
    (None, "^[A-Za-z0-9][A-Za-z0-9_.-]*$", None, "service_name"),  # db_restore validate.yml
]


@pytest.mark.parametrize("role,old,dots,kind", YAML_RULES, ids=["%s:%s" % (r[0], r[3]) for r in YAML_RULES])
def test_yaml_rules(role, old, dots, kind):
    import re
    pattern = role_vars(role)[old] if role else old
    replacement = new("{{ '%s' | maverick.rollback.rule }}" % kind, {})
    for value in VALUES:
        was = bool(re.match(pattern, value)) and not (
            (dots == "anywhere" and ".." in value) or (dots == "component" and ".." in value.split("/")))
        assert bool(re.match(replacement, value)) is was, value
