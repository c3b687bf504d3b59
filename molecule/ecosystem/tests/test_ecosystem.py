"""ecosystem scenario: the collection as AWX and other playbooks consume it.

Playbooks run through ansible-runner (what AWX runs jobs with) with the extra
vars an AWX survey sends (docs/awx/surveys/*.json; numbers and flags as
strings), one job runs from an AWX-like private data directory, playbooks
chain the collection (import_playbook and include_role) from a copy built
and installed with ansible-galaxy, and a refused survey answer changes nothing.

Tests run in file order and build on each other's state: prepare left v2,
converge only gated it; -> v1 (runner) -> v2 (AWX-like job, commit=previous)
-> v1 (import_playbook) -> v2 (include_role); the refused input leaves v2.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import ansible_runner
import pytest
import yaml

from conftest import APP_DIR, PROJECT_DIR, app_env, health, scenario_inventory

sys.path.insert(0, str(PROJECT_DIR / "tests" / "ecosystem"))
from ecosystem_helpers import (VENV_BIN, build_collection, clean_env,  # noqa: E402
                               install_collection, survey_answers)

STATE = "/var/lib/maverick-rollback/lifetracker"
LEDGER = STATE + "/ledger.jsonl"
HOST = "mr-ecosystem"


# ---------------------------------------------------------------- helpers

def sha(host, ref):
    return host.check_output("git -C %s rev-parse %s^{commit}" % (APP_DIR, ref))


def head(host):
    return host.check_output("git -C %s rev-parse HEAD" % APP_DIR)


def ledger(host):
    return [json.loads(line) for line in host.file(LEDGER).content_string.splitlines() if line.strip()]


def ledger_len(host):
    return len(ledger(host)) if host.file(LEDGER).exists else 0


def api_container(host):
    return host.check_output(
        "docker ps --filter label=com.docker.compose.project=%s --filter label=com.docker.compose.service=api "
        "--format '{{.ID}} {{.Image}}'" % HOST)


class Job:
    """What a runner job left: status, rc, stdout, events."""

    def __init__(self, runner):
        self.status, self.rc = runner.status, runner.rc
        self.stdout = runner.stdout.read()
        self.events = list(runner.events)

    def failed_messages(self):
        return [str(e["event_data"].get("res", {}).get("msg", "")) for e in self.events
                if e.get("event") == "runner_on_failed"]

    def facts(self, name):
        """Values the play set for the fact, in order (set_fact results)."""
        return [e["event_data"]["res"]["ansible_facts"][name] for e in self.events
                if e.get("event") == "runner_on_ok"
                and name in (e["event_data"].get("res") or {}).get("ansible_facts", {})]

    def task_paths(self):
        return {e["event_data"]["task_path"].rsplit(":", 1)[0] for e in self.events
                if e.get("event_data", {}).get("task_path")}

    def __repr__(self):
        return "Job(status=%s, rc=%s)\n%s" % (self.status, self.rc, self.stdout[-6000:])


def run_job(tmp_path, playbook, extravars, collections_path=PROJECT_DIR / ".collections",
            inventory=None, cwd_playbook_dir=False):
    """ansible_runner.run() of a playbook against the scenario's server.

    The environment holds nothing of molecule's (ANSIBLE_*, MOLECULE_*): the
    settings are the checkout's ansible.cfg (or none) plus what is passed here.
    """
    envvars = {
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
        "ANSIBLE_INTERPRETER_PYTHON": "/usr/bin/python3",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PATH": "%s:%s" % (VENV_BIN, os.environ.get("PATH", "/usr/bin:/bin")),
    }
    if not cwd_playbook_dir:
        envvars["ANSIBLE_CONFIG"] = str(PROJECT_DIR / "ansible.cfg")
    pdd = tmp_path / "runner"
    pdd.mkdir()
    inventory = inventory or scenario_inventory()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(clean_env())
    try:
        runner = ansible_runner.run(private_data_dir=str(pdd), playbook=str(playbook),
                                    inventory=inventory, extravars=extravars,
                                    envvars=envvars, quiet=True, timeout=300)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return Job(runner)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    """The collection built once for the module (ansible-galaxy collection build)."""
    return build_collection(tmp_path_factory.mktemp("dist"))


# ------------------------------------------------- (1) runner + survey answers

def test_prepared_app_runs_v2(host):
    assert head(host) == sha(host, "v2")
    status, body = health(host)
    assert (status, body["commit"]) == (200, sha(host, "v2"))


def test_runner_health_check_with_survey_strings(host, tmp_path):
    v2 = sha(host, "v2")
    job = run_job(tmp_path, PROJECT_DIR / "playbooks/health_check.yml", survey_answers(
        "health_check", health_check_expected_commit=v2, health_check_successes="4",
        health_check_interval="0.3", health_check_deadline="30", health_check_fail_on_unhealthy="true"))
    assert (job.status, job.rc) == ("successful", 0), job
    assert "healthy: 4 consecutive good answers" in job.stdout, job
    facts = job.facts("health_check_result")
    assert facts and facts[-1]["healthy"] is True and facts[-1]["commit"] == v2
    assert facts[-1]["attempts"] >= 4


def test_runner_health_check_wrong_commit_fails(host, tmp_path):
    v1, v2 = sha(host, "v1"), sha(host, "v2")
    job = run_job(tmp_path, PROJECT_DIR / "playbooks/health_check.yml", survey_answers(
        "health_check", health_check_expected_commit=v1, health_check_deadline="2", health_check_interval="0.5"))
    assert (job.status, job.rc) == ("failed", 2), job
    assert any("wrong commit: expected %s, running %s" % (v1, v2) in m for m in job.failed_messages()), job


def test_runner_health_check_false_string_does_not_fail(host, tmp_path):
    """'false' from a survey is false: the gate records the failure and the job passes."""
    job = run_job(tmp_path, PROJECT_DIR / "playbooks/health_check.yml", survey_answers(
        "health_check", health_check_expected_commit=sha(host, "v1"), health_check_deadline="2",
        health_check_interval="0.5", health_check_fail_on_unhealthy="false"))
    assert (job.status, job.rc) == ("successful", 0), job
    result = job.facts("health_check_result")[-1]
    assert result["healthy"] is False and "wrong commit" in result["reason"], result
    skipped = [e["event_data"]["task"] for e in job.events if e.get("event") == "runner_on_skipped"]
    assert "Fail the health gate" in skipped


def test_runner_list_releases(host, tmp_path):
    job = run_job(tmp_path, PROJECT_DIR / "playbooks/list_releases.yml",
                  survey_answers("list_releases", app_rollback_list_count="3"))
    assert (job.status, job.rc) == ("successful", 0), job
    shown = [e["event_data"]["res"]["msg"] for e in job.events if e.get("event") == "runner_on_ok"
             and e["event_data"].get("task") == "Show the releases"]
    assert len(shown) == 1 and len(shown[0]) == 3, job  # app_rollback_list_count "3" cast to 3
    assert any(sha(host, "v4")[:12] in line for line in shown[0])


def psql(host, sql):
    """psql over TCP as the app connects (settings from the app's .env)."""
    env = app_env(host)
    return host.check_output(
        "PGPASSWORD=%s psql -X -h 127.0.0.1 -p %s -U %s -d %s -Atc %s"
        % (shlex.quote(env["POSTGRES_PASSWORD"]), env["POSTGRES_PORT"], env["POSTGRES_USER"], env["POSTGRES_DB"],
           shlex.quote(sql)))


def test_runner_quick_rollback_false_string_keeps_the_migration_gate(host, tmp_path):
    """allow_schema_ahead 'false' (survey default) must not count as true. v2's own migration is
    compatible with v1's code, so the database gets one more, applied elsewhere: its SQL is in no
    commit here, which the gate judges incompatible - v1 is refused."""
    fake = "20990101000000_applied_elsewhere"
    psql(host, "INSERT INTO _prisma_migrations (id, checksum, migration_name, finished_at, applied_steps_count) "
               "VALUES ('ecosystem-fake', 'x', '%s', now(), 1)" % fake)
    try:
        before = (head(host), api_container(host), ledger_len(host))
        job = run_job(tmp_path, PROJECT_DIR / "playbooks/quick_rollback.yml", survey_answers(
            "quick_rollback", commit="v1", app_rollback_health_deadline="30"))
        assert (job.status, job.rc) == ("failed", 2), job
        messages = " ".join(" ".join(m) if isinstance(m, list) else str(m) for m in job.failed_messages())
        assert "%s: (no SQL)" % fake in messages, messages
        assert (head(host), api_container(host), ledger_len(host)) == before
    finally:
        psql(host, "DELETE FROM _prisma_migrations WHERE id = 'ecosystem-fake'")


def test_runner_quick_rollback_to_v1(host, tmp_path):
    v1, v2 = sha(host, "v1"), sha(host, "v2")
    job = run_job(tmp_path, PROJECT_DIR / "playbooks/quick_rollback.yml", survey_answers(
        "quick_rollback", commit="v1", app_rollback_allow_schema_ahead="true", app_rollback_health_deadline="30",
        awx_job_id=101, awx_user_name="survey-user"))
    assert (job.status, job.rc) == ("successful", 0), job
    assert head(host) == v1
    status, body = health(host)
    assert (status, body["commit"]) == (200, v1)
    last = ledger(host)[-1]
    assert (last["from_commit"], last["to_commit"], last["outcome"]) == (v2, v1, "healthy")
    assert (last["user"], last["awx_job_id"], last["requested"]) == ("survey-user", "101", "v1")


# ------------------------------------------- (2) AWX-like private data dir

def awx_inventory_script(host_vars: dict, group_vars: dict) -> str:
    """AWX writes the job's inventory as an executable script that prints JSON."""
    data = {"all": {"children": ["lifetracker"]},
            "lifetracker": {"hosts": [HOST], "vars": group_vars},
            "_meta": {"hostvars": {HOST: host_vars}}}
    return "#!%s\nimport json\nprint(json.dumps(%r))\n" % (sys.executable, data)


def test_awx_like_job_template_previous(host, tmp_path, tarball):
    """A job as AWX's job template + survey builds it: env/extravars, env/envvars,
    env/settings, inventory/hosts (script), project/ (SCM checkout with the
    playbooks), collections installed from collections/requirements.yml."""
    v1, v2 = sha(host, "v1"), sha(host, "v2")
    assert head(host) == v1
    pdd = tmp_path / "awx_job_4242"
    project = pdd / "project"
    shutil.copytree(PROJECT_DIR / "playbooks", project / "playbooks")
    (project / "collections").mkdir()
    (project / "collections" / "requirements.yml").write_text(
        "---\ncollections:\n  - name: %s\n    type: file\n" % tarball)
    # AWX's project update installs collections/requirements.yml here.
    installed = install_collection(tarball, pdd / "requirements_collections")
    (pdd / "env").mkdir()
    extravars = survey_answers("quick_rollback", commit="previous", app_rollback_health_deadline="30",
                               awx_job_id=4242, awx_user_name="jt-operator",
                               awx_job_template_name="LifeTracker - quick rollback", tower_job_id=4242)
    (pdd / "env" / "extravars").write_text(json.dumps(extravars))
    (pdd / "env" / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_COLLECTIONS_PATH": str(pdd / "requirements_collections"),
        "ANSIBLE_INTERPRETER_PYTHON": "/usr/bin/python3",
        "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
        "PATH": "%s:/usr/local/bin:/usr/bin:/bin" % VENV_BIN,
        "JOB_ID": "4242", "AWX_HOST": "https://awx.example.invalid",
    }))
    (pdd / "env" / "settings").write_text(yaml.safe_dump({"job_timeout": 300, "suppress_ansible_output": True}))
    group_vars = yaml.safe_load(Path(scenario_inventory(), "group_vars", "lifetracker").read_text())
    (pdd / "inventory").mkdir()
    (pdd / "inventory" / "hosts").write_text(awx_inventory_script(
        {"ansible_connection": "community.docker.docker"}, group_vars))
    (pdd / "inventory" / "hosts").chmod(0o700)

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(clean_env())
    try:  # nothing but the private data dir
        job = Job(ansible_runner.run(private_data_dir=str(pdd), playbook="playbooks/quick_rollback.yml"))
    finally:
        os.environ.clear()
        os.environ.update(saved)

    assert (job.status, job.rc) == ("successful", 0), job
    assert (pdd / "artifacts").is_dir() and list((pdd / "artifacts").glob("*/job_events/*.json"))
    assert head(host) == v2  # previous: the release before v1
    status, body = health(host)
    assert (status, body["commit"]) == (200, v2)
    last = ledger(host)[-1]
    assert (last["requested"], last["from_commit"], last["to_commit"], last["outcome"]) == ("previous", v1, v2, "healthy")
    assert (last["user"], last["awx_job_id"]) == ("jt-operator", "4242")
    # The roles ran from the collection the "project update" installed.
    role_paths = {p for p in job.task_paths() if "/roles/" in p}
    assert role_paths and all(p.startswith(str(installed)) for p in role_paths), role_paths
    assert not host.file(STATE + "/lock").exists


