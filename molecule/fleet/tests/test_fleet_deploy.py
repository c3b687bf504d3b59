"""fleet scenario: deploy.yml over three app servers sharing one database (docs/fleet.md).

Runs after test_fleet.py (every host on v2 again). v5 adds one migration (the rename of
"Tag"."name"). Check mode and a target one host lacks change nothing; a fault on the
second host only (its build reports a wrong commit) puts mr-fleet-1 and -2 back, never
touches mr-fleet-3 and puts the database back once; then the deploy of v5 with the canary
first: one backup, one `migrate deploy`, every host on v5.
"""

from __future__ import annotations

import shlex

import pytest

from conftest import APP_DIR, flat, play
from test_fleet import HOSTS, LOCK, LOCK_HOST, api_container, head, health, image_id, ledger, sha, state

DEPLOY = "playbooks/deploy.yml"
BACKUPS = "/var/lib/maverick-rollback/backups"
RENAME = "20250317000000_rename_tag_name"
MIGRATE_TASK = "TASK [maverick.rollback.app_rollback : Deploy the migrations (prisma migrate deploy)]"
OVERRIDE = APP_DIR + "/compose.override.yaml"


@pytest.fixture(scope="module")
def servers():
    from conftest import docker_exec_host
    return {name: docker_exec_host(name) for name in HOSTS}


def psql(server, sql, db="lifetracker"):
    """On the one database (mr-fleet-1's postgres service), as the app connects."""
    password = server.check_output("sed -n 's/^POSTGRES_PASSWORD=//p' %s/.env" % APP_DIR)
    return server.check_output("PGPASSWORD=%s psql -X -h 127.0.0.1 -p 25610 -U lifetracker -d %s -Atc %s"
                               % (shlex.quote(password), db, shlex.quote(sql)))


def backups(server):
    """The dump files in the host's backup directory (none when it has none)."""
    out = server.run("ls %s" % BACKUPS)
    return sorted(f for f in out.stdout.split() if f.endswith(".dump")) if out.rc == 0 else []


def renamed(server, db="lifetracker"):
    return int(psql(server, "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '%s'" % RENAME, db))


def databases(server):
    return psql(server, "SELECT datname FROM pg_database WHERE datname LIKE 'lifetracker%' ORDER BY 1").split()


def test_deploy_check_mode_prints_the_fleet_plan_and_changes_nothing(servers):
    h1 = servers[LOCK_HOST]
    before, files = state(servers), backups(h1)
    proc = play(DEPLOY, "-e", "commit=v5", check=True)
    assert proc.returncode == 0, proc.stdout
    text = flat(proc.stdout)
    assert "fleet plan: v5 -> %s on 3 host(s), deploy" % sha(h1, "v5")[:12] in text, text
    assert "CHECK MODE: nothing was changed on any host" in text
    assert state(servers) == before and backups(h1) == files
    assert not h1.file(LOCK).exists


def test_deploy_of_a_target_one_host_lacks_is_refused_before_any_change(servers):
    h1 = servers[LOCK_HOST]
    only_here = h1.check_output("git -C %s -c user.name=t -c user.email=t@invalid commit-tree %s -p HEAD -m hotfix"
                                % (APP_DIR, shlex.quote("HEAD^{tree}")))
    before, files = state(servers), backups(h1)
    proc = play(DEPLOY, "-e", "commit=" + only_here)
    assert proc.returncode != 0
    text = flat(proc.stdout)
    assert "refusing the deploy to '%s': it cannot go on on" % only_here in text, text
    assert "host(s). Nothing was changed on any host." in text
    for name in ("mr-fleet-2", "mr-fleet-3"):
        assert "%s: commit %s does not resolve" % (name, only_here) in text
    assert state(servers) == before and backups(h1) == files
    assert not h1.file(LOCK).exists


