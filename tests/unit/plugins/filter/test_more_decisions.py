"""restore_outcome, restore_history, csv_list, github_error, workflow_inputs."""

import pytest

from ansible_collections.maverick.rollback.plugins.filter.csv_list import csv_list
from ansible_collections.maverick.rollback.plugins.filter.github_error import github_error
from ansible_collections.maverick.rollback.plugins.filter.restore_history import restore_history
from ansible_collections.maverick.rollback.plugins.filter.restore_outcome import restore_outcome
from ansible_collections.maverick.rollback.plugins.filter.workflow_inputs import workflow_inputs

OK, BAD = {"healthy": True}, {"healthy": False, "reason": "HTTP 500"}
OUTCOME_CASES = [
    # (id, run state, outcome)
    ("drop worked", {"action": "drop", "error": ""}, "dropped"),
    ("drop failed", {"action": "drop", "error": "database is being accessed"}, "failed"),
    ("restored and healthy", {"action": "restore", "error": "", "health": OK, "swapped": True}, "restored"),
    ("undo restored", {"action": "undo", "error": "", "health": OK, "swapped": True}, "restored"),
    ("not gated here: the caller starts the app", {"action": "restore", "error": "", "health": {"healthy": True, "gated": False}},
     "restored"),
    ("scratch restore failed: nothing replaced",
     {"action": "restore", "error": "pg_restore failed", "health": {}, "swapped": False, "revert_error": "",
      "revert_health": {}}, "untouched"),
    ("stop failed, the app came back healthy",
     {"action": "restore", "error": "stop", "swapped": False, "revert_health": OK}, "untouched"),
    ("stop failed, the app did not come back",
     {"action": "restore", "error": "stop", "swapped": False, "revert_health": BAD}, "failed"),
    ("going back failed", {"action": "restore", "error": "stop", "swapped": False, "revert_error": "start failed"}, "failed"),
    ("gate failed, swapped back, healthy", {"action": "restore", "error": "", "health": BAD, "swapped": True,
                                            "swapped_back": True, "revert_health": OK}, "reverted"),
    ("gate failed, swapped back, still unhealthy", {"action": "restore", "error": "", "health": BAD, "swapped": True,
                                                    "swapped_back": True, "revert_health": BAD}, "failed"),
    ("gate failed, swap back not done", {"action": "restore", "error": "", "health": BAD, "swapped": True,
                                         "swapped_back": False, "revert_health": {}}, "failed"),
    ("flags as AWX strings", {"action": "restore", "error": "x", "swapped": "False", "revert_health": {"healthy": "true"}},
     "untouched"),
]


@pytest.mark.parametrize("run,expected", [c[1:] for c in OUTCOME_CASES], ids=[c[0] for c in OUTCOME_CASES])
def test_restore_outcome(run, expected):
    assert restore_outcome(run) == expected


def rec(action, outcome="restored", db="lifetracker", **kw):
    return dict({"action": action, "outcome": outcome, "database": db}, **kw)


R1 = rec("restore", pre_restore_database="lifetracker_pre_restore_1", backup_sha256="s1", database_oid="16384")
R2 = rec("restore", pre_restore_database="lifetracker_pre_restore_2", backup_sha256="s2", database_oid=16999)
U2 = rec("restore_undo", pre_restore_database="lifetracker_pre_restore_2")
HISTORY_CASES = [
    # (id, records, kwargs, expected subset)
    ("empty ledger", [], {}, {"last": None, "last_done": None, "undo_database": "", "undone": False, "repeat": False}),
    ("undo puts back the newest restore's pre-restore database", [R1, R2], {},
     {"last": R2, "last_done": R2, "undo_database": "lifetracker_pre_restore_2", "undone": False}),
    ("a failed restore after it does not count for undo", [R1, rec("restore", "failed")], {},
     {"last_done": R1, "undo_database": "lifetracker_pre_restore_1"}),
    ("undone already", [R1, R2, U2], {}, {"last_done": U2, "undo_database": "", "undone": True}),
    ("other databases, other actions and records without a database do not count",
     [R1, rec("restore", db="other"), {"action": "deploy", "outcome": "restored"}, {"action": "restore"}], {},
     {"last": R1, "last_done": R1}),
    ("same backup, same live database: a repeat", [R1, R2], {"sha256": "s2", "live_oid": "16999"}, {"repeat": True}),
    ("another backup: no repeat", [R1, R2], {"sha256": "s1", "live_oid": "16384"}, {"repeat": False}),
    ("the live database changed since: no repeat", [R2], {"sha256": "s2", "live_oid": "17000"}, {"repeat": False}),
    ("no live database: no repeat", [R2], {"sha256": "s2", "live_oid": ""}, {"repeat": False}),
    ("the newest restore failed: no repeat", [R2, rec("restore", "failed", backup_sha256="s2", database_oid=16999)],
     {"sha256": "s2", "live_oid": 16999}, {"repeat": False}),
    ("after an undo: no repeat", [R2, U2], {"sha256": "s2", "live_oid": 16999}, {"repeat": False}),
]


@pytest.mark.parametrize("records,kwargs,expected", [c[1:] for c in HISTORY_CASES], ids=[c[0] for c in HISTORY_CASES])
def test_restore_history(records, kwargs, expected):
    got = restore_history(records, "lifetracker", **kwargs)
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize("given,expected", [
    ("api", ["api"]), ("api, worker,,api ", ["api", "worker"]), (["api", " web", "api", ""], ["api", "web"]),
    ("", []), (None, []), ([], []), (["x", None], ["x", "None"]),
])
def test_csv_list(given, expected):
    assert csv_list(given) == expected


