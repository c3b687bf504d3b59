"""quick_rollback scenario: real rollbacks of the sample app on the sandbox.

Tests run in file order and build on each other's state:
converge left the app on v1 (from v2: the migration gate judged v2's migration
compatible, no override), then v1 -> v2 (reuse), the gate's plan for v1 in check
mode, previous (-> v1, no override), v1 -> v3 (fails, reverts to v1), concurrent
runs (-> v2), stale lock (-> v1), a target whose build fails (reverted, v1
untouched), v1 -> v5 with its migration (renames "Tag"."name"), and the gate's
refusal of v5 -> v2 (check and apply: nothing changes).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from conftest import APP_DIR, app_env, flat, health, play, recap, run_playbook, start_playbook

PLAYBOOK = "playbooks/quick_rollback.yml"
PROJECT = "mr-quick-rollback"
STATE = "/var/lib/maverick-rollback/lifetracker"
LEDGER = STATE + "/ledger.jsonl"


def sha(host, ref):
    return host.check_output("git -C %s rev-parse %s^{commit}" % (APP_DIR, ref))


def head(host):
    return host.check_output("git -C %s rev-parse HEAD" % APP_DIR)


def container_image(host, service):
    """(container id, image id) of the running service container."""
    out = host.check_output(
        "docker ps --filter label=com.docker.compose.project=%s --filter label=com.docker.compose.service=%s "
        "--format '{{.ID}}'" % (PROJECT, service))
    image = host.check_output("docker inspect --format '{{.Image}}' %s" % out)
    return out, image


def image_id(host, ref):
    return host.check_output("docker image inspect --format '{{.Id}}' %s" % ref)


def ledger(host):
    return [json.loads(line) for line in host.file(LEDGER).content_string.splitlines() if line.strip()]


def test_converged_to_v1(host):
    v1 = sha(host, "v1")
    assert head(host) == v1
    _, running = container_image(host, "api")
    assert running == image_id(host, "%s-api:%s" % (PROJECT, v1))
    status, body = health(host)
    assert (status, body["commit"]) == (200, v1)
    last = ledger(host)[-1]
    assert (last["to_commit"], last["from_commit"], last["outcome"]) == (v1, sha(host, "v2"), "healthy")
    assert last["images"]["api"] == running
    assert host.file(LEDGER).mode == 0o600
    assert host.file(STATE).mode == 0o700


def test_check_mode_changes_nothing(host):
    before = (head(host), container_image(host, "api"), container_image(host, "web"), len(ledger(host)))
    proc = run_playbook(PLAYBOOK, "--check", "-e", "commit=v2")
    assert proc.returncode == 0, proc.stdout
    assert "reuse kept images, no build; services that change: api" in proc.stdout
    assert "CHECK MODE: nothing was changed" in proc.stdout
    assert (head(host), container_image(host, "api"), container_image(host, "web"), len(ledger(host))) == before


def index_mtime(host):
    return host.check_output("stat -c %%y %s/.git/index" % APP_DIR)


def test_check_mode_leaves_the_git_index_alone(host):
    """--check writes nothing, .git/index included: git status refreshes (rewrites) the index
    when a tracked file's stat data changed, unless GIT_OPTIONAL_LOCKS=0."""
    tracked = host.check_output("git -C %s ls-files | head -n 1" % APP_DIR)
    host.check_output("touch %s/%s" % (APP_DIR, tracked))  # same content, new mtime: index entry stat-dirty
    before = index_mtime(host)
    proc = run_playbook(PLAYBOOK, "--check", "-e", "commit=v2")
    assert proc.returncode == 0, proc.stdout
    assert "CHECK MODE: nothing was changed" in proc.stdout
    assert index_mtime(host) == before
    # the setup is sharp: a plain git status (optional locks on) does rewrite it
    host.check_output("git -C %s status --porcelain" % APP_DIR)
    assert index_mtime(host) != before


@pytest.mark.parametrize("bad", ["zzz", "$(touch /tmp/pwned)", "v1;reboot", "--upload-pack=x", "../v1", ""])
def test_bad_commit_is_refused_and_nothing_changes(host, bad):
    before = (head(host), container_image(host, "api"), len(ledger(host)))
    proc = run_playbook(PLAYBOOK, "-e", "commit=" + bad)
    assert proc.returncode != 0
    assert "Nothing was changed" in proc.stdout
    if bad == "zzz":  # resolvable syntax: git said no, and the recent commits are listed
        assert "does not resolve" in proc.stdout and "first release of LifeTracker" in proc.stdout
    else:
        assert "refusing commit" in proc.stdout
    assert (head(host), container_image(host, "api"), len(ledger(host))) == before
    assert not host.file("/tmp/pwned").exists
    assert subprocess.run(["test", "-e", "/tmp/pwned"], check=False).returncode != 0


