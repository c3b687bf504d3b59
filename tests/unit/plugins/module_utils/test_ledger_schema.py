"""The ledger record schema: one table, action -> required keys and allowed outcomes."""

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils._ledger_schema import (
    SCHEMA, invalid_record_message, record_problems)

SHA_A, SHA_B = "a" * 40, "b" * 40
BASE = {"app": "lifetracker", "time": "2026-12-05T03:00:00Z"}

# One valid record per action, as the roles build them today (trimmed to what matters).
VALID = {
    "adopt": {"to_commit": SHA_A, "outcome": "healthy"},
    "deploy": {"from_commit": SHA_A, "to_commit": SHA_B, "outcome": "rolled_back"},
    "rollback": {"from_commit": SHA_B, "to_commit": SHA_A, "outcome": "reverted"},
    "github_redeploy": {"requested": "main", "from_commit": "", "to_commit": SHA_A, "outcome": "deployed"},
    "backup": {"database": "lifetracker", "outcome": "verified", "path": "/b/x.dump"},
    "restore": {"database": "lifetracker", "outcome": "untouched"},
    "restore_undo": {"database": "lifetracker", "outcome": "restored"},
    "drop_databases": {"database": "lifetracker", "outcome": "dropped", "dropped": ["x_pre_restore_1"]},
    "emergency_restart": {"mode": "auto", "outcome": "nothing_to_do"},
    "migration_resolve": {"migration": "20250101000000_init", "resolve_action": "rolled_back", "outcome": "resolved",
                          "backup_path": None},
    "fleet_rollback": {"to_commit": SHA_A, "outcome": "reverted", "requested": "v1",
                       "fleet": {"hosts": {"app-1": {"outcome": "put_back"}, "app-2": {"outcome": "reverted"}},
                                 "batches": [["app-1"], ["app-2"]]}},
    "fleet_deploy": {"to_commit": SHA_A, "outcome": "healthy", "requested": "v2",
                     "fleet": {"hosts": {"app-1": {"outcome": "healthy"}}, "batches": [["app-1"]],
                               "database": {"backup": "/b/x.dump", "migrations": ["20250201000000_add_tags"]}}},
    "fleet_full_rollback": {"to_commit": SHA_A, "outcome": "reverted", "requested": "v1",
                            "fleet": {"hosts": {"app-1": {"outcome": "put_back"}, "app-2": {"outcome": "restarted"}},
                                      "database": {"kind": "full_rollback", "touched": True, "restored": True}}},
}

CASES = [
    # (id, action, change to the valid record (None = delete the key), expected problems)
    ("adopt-no-to-commit", "adopt", {"to_commit": None}, ["missing required key(s) to_commit"]),
    ("rollback-no-from", "rollback", {"from_commit": None}, ["missing required key(s) from_commit"]),
    ("backup-failed-database-unknown", "backup", {"database": "", "outcome": "failed"}, []),  # db_backup today
    ("empty-app", "backup", {"app": ""}, ["missing required key(s) app"]),
    ("rollback-deployed-is-no-rollback-outcome", "rollback", {"outcome": "rolled_back"},
     ["outcome 'rolled_back' is not one of healthy, reverted, failed"]),
    ("deploy-no-commits", "deploy", {"from_commit": None, "to_commit": None},
     ["missing required key(s) from_commit, to_commit"]),
    ("backup-healthy-is-not-a-backup-outcome", "backup", {"outcome": "healthy"},
     ["outcome 'healthy' is not one of verified, failed"]),
    ("backup-no-app-no-database", "backup", {"app": None, "database": None},
     ["missing required key(s) app, database"]),
    ("fleet-no-fleet", "fleet_rollback", {"fleet": None}, ["missing required key(s) fleet"]),
    ("fleet-mixed", "fleet_rollback", {"outcome": "mixed"}, []),
    ("restore-no-outcome", "restore", {"outcome": None}, ["missing required key(s) outcome"]),
    ("drop-both-wrong", "drop_databases", {"database": None, "outcome": "restored"},
     ["missing required key(s) database", "outcome 'restored' is not one of dropped, failed"]),
    ("emergency-no-mode", "emergency_restart", {"mode": None}, ["missing required key(s) mode"]),
    ("migration-no-name", "migration_resolve", {"migration": None}, ["missing required key(s) migration"]),
    ("github-no-time", "github_redeploy", {"time": None}, ["missing required key(s) time"]),
    ("unknown-action", "restart", {}, ["unknown action 'restart' (known: %s)" % ", ".join(sorted(SCHEMA))]),
    ("no-action", None, {}, ["missing required key(s) action"]),
]


def build(action, change):
    record = dict(BASE, action=action, **VALID.get(action, {"outcome": "healthy"}))
    for key, value in change.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    if action is None:
        record.pop("action")
    return record


def test_every_action_has_a_valid_example():
    assert sorted(VALID) == sorted(SCHEMA)


@pytest.mark.parametrize("action", sorted(VALID))
def test_the_records_the_roles_build_are_valid(action):
    assert record_problems(build(action, {})) == []
    assert invalid_record_message(build(action, {})) == ""


@pytest.mark.parametrize("action,change,problems", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_records(action, change, problems):
    assert record_problems(build(action, change)) == problems


def test_message_names_action_and_problems_and_that_nothing_was_written():
    message = invalid_record_message(build("backup", {"database": None, "outcome": "ok"}))
    assert message == ("invalid ledger record (action 'backup'): missing required key(s) database; "
                       "outcome 'ok' is not one of verified, failed. Nothing was written to the ledger.")


def test_no_release_outcome_healthy_outside_releases():
    """'healthy' is what "last healthy release" reads: only records with a to_commit may say it."""
    for action, (required, outcomes) in SCHEMA.items():
        if "healthy" in outcomes:
            assert "to_commit" in required, action