# ------------------------------- (3) chaining from an installed collection

IMPORT_PLAYBOOK = """---
- name: Roll back through the collection's playbook
  ansible.builtin.import_playbook: maverick.rollback.quick_rollback
  vars:
    commit: v1
    app_rollback_allow_schema_ahead: "true"

- name: Check what the imported playbook left
  hosts: lifetracker
  gather_facts: false
  tasks:
    - name: Read the commit the server runs
      ansible.builtin.command:
        argv: [git, -C, /opt/lifetracker, rev-parse, HEAD]
      register: chained_head
      changed_when: false

    - name: Assert the rollback result the role published
      ansible.builtin.assert:
        that:
          - app_rollback_result.healthy | bool
          - app_rollback_result.outcome == 'healthy'
          - chained_head.stdout == expected_sha
        quiet: true
"""

INCLUDE_ROLE = """---
- name: A deploy-like playbook of another team, using the collection's roles
  hosts: lifetracker
  gather_facts: false
  tasks:
    - name: Gate the running release first
      ansible.builtin.include_role:
        name: maverick.rollback.health_check
      vars:
        health_check_successes: "2"
        health_check_interval: "0.3"

    - name: Remember what ran
      ansible.builtin.set_fact:
        chained_before: "{{ health_check_result.commit }}"

    - name: Switch to the release
      ansible.builtin.include_role:
        name: maverick.rollback.app_rollback
      vars:
        app_rollback_commit: "{{ release }}"
        app_rollback_health_successes: "2"
        app_rollback_record_extra:
          caller: include_role

    - name: Gate again, expecting the release
      ansible.builtin.include_role:
        name: maverick.rollback.health_check
      vars:
        health_check_expected_commit: "{{ expected_sha }}"
        health_check_successes: "2"
        health_check_interval: "0.3"

    - name: Assert what the roles published
      ansible.builtin.assert:
        that:
          - chained_before != expected_sha
          - app_rollback_result.healthy | bool
          - health_check_result.healthy | bool
          - health_check_result.commit == expected_sha
        quiet: true
"""


