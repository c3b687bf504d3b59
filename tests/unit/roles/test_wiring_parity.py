"""Parity of tests/unit/roles/WIRING.md: the Jinja the roles run today and the filter expressions that
replace it give the same results, rendered by Ansible's own templar.

Delete this file together with WIRING.md once the roles are wired: the old Jinja it
reads from roles/ is gone then, and the filters keep their own tables of cases.
"""

from __future__ import annotations

import base64
import json
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


# ======================================================================= emergency_restart

URL = "http://127.0.0.1:3000/health"
MEMINFO = "MemTotal:        4030000 kB\nMemAvailable:     153600 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n"
DF = "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 10000000 9500000 524288 95% /\n"


def ps(*containers, rc=0):
    stdout = "\n".join(json.dumps(c) for c in containers)
    return {"rc": rc, "stdout": stdout, "stdout_lines": stdout.splitlines(), "stderr_lines": [] if rc == 0 else ["boom"]}


def box(service, state="running", status="Up 2 hours", health=""):
    return {"Service": service, "Name": "lt-%s-1" % service, "State": state, "Health": health, "Status": status,
            "ExitCode": 0, "ID": "id-" + service}


FINE = [box("postgres"), box("api"), box("web")]
HEALTHY = {"status": 200, "url": URL, "json": {"commit": "b65522e1bab6", "database": "ok"}}
SCENARIOS = {
    "healthy": dict(ps=ps(*FINE)),
    "api exited, web gone": dict(ps=ps(box("postgres"), box("api", "exited", "Exited (1) 5 seconds ago"))),
    "database killed": dict(ps=ps(box("postgres", "exited", "Exited (137) 2 seconds ago"), box("api"), box("web")),
                            pg={"skipped": True},
                            health={"status": 503, "url": URL, "json": {"commit": "b65522e1bab6", "database": "unreachable"}}),
    "database refuses": dict(pg={"rc": 2, "stdout": "127.0.0.1:5432 - no response", "stderr": ""}),
    "database unhealthy": dict(ps=ps(box("postgres", health="unhealthy", status="Up (unhealthy)"), box("api"), box("web"))),
    "web probe fails": dict(web={"status": 502, "url": "http://127.0.0.1:8080/"}, web_url="http://127.0.0.1:8080/"),
    "compose fails": dict(ps=ps(rc=1), pg={"skipped": True}, health={"status": -1, "url": URL, "msg": "Connection refused"}),
    "other commit, full disk": dict(head={"rc": 0, "stdout": "425da83ab2e6" + "0" * 28}),
    "extra services": dict(ps=ps(*FINE, box("worker", "exited", "Exited (2)")),
                           services={"rc": 0, "stdout_lines": ["postgres", "api", "cron", "worker", "web"]}),
}


def emergency_vars(scenario, mode="auto"):
    s = SCENARIOS[scenario]
    variables = role_vars("emergency_restart")
    variables.update({
        "__emergency_restart_mode": mode,
        "__emergency_restart_head": s.get("head", {"rc": 0, "stdout": "b65522e1bab699cd5a9a58211cf8067bb51b2527"}),
        "__emergency_restart_services_raw": s.get("services", {"rc": 0, "stdout_lines": ["postgres", "api", "web"]}),
        "__emergency_restart_ps_raw": s.get("ps", ps(*FINE)),
        "__emergency_restart_pg_probe": s.get("pg", {"rc": 0, "stdout": "127.0.0.1:5432 - accepting connections", "stderr": ""}),
        "__emergency_restart_health_probe": s.get("health", HEALTHY),
        "__emergency_restart_web_probe": s.get("web", {"changed": False, "skipped": True}),
        "emergency_restart_web_url": s.get("web_url", ""),
        "__emergency_restart_df": {"rc": 0, "stdout": DF, "stdout_lines": DF.splitlines()},
        "__emergency_restart_meminfo": {"content": base64.b64encode(MEMINFO.encode()).decode()},
    })
    return variables


# WIRING.md, roles/emergency_restart/tasks/diagnose.yml "Judge what the diagnosis found"
NEW_DIAG = """{{ {'head': __emergency_restart_head, 'services': __emergency_restart_services_raw,
    'ps': __emergency_restart_ps_raw, 'pg': __emergency_restart_pg_probe, 'health': __emergency_restart_health_probe,
    'web': __emergency_restart_web_probe, 'df': __emergency_restart_df, 'meminfo': __emergency_restart_meminfo}
   | maverick.rollback.restart_diagnosis(app_db_service, [app_health_service],
       health_service=app_health_service, web_service=emergency_restart_web_service) }}"""