WHAT = "read the repository maverickapplications/lifetracker"
ERROR_CASES = [
    ("no answer", {"status": -1, "msg": "Connection refused"},
     "cannot reach https://api.github.com to %s: Connection refused" % WHAT),
    ("no status at all", {}, "cannot reach https://api.github.com to %s: no answer" % WHAT),
    ("401", {"status": 401, "json": {"message": "Bad credentials"}},
     "GitHub rejected the token when asked to %s (401: Bad credentials): it is wrong, expired or revoked; set a valid one "
     "in GITHUB_TOKEN or github_redeploy_token (AWX credential)" % WHAT),
    ("403", {"status": 403, "json": {"message": "Resource not accessible by personal access token"}},
     "GitHub refused to %s (403: Resource not accessible by personal access token): the token lacks a permission "
     "(fine-grained: Actions read and write, Contents read; classic: repo and workflow scopes), the workflow is disabled, "
     "or the rate limit is used up" % WHAT),
    ("404 without a message", {"status": 404, "json": None},
     "GitHub found nothing when asked to %s (404): it does not exist, or the token cannot see the repository" % WHAT),
    ("422", {"status": 422, "json": {"message": 'Unexpected inputs provided: ["bogus"]'}},
     'GitHub refused to %s as invalid (422: Unexpected inputs provided: ["bogus"])' % WHAT),
    ("500 as text", {"status": "500", "json": "oops"}, "GitHub answered HTTP 500 when asked to %s" % WHAT),
]


@pytest.mark.parametrize("result,expected", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_github_error(result, expected):
    assert github_error(result, WHAT) == expected


@pytest.mark.parametrize("given,expected", [
    ({"reason": "rollback", "force": True, "n": 3}, {"reason": "rollback", "force": "true", "n": "3"}),
    ('{"bogus": "x", "dry": false}', {"bogus": "x", "dry": "false"}),
    ("  ", {}), ({}, {}),
    ("reason=x", None), ('{"broken": ', None), (["a"], None), ('["a"]', None),
])
def test_workflow_inputs(given, expected):
    assert workflow_inputs(given) == expected


from ansible_collections.maverick.rollback.plugins.filter.resolve_outcome import resolve_outcome  # noqa: E402
from ansible_collections.maverick.rollback.plugins.filter.restart_outcome import restart_outcome  # noqa: E402

STEP = [{"service": "api", "op": "restarted", "why": "x"}]
RESTART_OUTCOMES = [
    ("restarted and healthy", {"mode": "auto", "steps": STEP}, {"healthy": True}, False, "recovered"),
    ("full and healthy", {"mode": "full", "steps": []}, {"healthy": True}, False, "recovered"),
    ("nothing needed", {"mode": "auto", "steps": []}, {"healthy": True}, False, "nothing_to_do"),
    ("gate failed", {"mode": "auto", "steps": STEP}, {"healthy": False}, False, "unhealthy"),
    ("not gated", {"mode": "auto", "steps": STEP}, {}, False, "unhealthy"),
    ("a task failed", {"mode": "auto", "steps": STEP}, {"healthy": True}, True, "failed"),
    ("failed before the plan", None, None, True, "failed"),
]


@pytest.mark.parametrize("plan,health,failed,expected", [c[1:] for c in RESTART_OUTCOMES], ids=[c[0] for c in RESTART_OUTCOMES])
def test_restart_outcome(plan, health, failed, expected):
    assert restart_outcome(plan, health, failed) == expected


MOOD = "20250301000000_entry_mood_required"
RESOLVE_OUTCOMES = [
    # (id, run, outcome, resolved_state)
    ("resolved", {"action": "rolled_back", "migration": MOOD}, "resolved", "rolled_back"),
    ("resolved and deployed again", {"action": "rolled_back", "migration": MOOD, "will_deploy": True, "db_change": True,
                                     "health": {"healthy": True}, "deployed": [MOOD]}, "deployed", "applied"),
    ("deployed, gate failed", {"action": "applied", "migration": MOOD, "will_deploy": True, "health": {"healthy": False},
                               "deployed": ["20250401000000_other"]}, "unhealthy", "applied"),
    ("revert written for review", {"action": "reverted", "migration": MOOD, "db_change": False}, "written_for_review",
     "revert_written"),
    ("revert applied", {"action": "reverted", "migration": MOOD, "db_change": True, "health": {"healthy": True}},
     "reverted", "reverted"),
    ("failed at the revert SQL: state unchanged", {"action": "rolled_back", "migration": MOOD, "failed": True,
                                                   "stage": "revert_sql", "state_before": "failed"}, "failed", "failed"),
    ("failed at the deploy: resolved already", {"action": "rolled_back", "migration": MOOD, "failed": True, "stage": "deploy",
                                                "state_before": "failed"}, "failed", "rolled_back"),
    ("failed applying a revert", {"action": "reverted", "migration": MOOD, "failed": True, "stage": "apply_revert",
                                  "state_before": "applied", "db_change": True}, "failed", "applied"),
]


@pytest.mark.parametrize("run,outcome,state", [c[1:] for c in RESOLVE_OUTCOMES], ids=[c[0] for c in RESOLVE_OUTCOMES])
def test_resolve_outcome(run, outcome, state):
    assert resolve_outcome(run) == {"outcome": outcome, "resolved_state": state}
