"""The run protocol is one thing (docs/run_protocol.md): the app lock is taken and
given back, and records are appended to the release ledger, only in the app role's
begin / end task files; every role and playbook imports those. The exceptions, a
one-server quick rollback's switch call and db_backup's dump call when the run holds no
lock yet, take it with the protocol's own request (__app_lock_request, the fields begin
passes) in that call. No role carries a lock switch
(*_take_lock) or a run id of its own: the play's run id is __app_run_id.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = {ROOT / "roles/app/tasks/begin.yml", ROOT / "roles/app/tasks/end.yml"}
YAML_FILES = sorted(p for d in ("roles", "playbooks") for p in (ROOT / d).rglob("*.yml"))
ALLOWED_RUN_IDS = {"__app_run_id", "app_run_id", "workflow_run_id"}
LOCK = {"maverick.rollback.app_lock", "app_lock"}
LEDGER = {"maverick.rollback.release_ledger", "release_ledger"}
FACTS = {"maverick.rollback.release_facts", "release_facts"}
# The modules that take the lock in their own call (option `lock`), and the one task file each may do it in.
TAKES_LOCK = {
    "release_switch": ({"maverick.rollback.release_switch", "release_switch"}, ROOT / "roles/app_rollback/tasks/switch.yml"),
    "pg_backup": ({"maverick.rollback.pg_backup", "pg_backup"}, ROOT / "roles/db_backup/tasks/main.yml"),
}


def tasks(node):
    """Every task of a task file or playbook, blocks and plays included."""
    if isinstance(node, list):
        for item in node:
            yield from tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            if key in node:
                yield from tasks(node[key])


def calls(path, modules):
    data = yaml.safe_load(path.read_text())
    for task in tasks(data):
        for name in modules:
            if name in task and isinstance(task[name], dict):
                yield task.get("name", "?"), task[name]


def rel(path):
    return str(path.relative_to(ROOT))


def test_the_files_are_found():
    assert len(YAML_FILES) > 50 and PROTOCOL <= set(YAML_FILES)


@pytest.mark.parametrize("path", YAML_FILES, ids=rel)
def test_lock_taken_and_given_back_only_by_begin_and_end(path):
    if path in PROTOCOL:
        return
    changes = [name for name, args in calls(path, LOCK) if args.get("state", "acquired") in ("acquired", "taken", "released")]
    changes += [name for name, args in calls(path, LEDGER) if args.get("release_lock")]
    assert not changes, "%s changes the app lock itself (import app tasks_from: begin / end): %s" % (rel(path), changes)


@pytest.mark.parametrize("path", YAML_FILES, ids=rel)
def test_records_appended_only_by_end(path):
    if path in PROTOCOL:
        return
    appends = [name for name, args in calls(path, LEDGER) if args.get("state") == "appended"]
    assert not appends, "%s appends to the ledger itself (import app tasks_from: end): %s" % (rel(path), appends)


@pytest.mark.parametrize("path", YAML_FILES, ids=rel)
def test_no_lock_switch_and_no_run_id_of_a_role(path):
    text = path.read_text()
    switches = sorted(set(re.findall(r"\b\w*take_lock\w*\b", text)))
    run_ids = sorted(set(re.findall(r"\b\w+_run_id\b", text)) - ALLOWED_RUN_IDS)
    assert not switches and not run_ids, "%s: %s" % (rel(path), switches + run_ids)


@pytest.mark.parametrize("path", YAML_FILES, ids=rel)
def test_a_lock_check_names_this_run(path):
    """release_facts reporting a run in flight must not report this run's own lock."""
    missing = [name for name, args in calls(path, FACTS) if "lock_path" in args and "run_id" not in args]
    assert not missing, "%s: release_facts with lock_path but no run_id: %s" % (rel(path), missing)


@pytest.mark.parametrize("module", sorted(TAKES_LOCK))
@pytest.mark.parametrize("path", YAML_FILES, ids=rel)
def test_a_module_takes_the_lock_only_with_the_protocols_request(path, module):
    names, where = TAKES_LOCK[module]
    locking = [args["lock"] for _name, args in calls(path, names) if "lock" in args]
    if path == where:
        assert locking and all(lock.startswith("{{ __app_lock_request if ") for lock in locking), locking
    else:
        assert not locking, "%s: %s takes the lock outside %s" % (rel(path), module, rel(where))


def test_the_lock_request_is_what_begin_passes():
    request = yaml.safe_load((ROOT / "roles/app/vars/main.yml").read_text())["__app_lock_request"]
    begin = dict(next(iter(calls(ROOT / "roles/app/tasks/begin.yml", LOCK)))[1])
    assert (request["path"], request["run_id"]) == (begin.pop("path"), begin.pop("run_id"))
    assert {key: "{{ __app_lock_request.%s }}" % key for key in begin} == {
        key: value for key, value in begin.items() if key in request}
    assert set(request) == {"path", "run_id", "owner", "controller", "awx_job_id", "ttl", "break_stale"}


def test_begin_and_end_are_the_protocol():
    begin = list(calls(ROOT / "roles/app/tasks/begin.yml", LOCK))
    end_lock = list(calls(ROOT / "roles/app/tasks/end.yml", LOCK))
    end_ledger = list(calls(ROOT / "roles/app/tasks/end.yml", LEDGER))
    assert [args["run_id"] for _name, args in begin] == ["{{ __app_run_id }}"]
    assert {"owner", "controller", "awx_job_id", "ttl", "break_stale"} <= set(begin[0][1])
    assert [args.get("state") for _name, args in end_lock] == ["released"]
    assert [(args["state"], args["run_id"], args["lock_path"]) for _name, args in end_ledger] == [
        ("appended", "{{ __app_run_id }}", "{{ __app_lock_path }}")]


@pytest.mark.parametrize("role", ["app_rollback", "db_backup", "db_restore", "emergency_restart", "github_redeploy",
                                  "migration_rehearsal", "migration_resolve"])
def test_every_changing_role_uses_begin_and_end(role):
    """begin, or (db_backup) the dump call with begin's request; end gives the lock back."""
    text = "".join(p.read_text() for p in (ROOT / "roles" / role / "tasks").glob("*.yml"))
    takes = "tasks_from: begin" in text or "lock: \"{{ __app_lock_request if " in text
    assert takes and "tasks_from: end" in text, role


@pytest.mark.parametrize("playbook", ["deploy.yml", "full_rollback.yml"])
def test_composing_playbooks_use_begin_and_end(playbook):
    text = (ROOT / "playbooks" / playbook).read_text()
    assert "tasks_from: begin" in text and "tasks_from: end" in text, playbook


def test_the_run_id_rule():
    from ansible_collections.maverick.rollback.plugins.module_utils._rules import is_valid
    assert all(is_valid("run_id", x) for x in ("a1b2c3d4e5f6", "ci-1234", "0" * 64))
    assert not any(is_valid("run_id", x) for x in ("", "-a", "A1", "a_b", "a" * 65, "a\n", "a b"))
