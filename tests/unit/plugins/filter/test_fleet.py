"""fleet_plan, fleet_progress, fleet_outcome: a rollback over a group of app servers, one table of cases."""

from pathlib import Path

import pytest
import yaml

from ansible_collections.maverick.rollback.plugins.filter.fleet_outcome import fleet_outcome
from ansible_collections.maverick.rollback.plugins.filter.fleet_plan import fleet_plan
from ansible_collections.maverick.rollback.plugins.filter.fleet_progress import fleet_progress

TABLE = yaml.safe_load((Path(__file__).parent / "tables" / "fleet.yml").read_text())


def ids(cases):
    return [c["id"] for c in cases]


@pytest.mark.parametrize("case", TABLE["plan"], ids=ids(TABLE["plan"]))
def test_fleet_plan(case):
    result = fleet_plan(iter(case["hosts"]), requested=case["requested"], names=case.get("names"),
                        action=case.get("action", "rollback"))
    assert {key: result[key] for key in case["expect"]} == case["expect"]
    if not result["refuse"]:
        assert len(result["lines"]) == 1 + len(case["hosts"])


@pytest.mark.parametrize("case", TABLE["progress"], ids=ids(TABLE["progress"]))
def test_fleet_progress(case):
    assert fleet_progress(case["hosts"], case.get("max_fail_percentage", 0)) == case["expect"]


@pytest.mark.parametrize("case", TABLE["outcome"], ids=ids(TABLE["outcome"]))
def test_fleet_outcome(case):
    result = fleet_outcome(case["hosts"], target="A" * 40, allow_mixed=case.get("allow_mixed", False),
                           database=case.get("database"), action=case.get("action", "rollback"))
    assert {key: result[key] for key in case["expect"]} == case["expect"]
    hosts = [h["host"] for h in case["hosts"]]
    assert [line.split()[0] for line in result["lines"][:len(hosts)]] == hosts
    database_lines = result["lines"][len(hosts):]
    assert all(line.startswith("database: ") for line in database_lines)
    assert bool(database_lines) == bool(case.get("database"))


def test_fleet_outcome_database_lines_say_what_happened_to_the_database():
    hosts = [{"host": "a", "batch": 1, "outcome": "put_back"}, {"host": "b", "batch": 2, "outcome": "reverted"}]
    lines = fleet_outcome(hosts, database={"touched": True, "backup": "/b/pre.dump", "migrations": ["m2", "m3"],
                                           "restored": True, "kept_as": "db_pre_restore_9"})["lines"][2:]
    assert lines == ["database: pre-deploy backup /b/pre.dump", "database: migrations applied once: m2, m3",
                     "database: RESTORED from the pre-deploy backup (the failed release's database is kept as "
                     "db_pre_restore_9)"]
    lines = fleet_outcome(hosts, database={"touched": True, "backup": "/b/pre.dump", "restore_error": "disk full"})
    assert lines["lines"][-1] == ("database: NOT restored: disk full - restore it: playbooks/db_restore.yml "
                                  "-e db_restore_backup=/b/pre.dump -e db_restore_confirm=yes")
    stopped = fleet_outcome([{"host": "a"}], database={"error": "failed on the copy", "stage": "rehearsal"})["lines"]
    assert stopped[1:] == ["database: the deploy stopped at the rehearsal step, before any host switched: failed on "
                           "the copy", "database: not changed; no host was touched"]


def test_fleet_outcome_full_rollback_lines_and_the_outcome_after_going_back():
    hosts = [{"host": "a", "batch": 1, "outcome": "put_back"}, {"host": "b", "batch": 2, "outcome": "reverted"},
             {"host": "c", "batch": 0, "outcome": "restarted"}]
    result = fleet_outcome(hosts, database={"kind": "full_rollback", "touched": True, "backup": "/b/pre.dump",
                                            "kept_as": "db_pre_restore_9", "restored": True})
    assert result["lines"][3:] == [
        "database: restored once from /b/pre.dump (the replaced database is kept as db_pre_restore_9)",
        "database: PUT BACK: the previous database is live again (the one restored from the backup is kept as "
        "<db>_restore_<ts>)"]
    assert result["lines"][2].endswith("not switched (the run stopped before it); its app started again on its release")
    failed = fleet_outcome(hosts[:1], database={"kind": "full_rollback", "touched": True, "kept_as": "db_pre_restore_9",
                                                "backup": "/b/pre.dump", "restore_error": "disk full"})["lines"][-2:]
    assert failed[0] == ("database: LIVE is still the one restored from /b/pre.dump (the target's schema), under the "
                         "releases the hosts run (above); the previous database is kept as db_pre_restore_9")
    assert failed[1] == ("database: NOT put back: disk full - put it back: playbooks/db_restore.yml -e db_restore_undo=true "
                         "-e db_restore_undo_database=db_pre_restore_9 -e db_restore_confirm=yes")
    back = fleet_outcome(hosts)["back_outcome"]
    assert [back[before][0] for before in ("", "healthy", "reverted", "failed")] == [
        "restarted", "put_back", "reverted", "reverted"]
    assert {back[before][1] for before in back} == {"failed"}


UNDO_CMD = ("ansible-playbook playbooks/db_restore.yml -e db_restore_undo=true -e db_restore_undo_database=db_pre_9 "
            "-e db_restore_confirm=yes")
RESTORE_CMD = "ansible-playbook playbooks/db_restore.yml -e db_restore_backup=/b/pre.dump -e db_restore_confirm=yes"
NEXT_CASES = [
    # (hosts' outcomes, database, the next: line)
    (["healthy", "healthy"], None, "next: watch /health and the logs on every host"),
    (["put_back", "reverted"], None,
     "next: fix AAAAAAAAAAAA on b (each host's summary and logs above) or pick another target (playbooks/list_releases.yml)"),
    (["put_back", "reverted"], {"touched": True, "backup": "/b/pre.dump", "restored": True},
     "next: fix AAAAAAAAAAAA on b (each host's summary and logs above) or pick another target (playbooks/list_releases.yml)"),
    (["put_back", "reverted"], {"touched": True, "backup": "/b/pre.dump", "restore_error": "disk full"},
     "next: put the database back first: %s; then fix AAAAAAAAAAAA on b (each host's summary and logs above) or pick "
     "another target (playbooks/list_releases.yml)" % RESTORE_CMD),
    (["put_back", "reverted"], {"kind": "full_rollback", "touched": True, "kept_as": "db_pre_9", "restore_error": "x"},
     "next: put the database back first: %s; then fix AAAAAAAAAAAA on b (each host's summary and logs above) or pick "
     "another target (playbooks/list_releases.yml)" % UNDO_CMD),
    ([None, None], {"error": "failed on the copy", "stage": "rehearsal"},
     "next: fix what stopped the run (the database lines above), then run it again"),
]


@pytest.mark.parametrize("outcomes,database,expected", NEXT_CASES,
                         ids=["healthy", "reverted", "db-restored", "db-not-restored", "full-rollback-undo-failed",
                              "stopped-before-any-switch"])
def test_fleet_outcome_next_puts_the_database_command_first(outcomes, database, expected):
    hosts = [dict({"host": name, "batch": 1}, **({"outcome": o} if o else {})) for name, o in zip("ab", outcomes)]
    result = fleet_outcome(hosts, target="A" * 40, database=database)
    assert result["next"] == expected
    if "put the database back first" in expected:  # the same command the failure message names
        assert expected.split("first: ")[1].split("; then")[0] in result["message"]