def test_v1_to_v2_reuses_kept_images_without_build(host):
    v2 = sha(host, "v2")
    kept = image_id(host, "%s-api:%s" % (PROJECT, v2))  # tagged when converge left v2
    web_before = container_image(host, "web")
    proc = run_playbook(PLAYBOOK, "-e", "commit=v2")
    assert proc.returncode == 0, proc.stdout
    assert "images: reused kept images, no build" in proc.stdout
    assert "Building" not in proc.stdout and "build (no kept images" not in proc.stdout
    assert head(host) == v2
    assert container_image(host, "api")[1] == kept
    assert container_image(host, "web") == web_before  # unchanged image: never recreated
    assert health(host)[1]["commit"] == v2
    assert ledger(host)[-1]["reused_images"] is True


def test_migration_gate_lets_an_additive_migration_through(host):
    """v2's migration (a nullable column, a new table) does not stop v1's code: the gate
    says so in the plan, without the override."""
    before = (head(host), container_image(host, "api"), len(ledger(host)))
    proc = run_playbook(PLAYBOOK, "--check", "-e", "commit=v1")
    assert proc.returncode == 0, proc.stdout
    text = " ".join(proc.stdout.split())
    assert "the database is ahead of v1 (%s) by 1 migration(s) (20250201000000_add_tags), all compatible" \
        % sha(host, "v1")[:12] in text
    assert '20250201000000_add_tags: compatible (new column "mood" on "Entry", nullable' in text
    assert (head(host), container_image(host, "api"), len(ledger(host))) == before


def test_previous_picks_last_healthy_release_from_ledger(host):
    """previous is v1, across v2's additive migration: no override needed."""
    v1 = sha(host, "v1")
    proc = run_playbook(PLAYBOOK, "-e", "commit=previous")
    assert proc.returncode == 0, proc.stdout
    assert "all compatible with its code: the rollback goes on" in " ".join(proc.stdout.split())
    assert head(host) == v1
    assert container_image(host, "api")[1] == image_id(host, "%s-api:%s" % (PROJECT, v1))
    assert health(host)[1]["commit"] == v1
    assert ledger(host)[-1]["requested"] == "previous"


def test_unhealthy_target_is_reverted(host):
    v1, v3 = sha(host, "v1"), sha(host, "v3")
    # The deadline bounds the revert's gate too: v1's api needs a few seconds on a loaded machine.
    proc = run_playbook(PLAYBOOK, "-e", "commit=v3", "-e", "app_rollback_health_deadline=12")
    assert proc.returncode != 0
    assert "TARGET UNHEALTHY" in proc.stdout and "HTTP 500" in proc.stdout
    assert "== api: last 50 lines ==" in proc.stdout
    assert "reverted to %s: healthy" % v1[:12] in proc.stdout
    assert head(host) == v1
    status, body = health(host)
    assert (status, body["commit"]) == (200, v1)
    last = ledger(host)[-1]
    assert (last["to_commit"], last["outcome"], last["revert_health"]["healthy"]) == (v3, "reverted", True)
    assert not host.file(STATE + "/lock").exists


def test_second_concurrent_run_fails_on_the_lock(host):
    """Refused at its first read: the first run's checkout and container
    recreation must not show up as a confusing error in the second."""
    # 20 healthy answers in a row: the first run holds the lock >= 10 s after
    # the switch, ample for the second to get there on a loaded machine.
    first = start_playbook(PLAYBOOK, "-e", "commit=v2", "-e", "app_rollback_health_successes=20")
    try:
        deadline = time.monotonic() + 60
        while not host.file(STATE + "/lock").exists:
            assert first.poll() is None, first.communicate()[0]
            assert time.monotonic() < deadline, "first run never took the lock"
            time.sleep(0.1)
        second = run_playbook(PLAYBOOK, "-e", "commit=v2")
        out, _ = first.communicate(timeout=300)
    finally:  # never leave it changing the app under the next tests
        if first.poll() is None:
            first.kill()
            first.wait()
    assert second.returncode != 0
    assert "another run holds the lock" in second.stdout, second.stdout
    assert "Refuse before anything changes (another run" in second.stdout
    assert first.returncode == 0, out
    assert head(host) == sha(host, "v2")
    assert not host.file(STATE + "/lock").exists