def test_a_fault_on_the_second_host_puts_the_fleet_and_the_database_back_once(servers):
    """mr-fleet-2 builds v5 reporting a wrong commit (its compose override): mr-fleet-1 (the
    canary, healthy) and mr-fleet-2 end on v2, mr-fleet-3 never switches, the database that v5's
    migration changed is restored once from the one pre-deploy backup."""
    h1, h2, h3 = (servers[h] for h in HOSTS)
    v2, v5 = head(h1), sha(h1, "v5")  # v2 after test_fleet.py
    override = h2.file(OVERRIDE).content_string
    assert "\n  api:\n" in override
    h2.check_output("printf '%%s' %s > %s" % (shlex.quote(override.replace(
        "  api:\n", "  api:\n    build:\n      args:\n        GIT_COMMIT: not-the-release\n", 1)), OVERRIDE))
    untouched, h3_records = api_container(h3, "mr-fleet-3"), len(ledger(h3))
    files, dbs = {n: backups(s) for n, s in servers.items()}, databases(h1)
    try:
        proc = play(DEPLOY, "-e", "commit=v5", "-e", "rehearse=false", "-e", "app_rollback_health_deadline=10",
                    timeout=900)
    finally:
        h2.check_output("printf '%%s' %s > %s" % (shlex.quote(override), OVERRIDE))
    assert proc.returncode != 0
    text = flat(proc.stdout)
    assert "deploy to %s failed on mr-fleet-2; the fleet is back on the releases it ran" % v5[:12] in text, text
    for name, server in (("mr-fleet-1", h1), ("mr-fleet-2", h2)):
        assert head(server) == v2, name
        assert api_container(server, name)[1] == image_id(server, "%s-api:%s" % (name, v2)), name
        assert health(server, name)["commit"] == v2, name
    assert api_container(h3, "mr-fleet-3") == untouched and head(h3) == v2
    assert len(ledger(h3)) == h3_records
    # one backup, on the database host; the migration ran once, then the database went back
    assert len(backups(h1)) == len(files["mr-fleet-1"]) + 1
    assert backups(h2) == files["mr-fleet-2"] and backups(h3) == files["mr-fleet-3"]
    assert proc.stdout.count(MIGRATE_TASK) == 1
    kept = [d for d in databases(h1) if d not in dbs]
    assert len(kept) == 1 and kept[0].startswith("lifetracker_pre_restore_"), kept
    assert renamed(h1, kept[0]) == 1 and renamed(h1) == 0
    assert "database: RESTORED from the pre-deploy backup" in text
    fleet = ledger(h1)[-1]
    assert (fleet["action"], fleet["outcome"], fleet["to_commit"]) == ("fleet_deploy", "reverted", v5)
    assert {h: (r["batch"], r["outcome"]) for h, r in fleet["fleet"]["hosts"].items()} == {
        "mr-fleet-1": (1, "put_back"), "mr-fleet-2": (2, "reverted"), "mr-fleet-3": (0, "")}
    database = fleet["fleet"]["database"]
    assert (database["migrations"], database["restored"], database["kept_as"]) == ([RENAME], True, kept[0])
    assert database["backup"].endswith(backups(h1)[-1])
    assert not h1.file(LOCK).exists
    psql(h1, 'DROP DATABASE "%s"' % kept[0])


def test_deploy_backs_up_and_migrates_once_then_switches_the_canary_first(servers):
    h1 = servers[LOCK_HOST]
    v2, v5 = head(h1), sha(h1, "v5")
    files = {n: backups(s) for n, s in servers.items()}
    # app_serial empty: the deploy's default batches, one host (the canary) then the rest
    proc = play(DEPLOY, "-e", "commit=v5", "-e", '{"app_serial": ""}', timeout=900)
    assert proc.returncode == 0, proc.stdout
    text = flat(proc.stdout)
    assert "deploy of lifetracker to %s (requested 'v5') on 3 host(s) in 2 batch(es): HEALTHY" % v5[:12] in text, text
    assert "migration rehearsal of %s: OK" % v5[:12] in text
    assert proc.stdout.count(MIGRATE_TASK) == 1 and renamed(h1) == 1
    assert len(backups(h1)) == len(files["mr-fleet-1"]) + 1
    assert all(backups(servers[n]) == files[n] for n in ("mr-fleet-2", "mr-fleet-3"))
    started, run_ids = {}, set()
    for name, server in servers.items():
        assert head(server) == v5, name
        cid, image, started[name] = api_container(server, name)
        assert image == image_id(server, "%s-api:%s" % (name, v5)), name
        assert health(server, name) == {"status": "ok", "commit": v5, "database": "ok"}, name
        record = ledger(server)[-1 if name != LOCK_HOST else -2]
        assert (record["action"], record["from_commit"], record["to_commit"], record["outcome"]) == (
            "deploy", v2, v5, "healthy"), name
        run_ids.add(record["run_id"])
    # the canary started before the other two (ISO timestamps, one clock)
    assert started["mr-fleet-1"] < min(started["mr-fleet-2"], started["mr-fleet-3"])
    fleet = ledger(h1)[-1]
    assert (fleet["action"], fleet["outcome"]) == ("fleet_deploy", "healthy")
    assert run_ids == {fleet["run_id"]}  # one run id for every host's record and the fleet's
    assert fleet["fleet"]["batches"] == [["mr-fleet-1"], ["mr-fleet-2", "mr-fleet-3"]]
    assert fleet["fleet"]["database"]["migrations"] == [RENAME]
    assert not h1.file(LOCK).exists
