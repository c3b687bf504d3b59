"""fleet scenario: quick_rollback.yml over three app servers sharing one database.

Tests run in file order and build on each other's state: converge took the fleet from
v2 to v1 one host per batch (building v1 on each); check mode for v2 (nothing changes);
the fleet back to v2 on kept images, three batches in order; v1 again with a fault on
mr-fleet-2 only (its kept v1 image is not v1) -> mr-fleet-1 put back, mr-fleet-2
reverted, mr-fleet-3 never touched; a target only mr-fleet-1 has, refused; the lock
held on the lock host refuses a run limited to mr-fleet-3; commit=previous after different
histories on the hosts picks the newest release healthy on every host.
"""

from __future__ import annotations

import json
import shlex
import time

import pytest

from conftest import APP_DIR, docker_exec_host, flat, play

PLAYBOOK = "playbooks/quick_rollback.yml"
HOSTS = ("mr-fleet-1", "mr-fleet-2", "mr-fleet-3")
LOCK_HOST = "mr-fleet-1"
API_PORT = {"mr-fleet-1": 23610, "mr-fleet-2": 23611, "mr-fleet-3": 23612}
STATE = "/var/lib/maverick-rollback/lifetracker"
LEDGER = STATE + "/ledger.jsonl"
LOCK = STATE + "/lock"


@pytest.fixture(scope="module")
def servers():
    return {name: docker_exec_host(name) for name in HOSTS}


def sha(server, ref):
    return server.check_output("git -C %s rev-parse %s^{commit}" % (APP_DIR, ref))


def head(server):
    return server.check_output("git -C %s rev-parse HEAD" % APP_DIR)


def api_container(server, name):
    """(container id, image id, started at) of the host's running api container."""
    cid = server.check_output("docker ps --filter label=com.docker.compose.project=%s "
                              "--filter label=com.docker.compose.service=api --format '{{.ID}}'" % name)
    image, started = server.check_output("docker inspect --format '{{.Image}} {{.State.StartedAt}}' %s" % cid).split()
    return cid, image, started


def image_id(server, ref):
    return server.check_output("docker image inspect --format '{{.Id}}' %s" % ref)


def health(server, name):
    out = server.run("curl -s http://127.0.0.1:%d/health" % API_PORT[name])
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {}


def ledger(server):
    if not server.file(LEDGER).exists:
        return []
    return [json.loads(line) for line in server.file(LEDGER).content_string.splitlines() if line.strip()]


def state(servers):
    """What a refused run must leave as it was, on every host."""
    return {name: (head(s), api_container(s, name), len(ledger(s))) for name, s in servers.items()}


def test_converged_to_v1_on_every_host_with_one_database(servers):
    v1, v2 = sha(servers[LOCK_HOST], "v1"), sha(servers[LOCK_HOST], "v2")
    for name, server in servers.items():
        assert head(server) == v1, name
        assert api_container(server, name)[1] == image_id(server, "%s-api:%s" % (name, v1)), name
        # /health answers 200 only with its database reachable: every api reads mr-fleet-1's
        assert health(server, name) == {"status": "ok", "commit": v1, "database": "ok"}, name
        last = ledger(server)[-1 if name != LOCK_HOST else -2]
        assert (last["action"], last["from_commit"], last["to_commit"], last["outcome"]) == ("rollback", v2, v1, "healthy")
    # one PostgreSQL: only mr-fleet-1 runs a postgres container
    for name, server in servers.items():
        running = server.check_output("docker ps --filter label=com.docker.compose.project=%s "
                                      "--filter label=com.docker.compose.service=postgres --format '{{.ID}}'" % name)
        assert bool(running) == (name == LOCK_HOST), name
    fleet = ledger(servers[LOCK_HOST])[-1]
    assert (fleet["action"], fleet["to_commit"], fleet["outcome"]) == ("fleet_rollback", v1, "healthy")
    assert fleet["fleet"]["batches"] == [[h] for h in HOSTS]
    assert {h: r["outcome"] for h, r in fleet["fleet"]["hosts"].items()} == dict.fromkeys(HOSTS, "healthy")
    assert fleet["run_id"] == ledger(servers["mr-fleet-3"])[-1]["run_id"]  # one run
    for name, server in servers.items():
        assert not server.file(LOCK).exists, name


def test_health_check_and_list_releases_on_the_group(servers):
    proc = play("playbooks/health_check.yml")
    assert proc.returncode == 0, proc.stdout
    for name in HOSTS:
        assert ("%s " % name) in proc.stdout.split("PLAY RECAP")[1]
    proc = play("playbooks/list_releases.yml")
    assert proc.returncode == 0, proc.stdout