def test_stale_lock_is_reported_and_broken_only_on_request(host):
    stale = {"run_id": "crashed", "owner": "night-shift", "controller": "awx-1", "ttl": 60,
             "started_epoch": time.time() - 3600, "started": "earlier", "awx_job_id": "42"}
    host.run("printf '%%s' '%s' > %s/lock" % (json.dumps(stale), STATE))
    try:
        refused = run_playbook(PLAYBOOK, "-e", "commit=v1", "-e", "app_rollback_allow_schema_ahead=true")
        assert refused.returncode != 0
        assert "stale lock" in refused.stdout and "night-shift" in refused.stdout and "AWX job 42" in refused.stdout
        assert head(host) == sha(host, "v2")
        broken = run_playbook(PLAYBOOK, "-e", "commit=v1", "-e", "app_rollback_break_stale_lock=true",
                              "-e", "app_rollback_allow_schema_ahead=true")
        assert broken.returncode == 0, broken.stdout
        assert "broke a stale lock" in broken.stdout
        assert head(host) == sha(host, "v1")
    finally:  # a failure here must not leave the crashed run's lock to the next tests
        host.run("grep -qs '\"crashed\"' %s/lock && rm -f %s/lock" % (STATE, STATE))


def test_a_server_check_failure_refuses_in_the_planning_read(host):
    """The server check runs inside the plan's one read (release_facts check_server): what is
    missing is named with its fix, and nothing changes (checkout, api container, lock)."""
    before = (head(host), container_image(host, "api"))
    proc = run_playbook(PLAYBOOK, "-e", "commit=v2", "-e", "app_prisma_dir=packages/nope")
    assert proc.returncode != 0
    text = proc.stdout.replace("\n", " ")
    assert "cannot plan the rollback: prisma_dir: %s/packages/nope does not exist" % APP_DIR in text, proc.stdout
    assert (head(host), container_image(host, "api")) == before
    assert not host.file(STATE + "/lock").exists


def test_a_server_without_git_and_docker_is_named_in_one_answer(host):
    """The plan's read on a server whose PATH has neither git nor docker (a Python that starts with an
    empty PATH): the run fails with the server check's lines, each with its fix, not with a result
    Ansible cannot parse (the reads in threads each printed one); nothing changes."""
    wrapper = "/usr/local/bin/python3-without-path"
    host.run("printf '#!/bin/sh\\nPATH=/nonexistent exec /usr/bin/python3 \"$@\"\\n' > %s && chmod 0755 %s"
             % (wrapper, wrapper))
    before = (head(host), container_image(host, "api"), len(ledger(host)))
    try:
        proc = run_playbook(PLAYBOOK, "-e", "commit=v2", "-e", "ansible_python_interpreter=" + wrapper)
    finally:
        host.run("rm -f %s" % wrapper)
    assert proc.returncode != 0
    text = flat(proc.stdout)
    assert "cannot plan the rollback: git: not found - apt-get install git" in text, proc.stdout
    assert "docker: not found - apt-get install docker.io" in text, proc.stdout
    assert "deserialization" not in text and "MODULE FAILURE" not in text, proc.stdout
    assert (head(host), container_image(host, "api"), len(ledger(host))) == before
    assert not host.file(STATE + "/lock").exists


def test_an_unknown_lock_host_is_refused_before_anything_changes(host):
    """app_fleet_lock_host names a host the inventory does not have: refused after every host's
    plan and before the lock, naming the setting; nothing changes (checkout, containers, lock, ledger)."""
    before = (head(host), container_image(host, "api"), container_image(host, "web"), len(ledger(host)))
    proc = run_playbook(PLAYBOOK, "-e", "commit=v2", "-e", "app_fleet_lock_host=no-such-host")
    assert proc.returncode != 0
    text = flat(proc.stdout)
    assert "app_fleet_lock_host 'no-such-host' is not a host of the inventory" in text, proc.stdout
    assert "Nothing was changed" in text
    assert (head(host), container_image(host, "api"), container_image(host, "web"), len(ledger(host))) == before
    assert not host.file(STATE + "/lock").exists