@pytest.fixture(scope="module")
def installed_collections(tmp_path_factory, tarball):
    """A fresh collections path with the built collection installed."""
    path = tmp_path_factory.mktemp("installed") / "collections"
    installed = install_collection(tarball, path)
    return path, installed


def chained_job(tmp_path, text, installed_collections, extravars):
    path, installed = installed_collections
    play_dir = tmp_path / "other_team"
    play_dir.mkdir()
    playbook = play_dir / "site.yml"
    playbook.write_text(text)
    # No ansible.cfg of the checkout: FQCNs must resolve from the installed copy only.
    job = run_job(tmp_path, playbook, extravars, collections_path=path, cwd_playbook_dir=True)
    role_paths = {p for p in job.task_paths() if "/roles/" in p or "/playbooks/" in p}
    return job, role_paths, installed


def test_import_playbook_from_installed_collection(host, tmp_path, installed_collections):
    v1, v2 = sha(host, "v1"), sha(host, "v2")
    assert head(host) == v2
    job, paths, installed = chained_job(tmp_path, IMPORT_PLAYBOOK, installed_collections, {"expected_sha": v1})
    assert (job.status, job.rc) == ("successful", 0), job
    assert paths and all(p.startswith(str(installed)) for p in paths), paths
    assert not any(p.startswith(str(PROJECT_DIR) + "/roles") for p in paths)
    assert head(host) == v1
    assert health(host)[1]["commit"] == v1
    assert ledger(host)[-1]["to_commit"] == v1