def test_check_mode_prints_the_per_host_plan_and_changes_nothing(servers):
    before = state(servers)
    proc = play(PLAYBOOK, "-e", "commit=v2", check=True)
    assert proc.returncode == 0, proc.stdout
    text = flat(proc.stdout)
    assert "fleet plan: v2 -> %s on 3 host(s)" % sha(servers[LOCK_HOST], "v2")[:12] in text
    for name in HOSTS:
        assert "%s %s -> %s kept images, no build" % (name, sha(servers[name], "v1")[:12],
                                                      sha(servers[name], "v2")[:12]) in text
    assert "CHECK MODE: nothing was changed on any host" in text
    assert state(servers) == before


def test_rolling_rollback_on_kept_images_one_batch_per_host(servers):
    """app_serial: 1 from the inventory: three batches in host order, each gated before the next."""
    v2 = sha(servers[LOCK_HOST], "v2")
    kept = {name: image_id(s, "%s-api:%s" % (name, v2)) for name, s in servers.items()}
    proc = play(PLAYBOOK, "-e", "commit=v2")
    assert proc.returncode == 0, proc.stdout
    assert "Building" not in proc.stdout and "build (no kept images" not in proc.stdout
    started = []
    for name, server in servers.items():
        assert head(server) == v2, name
        image, at = api_container(server, name)[1:]
        assert image == kept[name], name  # the kept image: no build on any host
        assert health(server, name)["commit"] == v2, name
        record = ledger(server)[-1 if name != LOCK_HOST else -2]
        assert (record["to_commit"], record["outcome"], record["reused_images"]) == (v2, "healthy", True)
        started.append(at)
    assert started == sorted(started)  # batch 1, then 2, then 3
    fleet = ledger(servers[LOCK_HOST])[-1]
    assert fleet["fleet"]["batches"] == [[h] for h in HOSTS] and fleet["outcome"] == "healthy"
    assert [fleet["fleet"]["hosts"][h]["batch"] for h in HOSTS] == [1, 2, 3]


def test_a_fault_on_the_second_host_puts_the_fleet_back(servers):
    """mr-fleet-2's kept v1 image is not v1 (its /health reports v2): mr-fleet-1 (switched in
    batch 1) and mr-fleet-2 end on v2 again, mr-fleet-3 is never touched, the ledger says so."""
    h1, h2, h3 = (servers[h] for h in HOSTS)
    v1, v2 = sha(h1, "v1"), sha(h1, "v2")
    good_v1 = image_id(h2, "mr-fleet-2-api:%s" % v1)
    h2.check_output("docker tag mr-fleet-2-api:%s mr-fleet-2-api:%s" % (v2, v1))
    untouched = api_container(h3, "mr-fleet-3")
    h3_records = len(ledger(h3))
    try:
        proc = play(PLAYBOOK, "-e", "commit=v1", "-e", "app_rollback_health_deadline=10")
    finally:
        h2.check_output("docker tag %s mr-fleet-2-api:%s" % (good_v1, v1))
    assert proc.returncode != 0, proc.stdout
    text = flat(proc.stdout)
    assert "rollback to %s failed on mr-fleet-2; the fleet is back on the releases it ran" % v1[:12] in text
    assert "Building" not in proc.stdout
    for name, server in (("mr-fleet-1", h1), ("mr-fleet-2", h2)):
        assert head(server) == v2, name
        assert api_container(server, name)[1] == image_id(server, "%s-api:%s" % (name, v2)), name
        assert health(server, name)["commit"] == v2, name
        record = ledger(server)[-1 if name != LOCK_HOST else -2]
        assert (record["to_commit"], record["outcome"], record["revert_health"]["healthy"]) == (v1, "reverted", True)
    assert "wrong commit" in ledger(h2)[-1]["health"]["reason"]
    assert ledger(h1)[-2]["health"]["healthy"] is True  # mr-fleet-1 was healthy on v1, put back for the fleet
    assert api_container(h3, "mr-fleet-3") == untouched and head(h3) == v2
    assert len(ledger(h3)) == h3_records
    fleet = ledger(h1)[-1]
    assert (fleet["action"], fleet["outcome"], fleet["to_commit"]) == ("fleet_rollback", "reverted", v1)
    assert {h: (r["batch"], r["outcome"]) for h, r in fleet["fleet"]["hosts"].items()} == {
        "mr-fleet-1": (1, "put_back"), "mr-fleet-2": (2, "reverted"), "mr-fleet-3": (0, "")}
    assert fleet["fleet"]["stopped_by_batch"] == 2
    assert not h1.file(LOCK).exists