SERVER = "mr-quick-rollback"
SWITCH_PLAY = "Quick rollback - switch in batches"
CALLBACKS = str(Path(__file__).resolve().parents[2] / "shared" / "callback")


def between_plan_and_switch(monkeypatch, *argv):
    """Run argv (on the controller) when the switch play starts: another run's step lands
    exactly between this run's plan and its switch, no timing window (molecule/shared/callback)."""
    monkeypatch.setenv("ANSIBLE_CALLBACK_PLUGINS", CALLBACKS)
    monkeypatch.setenv("ANSIBLE_CALLBACKS_ENABLED", "between_plays")
    monkeypatch.setenv("MR_BETWEEN_PLAYS_PLAY", SWITCH_PLAY)
    monkeypatch.setenv("MR_BETWEEN_PLAYS_ARGV", json.dumps(list(argv)))


def test_a_lock_taken_after_the_plan_refuses_the_switch(host, monkeypatch):
    """One server: the switch call takes the run's lock. Another run that took it after this
    run's plan makes the switch refuse before any step: same checkout and containers, no
    revert, no ledger record, the other run's lock left in place."""
    before = (head(host), container_image(host, "api"), container_image(host, "web"), len(ledger(host)))
    other = {"run_id": "other-run", "owner": "day-shift", "controller": "awx-2", "ttl": 1800, "awx_job_id": "7",
             "started_epoch": time.time(), "started": "now", "heartbeat_epoch": time.time()}
    between_plan_and_switch(monkeypatch, "docker", "exec", SERVER, "python3", "-c",
                            "import sys; open(sys.argv[1], 'w').write(sys.argv[2])", STATE + "/lock", json.dumps(other))
    try:
        proc = play(PLAYBOOK, "-e", "commit=v2")
        assert proc.returncode != 0 and recap(proc) == (0, 1), proc.stdout
        text = flat(proc.stdout)
        assert "another run holds the lock" in text and "day-shift" in text, proc.stdout
        assert "Nothing was changed" in text and "This run holds no app lock" in text
        assert "Switch back to" not in text
        assert (head(host), container_image(host, "api"), container_image(host, "web"), len(ledger(host))) == before
        assert json.loads(host.file(STATE + "/lock").content_string)["run_id"] == "other-run"
    finally:
        host.run("grep -qs '\"other-run\"' %s/lock && rm -f %s/lock" % (STATE, STATE))


def test_a_checkout_moved_after_the_plan_refuses_the_switch(host, monkeypatch):
    """Another run switched the checkout (and gave its lock back) between this run's plan and
    its switch: refused before any step, the lock it took given back, nothing recorded."""
    v1, v3 = sha(host, "v1"), sha(host, "v3")
    assert head(host) == v1
    before = (container_image(host, "api"), len(ledger(host)))
    between_plan_and_switch(monkeypatch, "docker", "exec", SERVER, "git", "-C", APP_DIR, "checkout", "--quiet",
                            "--detach", v3)
    try:
        proc = play(PLAYBOOK, "-e", "commit=v2")
        assert proc.returncode != 0 and recap(proc) == (0, 1), proc.stdout
        text = flat(proc.stdout)
        assert "the checkout is at %s, not at %s where this run planned" % (v3[:12], v1[:12]) in text, proc.stdout
        assert head(host) == v3  # the other run's checkout, untouched
        assert (container_image(host, "api"), len(ledger(host))) == before
        assert not host.file(STATE + "/lock").exists
    finally:
        host.run("git -C %s checkout --quiet --detach %s" % (APP_DIR, v1))


