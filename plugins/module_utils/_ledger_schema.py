# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a release-ledger record must contain: one table, action -> required keys and
allowed outcomes. release_ledger refuses a record that does not fit, before writing.

Records carry more keys than these (images, health, durations...); only what readers
rely on is required. The common keys must be present and not empty; an action's own
keys must be present and not null (an empty value is allowed: a failed backup whose
database name came from the app's env file does not know it; readers of commits
already ignore empty ones).
Pure Python, so filters and tests read the same table.
"""

from __future__ import annotations

# Every record, whatever its action. `time` is added by release_ledger when missing.
COMMON_KEYS = ("action", "app", "outcome", "time")

# Keys the run protocol stamps on a record (release_ledger run_id=..., the roles' vars).
RUN_KEYS = ("run_id", "user", "awx_job_id")

_RESTORE_OUTCOMES = ("restored", "untouched", "reverted", "failed")

# action: (required keys besides COMMON_KEYS, allowed outcomes)  # written by
SCHEMA = {
    # Releases: they have a to_commit; "healthy" ones are what "previous" and image keeping read.
    "adopt": (("to_commit",), ("healthy", "unhealthy")),                                    # deploy.yml, first run
    "deploy": (("from_commit", "to_commit"), ("healthy", "reverted", "failed", "rolled_back")),  # app_rollback, deploy.yml
    "rollback": (("from_commit", "to_commit"), ("healthy", "reverted", "failed")),          # app_rollback
    "github_redeploy": (("requested", "to_commit"), ("healthy", "unhealthy", "deployed", "failed")),  # github_redeploy
    # Not releases: no to_commit required, never "healthy".
    "backup": (("database",), ("verified", "failed")),                                      # db_backup
    "restore": (("database",), _RESTORE_OUTCOMES),                                          # db_restore
    "restore_undo": (("database",), _RESTORE_OUTCOMES),                                     # db_restore
    "drop_databases": (("database",), ("dropped", "failed")),                               # db_restore
    "emergency_restart": (("mode",), ("recovered", "nothing_to_do", "unhealthy", "failed")),  # emergency_restart
    "migration_resolve": (("migration", "resolve_action"),                                  # migration_resolve
                          ("resolved", "deployed", "reverted", "written_for_review", "unhealthy", "failed")),
    # A run over a group of app servers, on the fleet's lock host (docs/fleet.md): the hosts, batches and
    # per-host outcomes (`fleet`); each switched host has its own release record too. Not a release itself.
    "fleet_rollback": (("to_commit", "fleet"), ("healthy", "reverted", "mixed", "failed")),  # quick_rollback.yml
    "fleet_deploy": (("to_commit", "fleet"), ("healthy", "reverted", "mixed", "failed")),    # deploy.yml
    "fleet_full_rollback": (("to_commit", "fleet"), ("healthy", "reverted", "failed")),       # full_rollback.yml
}

# Records about a run over several hosts: release readers (previous, kept images, list_releases) skip them,
# the hosts' own records say what ran where.
FLEET_ACTIONS = ("fleet_rollback", "fleet_deploy", "fleet_full_rollback")


def _missing(record, keys, empty_allowed=False):
    return [key for key in keys if record.get(key) is None or (record.get(key) == "" and not empty_allowed)]


def record_problems(record):
    """What is wrong with a record, as short phrases; [] when it fits the table."""
    if not isinstance(record, dict):
        return ["not a mapping"]
    action = record.get("action")
    if action in (None, ""):
        return ["missing required key(s) %s" % ", ".join(_missing(record, COMMON_KEYS))]
    if action not in SCHEMA:
        return ["unknown action %r (known: %s)" % (action, ", ".join(sorted(SCHEMA)))]
    required, outcomes = SCHEMA[action]
    problems = []
    missing = _missing(record, COMMON_KEYS) + _missing(record, required, empty_allowed=True)
    if missing:
        problems.append("missing required key(s) %s" % ", ".join(missing))
    outcome = record.get("outcome")
    if outcome not in (None, "") and outcome not in outcomes:
        problems.append("outcome %r is not one of %s" % (outcome, ", ".join(outcomes)))
    return problems


def invalid_record_message(record):
    """The refusal release_ledger fails with, or '' for a valid record."""
    problems = record_problems(record)
    if not problems:
        return ""
    action = record.get("action") if isinstance(record, dict) else None
    return "invalid ledger record%s: %s. Nothing was written to the ledger." % (
        " (action %r)" % action if action not in (None, "") else "", "; ".join(problems))