def test_a_target_only_one_host_has_is_refused_before_any_change(servers):
    h1 = servers[LOCK_HOST]
    # a commit in mr-fleet-1's repository only (HEAD and work tree untouched)
    only_here = h1.check_output("git -C %s -c user.name=t -c user.email=t@invalid commit-tree %s -p HEAD -m hotfix"
                                % (APP_DIR, shlex.quote("HEAD^{tree}")))
    before = state(servers)
    proc = play(PLAYBOOK, "-e", "commit=" + only_here)
    assert proc.returncode != 0
    text = flat(proc.stdout)
    assert ("refusing the rollback to '%s': it cannot go on on 2 of 3 host(s). Nothing was changed on any host."
            % only_here) in text
    for name in ("mr-fleet-2", "mr-fleet-3"):
        assert "%s: commit %s does not resolve" % (name, only_here) in text, text
    assert "mr-fleet-1: " not in text.split("Nothing was changed on any host.")[1].split("PLAY RECAP")[0]
    assert state(servers) == before
    assert not h1.file(LOCK).exists


def test_the_lock_on_the_lock_host_refuses_a_run_on_another_host(servers):
    """Another run holds the fleet's lock (on mr-fleet-1): a run limited to mr-fleet-3 is refused."""
    h1 = servers[LOCK_HOST]
    now = time.time()
    holder = {"run_id": "other-run", "owner": "night-shift", "controller": "awx-1", "ttl": 1800,
              "started_epoch": now, "started": "now", "heartbeat_epoch": now, "awx_job_id": "42"}
    h1.check_output("printf '%%s' %s > %s" % (shlex.quote(json.dumps(holder)), LOCK))
    try:
        before = state(servers)
        proc = play(PLAYBOOK, "-e", "commit=v1", "--limit", "mr-fleet-3")
        assert proc.returncode != 0
        assert "another run holds the lock" in proc.stdout and "night-shift" in proc.stdout, proc.stdout
        assert state(servers) == before
        assert json.loads(h1.file(LOCK).content_string)["run_id"] == "other-run"
    finally:
        h1.run("grep -qs '\"other-run\"' %s && rm -f %s" % (LOCK, LOCK))


def test_previous_is_the_newest_release_healthy_on_every_host(servers):
    """Different histories: mr-fleet-1's ledger says v3 ran healthy after v2, mr-fleet-2's says v4 did
    (each host's own previous differs: one server alone still takes its own); on the group,
    commit=previous is v1, the newest release healthy on all three, switched on its kept images."""
    h1, h2 = servers["mr-fleet-1"], servers["mr-fleet-2"]
    v1, v2, v3, v4 = (sha(h1, ref) for ref in ("v1", "v2", "v3", "v4"))
    for name in HOSTS:
        assert head(servers[name]) == v2, name  # where the tests before left the fleet
    for server, other in ((h1, v3), (h2, v4)):
        record = {"action": "rollback", "app": "lifetracker", "from_commit": v2, "to_commit": other,
                  "outcome": "healthy", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "run_id": "other-history"}
        server.check_output("printf '%%s\\n' %s >> %s" % (shlex.quote(json.dumps(record)), LEDGER))

    # one server on its own: its own ledger's previous (v3), as before
    before = state(servers)
    proc = play(PLAYBOOK, "-e", "commit=previous", "--limit", "mr-fleet-1", check=True)
    assert "commit=previous: %s, the last healthy release before this one in the ledger" % v3[:12] in flat(proc.stdout)
    assert state(servers) == before

    kept = {name: image_id(s, "%s-api:%s" % (name, v1)) for name, s in servers.items()}
    proc = play(PLAYBOOK, "-e", "commit=previous")
    assert proc.returncode == 0, proc.stdout
    assert "commit=previous on 3 host(s): %s, the newest release healthy on every host" % v1[:12] in flat(proc.stdout)
    assert "Building" not in proc.stdout
    for name, server in servers.items():
        assert head(server) == v1, name
        assert api_container(server, name)[1] == kept[name], name
        assert health(server, name)["commit"] == v1, name
        record = ledger(server)[-1 if name != LOCK_HOST else -2]
        assert (record["from_commit"], record["to_commit"], record["outcome"]) == (v2, v1, "healthy"), name
    fleet = ledger(h1)[-1]
    assert (fleet["action"], fleet["requested"], fleet["to_commit"], fleet["outcome"]) == (
        "fleet_rollback", "previous", v1, "healthy")
    assert not h1.file(LOCK).exists