def test_failed_build_is_reverted_without_touching_the_running_app(host):
    """A never-built target whose image build fails: HEAD back, same api container."""
    v1 = sha(host, "v1")
    assert head(host) == v1
    git = "git -C %s " % APP_DIR
    host.check_output(git + "checkout --quiet -B broken-build v1")
    host.check_output("sed -i '/^FROM/a RUN false' %s/apps/api/Dockerfile" % APP_DIR)
    host.check_output(git + "-c user.name=t -c user.email=t@invalid commit --quiet -am 'broken build'")
    broken = head(host)
    host.check_output(git + "checkout --quiet --detach " + v1)
    before = container_image(host, "api")

    proc = run_playbook(PLAYBOOK, "-e", "commit=broken-build", "-e", "app_rollback_allow_schema_ahead=true")
    assert proc.returncode != 0
    text = proc.stdout.replace("\n", " ")
    words = " ".join(proc.stdout.split())  # YAML output wraps lines and doubles quotes
    assert "TARGET UNHEALTHY: switch failed at" in text
    assert "Switch to %s with a build" % broken[:12] in words and "up failed (exit code 1)" in words
    assert "reverted to %s: healthy" % v1[:12] in text
    assert head(host) == v1
    assert container_image(host, "api") == before  # never stopped, never recreated
    status, body = health(host)
    assert (status, body["commit"]) == (200, v1)
    last = ledger(host)[-1]
    assert (last["to_commit"], last["outcome"], last["revert_health"]["healthy"]) == (broken, "reverted", True)
    assert "switch failed" in last["health"]["reason"]
    assert not host.file(STATE + "/lock").exists


def psql(host, sql):
    """psql over TCP as the app connects (password from the app's .env, in the environment)."""
    env = app_env(host)
    return host.check_output(
        "PGPASSWORD=%s psql -X -h 127.0.0.1 -p %s -U %s -d %s -Atc %s"
        % (shlex.quote(env["POSTGRES_PASSWORD"]), env["POSTGRES_PORT"], env["POSTGRES_USER"], env["POSTGRES_DB"],
           shlex.quote(sql)))


def applied(host):
    """The migrations the app's database has applied."""
    return psql(host, "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1").split()


RENAME = "20250317000000_rename_tag_name"


def test_v5_with_its_migration(host):
    """v5 (on a branch from v2) renames "Tag"."name": deployed with its migration."""
    # v5 from origin (this checkout's generated repo, mounted): the shared image may predate it.
    host.check_output("git -C %s fetch --quiet origin +refs/tags/v5:refs/tags/v5" % APP_DIR)
    host.check_output("git -C %s checkout --quiet --detach %s" % (APP_DIR, sha(host, "v1")))  # after the build test
    proc = run_playbook(PLAYBOOK, "-e", "commit=v5", "-e", "app_rollback_migrate=true")
    assert proc.returncode == 0, proc.stdout
    assert head(host) == sha(host, "v5")
    assert RENAME in applied(host)


@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "apply"])
def test_migration_gate_refuses_a_rollback_across_a_column_rename(host, check_mode):
    """v2's code reads "Tag"."name", which v5's migration renamed: refused with the
    statement quoted and the options, before anything changes (also without --check)."""
    before = (head(host), container_image(host, "api"), container_image(host, "web"), len(ledger(host)), applied(host))
    proc = run_playbook(PLAYBOOK, "-e", "commit=v2", *(["--check"] if check_mode else []))
    assert proc.returncode != 0
    text = " ".join(proc.stdout.split())  # YAML output may wrap long lines
    assert ("the database has 1 migration(s) that v2 (%s) does not know (%s)" % (sha(host, "v2")[:12], RENAME)) in text
    quoted = '%s: ALTER TABLE "Tag" RENAME COLUMN "name" TO "label" -- renames "name" of "Tag"' % RENAME
    assert quoted in text.replace('\\"', '"'), text
    assert "playbooks/full_rollback.yml" in text and "-e app_rollback_allow_schema_ahead=true" in text
    assert "Nothing was changed" in text
    assert (head(host), container_image(host, "api"), container_image(host, "web"), len(ledger(host)),
            applied(host)) == before
    assert health(host)[1]["commit"] == sha(host, "v5")
    assert not host.file(STATE + "/lock").exists


def test_back_to_v1_once_the_rename_is_undone(host):
    """The way out the refusal names, by hand: the rename undone in the database (as a reviewed
    revert migration would). Then only v2's additive migration is ahead of v1: the gate lets it
    through without the override. (Also leaves the app on v1 for test_quick_rollback_notify.)"""
    psql(host, 'ALTER TABLE "Tag" RENAME COLUMN "label" TO "name"; '
               "DELETE FROM _prisma_migrations WHERE migration_name = '%s'" % RENAME)
    proc = run_playbook(PLAYBOOK, "-e", "commit=v1")
    assert proc.returncode == 0, proc.stdout
    assert head(host) == sha(host, "v1") and health(host)[1]["commit"] == sha(host, "v1")
    assert RENAME not in applied(host)