def test_include_role_from_installed_collection(host, tmp_path, installed_collections):
    v1, v2 = sha(host, "v1"), sha(host, "v2")
    assert head(host) == v1
    job, paths, installed = chained_job(tmp_path, INCLUDE_ROLE, installed_collections,
                                        {"release": "v2", "expected_sha": v2})
    assert (job.status, job.rc) == ("successful", 0), job
    assert {Path(p).relative_to(installed).parts[1] for p in paths} == {"app", "health_check", "app_rollback"}
    assert head(host) == v2
    assert health(host)[1]["commit"] == v2
    last = ledger(host)[-1]
    assert (last["from_commit"], last["to_commit"], last["caller"]) == (v1, v2, "include_role")


# ----------------------------------------------- (4) a refused survey answer

@pytest.mark.parametrize("bad", ["$(touch /tmp/pwned)", "v1; touch /tmp/pwned", "--upload-pack=touch /tmp/pwned"])
def test_bad_survey_answer_changes_nothing(host, tmp_path, bad):
    host.run("rm -f /tmp/pwned")
    before = (head(host), api_container(host), ledger_len(host))
    job = run_job(tmp_path, PROJECT_DIR / "playbooks/quick_rollback.yml",
                  survey_answers("quick_rollback", commit=bad, app_rollback_allow_schema_ahead="true"))
    assert (job.status, job.rc) == ("failed", 2), job
    messages = " ".join(job.failed_messages())
    assert "refusing commit" in messages and "Nothing was changed" in messages, job
    assert (head(host), api_container(host), ledger_len(host)) == before
    assert not host.file("/tmp/pwned").exists
    assert subprocess.run(["test", "-e", "/tmp/pwned"], check=False).returncode != 0
    assert not host.file(STATE + "/lock").exists