# WIRING.md, roles/emergency_restart/tasks/plan.yml "Decide what to restart, and why"
NEW_PLAN = """{{ __emergency_restart_diag | maverick.rollback.restart_plan(__emergency_restart_mode,
    app_db_service, [app_health_service], emergency_restart_disk_warn_percent | int) }}"""


def old_set_fact(role, tasks_file, name, variables, fact):
    found = task(role, tasks_file, name)
    return render(found["ansible.builtin.set_fact"][fact], dict(variables, **found.get("vars", {})))


@pytest.mark.parametrize("mode", ["auto", "full"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_emergency_restart_diagnosis_and_plan(scenario, mode):
    variables = emergency_vars(scenario, mode)
    old_diag = old_set_fact("emergency_restart", "diagnose.yml", "Judge what the diagnosis found", variables,
                            "__emergency_restart_diag")
    new_diag = new(NEW_DIAG, variables)
    assert {k: v for k, v in new_diag.items() if k not in ("probes", "health_service")} == old_diag

    variables["__emergency_restart_diag"] = old_diag
    old_plan = old_set_fact("emergency_restart", "plan.yml", "Decide what to restart, and why", variables,
                            "__emergency_restart_plan")
    variables["__emergency_restart_diag"] = new_diag
    new_plan = new(NEW_PLAN, variables)
    assert {k: new_plan[k] for k in old_plan} == old_plan
    # restart.yml's selectattr chains, now plan fields
    assert new_plan["restart"] == [s["service"] for s in old_plan["steps"][int(old_plan["db_restart"]):] if s["op"] == "restarted"]
    assert new_plan["start"] == [s["service"] for s in old_plan["steps"] if s["op"] == "present" and s["service"] != "postgres"]


# WIRING.md, roles/emergency_restart/tasks/restart.yml "Remember what was done"
NEW_DONE = """{{ __emergency_restart_plan | maverick.rollback.restart_done(__emergency_restart_pg_ready | default(true),
    __emergency_restart_waited | default([])) }}"""


@pytest.mark.parametrize("ready", [None, True, False])
@pytest.mark.parametrize("scenario", ["healthy", "database killed", "database refuses", "api exited, web gone"])
def test_emergency_restart_done(scenario, ready):
    variables = emergency_vars(scenario)
    variables["__emergency_restart_diag"] = new(NEW_DIAG, variables)
    variables["__emergency_restart_plan"] = new(NEW_PLAN, variables)
    if ready is not None:
        variables["__emergency_restart_pg_ready"] = ready
        variables["__emergency_restart_waited"] = ["database %sready after 3.0 s" % ("" if ready else "NOT ")]
    old = old_set_fact("emergency_restart", "restart.yml", "Remember what was done", variables, "__emergency_restart_done")
    assert new(NEW_DONE, variables) == old


ENV = ("POSTGRES_USER=lifetracker\nPOSTGRES_PASSWORD=sandbox-only-pw-7Qm2\nexport API_TOKEN=tok-7f3a9c1e\n"
       "STRIPE_SECRET_KEY=\"sk_live_quoted\"\nsession_key='single-quoted-key'\n"
       "DATABASE_URL=postgresql://lifetracker:url-pw-55Xq@postgres:5432/lifetracker\n# POSTGRES_PASSWORD=old-pw\n"
       "  # db_password = spaced value \nA_TOKEN=abcd1234\nB_TOKEN=abcd1234-longer\nFEATURE_KEY=on\n")
TEXTS = ['"GET /health?leak=sandbox-only-pw-7Qm2 HTTP/1.1" 200', "postgresql://u:pw-xyz@h/db and tok-7f3a9c1e",
         "abcd1234-longer abcd1234", "redis://:other-pw@cache:6379", "nothing: https://example.com/a@b", ENV]
# WIRING.md, roles/emergency_restart/vars/main.yml
NEW_SECRETS = "{{ __emergency_restart_env_text | maverick.rollback.env_secrets(emergency_restart_secret_key_pattern) }}"
NEW_MASKED = "{{ __emergency_restart_unmasked | maverick.rollback.mask(__emergency_restart_secrets | default([])) }}"
NEW_ENV_MASKED = """{{ __emergency_restart_env_text | default('') | maverick.rollback.mask_env(emergency_restart_secret_key_pattern,
    missing='(no env file at ' ~ __emergency_restart_env_path ~ ')') }}"""


@pytest.mark.parametrize("env", [ENV, ""], ids=["env", "no-env"])
def test_emergency_restart_masking(env):
    variables = dict(role_vars("emergency_restart"), __emergency_restart_env_text=env,
                     __emergency_restart_env_path="/opt/lifetracker/.env")
    old_secrets = render(variables["__emergency_restart_secret_values"], variables)
    assert new(NEW_SECRETS, variables) == old_secrets
    assert new(NEW_ENV_MASKED, variables) == render(variables["__emergency_restart_env_masked"], variables)
    for text in TEXTS:
        masked = dict(variables, __emergency_restart_unmasked=text, __emergency_restart_secrets=old_secrets)
        old = render(variables["__emergency_restart_masked"], masked)
        if not old_secrets and text == ENV:  # the one rule also masks password=/PASSWORD= values: a superset
            old = old.replace("PASSWORD=sandbox-only-pw-7Qm2", "PASSWORD=********").replace("PASSWORD=old-pw", "PASSWORD=********")
            old = old.replace("password = spaced value ", "password = ******** value ")
        assert new(NEW_MASKED, masked) == old, text


def test_emergency_restart_compose_ps():
    variables = emergency_vars("api exited, web gone")
    assert new("{{ __emergency_restart_ps_raw | maverick.rollback.compose_ps }}", variables) == \
        render(variables["__emergency_restart_ps"], variables)


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


# ======================================================================= github_redeploy

WHAT = "read the repository maverickapplications/lifetracker"
# WIRING.md, roles/github_redeploy/vars/main.yml __github_redeploy_error
NEW_GITHUB_ERROR = """{{ __github_redeploy_resp | maverick.rollback.github_error(__github_redeploy_what,
    api=__github_redeploy_api, token_env=github_redeploy_token_env) }}"""


@pytest.mark.parametrize("resp", [
    {"status": -1, "msg": "Connection refused"}, {"msg": "timed out"}, {"status": 401, "json": {"message": "Bad credentials"}},
    {"status": 403, "json": {"message": "Resource not accessible by personal access token"}}, {"status": 404, "json": {}},
    {"status": 422, "json": {"message": 'Unexpected inputs provided: ["bogus"]'}}, {"status": 500, "json": None},
    {"status": 502, "json": {"message": "  Bad gateway "}},
])
def test_github_error(resp):
    variables = dict(role_vars("github_redeploy"), __github_redeploy_resp=resp, __github_redeploy_what=WHAT)
    if "json" not in resp:  # the old Jinja fails on an answer without a body (no connection): fixed
        with pytest.raises(Exception, match="no attribute 'json'"):
            render(variables["__github_redeploy_error"], variables)
        assert new(NEW_GITHUB_ERROR, variables).startswith("cannot reach https://api.github.com to " + WHAT + ": ")
        return
    assert new(NEW_GITHUB_ERROR, variables) == render(variables["__github_redeploy_error"], variables).strip()


# WIRING.md, roles/github_redeploy/vars/main.yml __github_redeploy_inputs_given / __github_redeploy_inputs
NEW_INPUTS = "{{ github_redeploy_inputs | maverick.rollback.workflow_inputs }}"


@pytest.mark.parametrize("given", [{}, "", "  ", {"reason": "x", "force": True, "n": 3}, '{"bogus": "x", "dry": false}',
                                   ["a"]])
def test_github_inputs(given):
    variables = dict(role_vars("github_redeploy"), github_redeploy_inputs=given)
    old_given = render(variables["__github_redeploy_inputs_given"], variables)
    got = new(NEW_INPUTS, variables)
    if not isinstance(old_given, dict):
        assert got is None  # refused by validate.yml either way
    else:
        assert got == render(variables["__github_redeploy_inputs"], variables)


# ======================================================================= outcomes

# WIRING.md, roles/emergency_restart/vars/main.yml __emergency_restart_outcome
NEW_RESTART_OUTCOME = """{{ __emergency_restart_plan | default({}) | maverick.rollback.restart_outcome(
    __emergency_restart_health | default({}), failed=__emergency_restart_error is defined) }}"""


@pytest.mark.parametrize("plan", [{"mode": "auto", "steps": []}, {"mode": "auto", "steps": [{"service": "api"}]},
                                  {"mode": "full", "steps": []}])
@pytest.mark.parametrize("health", [None, {"healthy": True}, {"healthy": False}])
@pytest.mark.parametrize("error", [None, "boom"])
def test_emergency_restart_outcome(plan, health, error):
    variables = dict(role_vars("emergency_restart"), __emergency_restart_plan=plan)
    if health is not None:
        variables["__emergency_restart_health"] = health
    if error is not None:
        variables["__emergency_restart_error"] = error
    assert new(NEW_RESTART_OUTCOME, variables) == render(variables["__emergency_restart_outcome"], variables).strip()


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
    ("github_redeploy", "__github_redeploy_ref_pattern", "anywhere", "ref"),
    ("migration_rehearsal", "__migration_rehearsal_ref_pattern", "anywhere", "ref"),
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
    (None, "^https?://[^/\\s]+", None, "url"),
    (None, "^/[^\\x00-\\x1f]*$", None, "abs_path"),  # migration_rehearsal main.yml
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
