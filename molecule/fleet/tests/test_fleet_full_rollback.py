"""fleet scenario: full_rollback.yml over three app servers sharing one database (docs/fleet.md).

Runs after test_fleet_deploy.py (file order): every host runs v5, whose migration (the rename of
"Tag"."name") ran once on mr-fleet-1's database after its verified pre-deploy backup; the target is
the commit every host ran before (its fleet_deploy record: v1 or v2, as test_fleet.py left them). Check mode,
a missing confirmation and a target one host lacks change nothing; a fault on the second host
after the restore puts the database back once and every host on v5; the same fault with an undo
that fails too leaves the restored database live and says so, and the undo it names puts the previous
one back; a host whose app cannot be stopped stops the run before the restore; then the full rollback to it:
the database restored once, on mr-fleet-1, from that pre-deploy backup (the migration gone, a row
written since then gone), every host on v2 on its kept images, healthy; one `restore` record, the
hosts' `rollback` records and one `fleet_full_rollback` record. The database set aside is dropped.
"""

from __future__ import annotations

import json
import shlex

import pytest

from conftest import APP_DIR, docker_exec_host, flat, play
from test_fleet import HOSTS, LOCK, LOCK_HOST, API_PORT, api_container, head, health, image_id, ledger, sha, state
from test_fleet_deploy import backups, databases, psql, renamed

FULL = "playbooks/full_rollback.yml"
YES = ("-e", "confirm=yes")


@pytest.fixture(scope="module")
def servers():
    return {name: docker_exec_host(name) for name in HOSTS}


def titles(server):
    return titles_in(server, "lifetracker")


def titles_in(server, db):
    return psql(server, 'SELECT title FROM "Entry" ORDER BY id', db).splitlines()


def before_v5(server):
    """(the commit every host ran before the healthy fleet deploy of v5, its verified pre-deploy backup),
    from the deploy's fleet record: the target of the full rollback (before=<it> picks that backup)."""
    deploys = [r for r in ledger(server) if r["action"] == "fleet_deploy" and r["outcome"] == "healthy"]
    assert deploys, "test_fleet_deploy.py left no healthy fleet deploy"
    froms = {r["from"] for r in deploys[-1]["fleet"]["hosts"].values()}
    assert len(froms) == 1, froms
    return froms.pop(), deploys[-1]["fleet"]["database"]["backup"]


def unchanged(servers):
    """What a refused or check run leaves as it was: commits, api containers, ledgers, the database."""
    h1 = servers[LOCK_HOST]
    return state(servers), databases(h1), backups(h1), renamed(h1)


def test_check_mode_prints_the_per_host_and_database_plans_and_changes_nothing(servers):
    h1 = servers[LOCK_HOST]
    (v2, backup), v5 = before_v5(h1), sha(h1, "v5")
    assert all(head(s) == v5 for s in servers.values()), "test_fleet_deploy.py leaves every host on v5"
    before = unchanged(servers)
    proc = play(FULL, "-e", "commit=" + v2, check=True)
    assert proc.returncode == 0, proc.stdout
    text = flat(proc.stdout)
    assert "fleet plan: %s -> %s on 3 host(s), full_rollback" % (v2, v2[:12]) in text, text
    for name in HOSTS:
        assert "%s %s -> %s kept images, no build" % (name, v5[:12], v2[:12]) in text, name
    # the database plan, once, on the lock host: the pre-deploy backup it would restore
    assert backup.rsplit("/", 1)[-1] in text
    assert "CHECK MODE: nothing was changed on any host" in text
    assert unchanged(servers) == before
    assert not h1.file(LOCK).exists


def test_without_confirmation_or_to_a_target_one_host_lacks_nothing_changes(servers):
    h1 = servers[LOCK_HOST]
    v2 = before_v5(h1)[0]
    before = unchanged(servers)
    proc = play(FULL, "-e", "commit=" + v2)
    assert proc.returncode != 0
    text = flat(proc.stdout)
    assert "refusing to replace the database and the app of 3 host(s) without confirmation" in text, text
    assert "Nothing was changed on any host." in text
    assert unchanged(servers) == before
    for name, server in servers.items():
        assert health(server, name)["database"] == "ok", name  # no api was stopped
    only_here = h1.check_output("git -C %s -c user.name=t -c user.email=t@invalid commit-tree %s -p %s -m hotfix"
                                % (APP_DIR, shlex.quote(v2 + "^{tree}"), v2))
    proc = play(FULL, "-e", "commit=" + only_here, *YES)
    assert proc.returncode != 0
    text = flat(proc.stdout)
    assert "refusing the full_rollback to '%s': it cannot go on on 2 of 3 host(s)." % only_here in text, text
    for name in ("mr-fleet-2", "mr-fleet-3"):
        assert "%s: commit %s does not resolve" % (name, only_here) in text
    assert unchanged(servers) == before
    assert not h1.file(LOCK).exists


def add_entry(servers, name, title):
    """A row written through that host's api (on the one database)."""
    out = servers[name].check_output(
        "curl -sf -X POST -H 'Content-Type: application/json' -d %s http://127.0.0.1:%d/entries"
        % (shlex.quote(json.dumps({"title": title})), API_PORT[name]))
    assert json.loads(out)["title"] == title


def test_a_fault_on_the_second_host_puts_the_database_back_once_and_every_host_on_v5(servers):
    """mr-fleet-2's kept v2 image is v5's (its /health reports v5): after the restore, mr-fleet-1
    switches healthy, mr-fleet-2 fails its gate, mr-fleet-3 is never switched (its app stopped for the
    restore). The previous database goes back once, then every host back on v5, healthy."""
    h1, h2, h3 = (servers[h] for h in HOSTS)
    v2, v5 = before_v5(h1)[0], sha(h1, "v5")
    add_entry(servers, "mr-fleet-2", "ffull-kept")  # written after the backup: back with the previous database
    rows, dbs = titles(h1), databases(h1)
    records = {n: len(ledger(s)) for n, s in servers.items()}
    good_v2 = image_id(h2, "mr-fleet-2-api:%s" % v2)
    h2.check_output("docker tag mr-fleet-2-api:%s mr-fleet-2-api:%s" % (v5, v2))
    try:
        proc = play(FULL, "-e", "commit=" + v2, *YES, "-e", "app_rollback_health_deadline=10", timeout=900)
    finally:
        h2.check_output("docker tag %s mr-fleet-2-api:%s" % (good_v2, v2))
    try:
        assert proc.returncode != 0, proc.stdout
        text = flat(proc.stdout)
        assert "full_rollback to %s failed on mr-fleet-2; the fleet is back on the releases it ran" % v2[:12] in text, text
        assert "database: PUT BACK: the previous database is live again" in text
        # the database of before the run: v5's migration, the row written after the backup
        assert renamed(h1) == 1 and titles(h1) == rows
        aside = [d for d in databases(h1) if d not in dbs]
        assert len(aside) == 1 and renamed(h1, aside[0]) == 0, aside  # the restored one, set aside by the undo
        for name, server in servers.items():
            assert head(server) == v5, name
            assert api_container(server, name)[1] == image_id(server, "%s-api:%s" % (name, v5)), name
            assert health(server, name) == {"status": "ok", "commit": v5, "database": "ok"}, name
        new = {n: ledger(s)[records[n]:] for n, s in servers.items()}
        assert [(r["action"], r["outcome"]) for r in new[LOCK_HOST] if r["action"].startswith("restore")] == [
            ("restore", "restored"), ("restore_undo", "restored")]
        assert [(r["action"], r["to_commit"], r["outcome"]) for r in new["mr-fleet-2"]] == [("rollback", v2, "reverted")]
        assert new["mr-fleet-3"] == []  # never switched: no release record
        fleet = new[LOCK_HOST][-1]
        assert (fleet["action"], fleet["outcome"], fleet["to_commit"]) == ("fleet_full_rollback", "reverted", v2)
        assert {h: (r["batch"], r["outcome"]) for h, r in fleet["fleet"]["hosts"].items()} == {
            "mr-fleet-1": (1, "put_back"), "mr-fleet-2": (2, "reverted"), "mr-fleet-3": (0, "restarted")}
        assert (fleet["fleet"]["database"]["touched"], fleet["fleet"]["database"]["restored"]) == (True, True)
        assert not h1.file(LOCK).exists
    finally:
        for name in [d for d in databases(h1) if d not in dbs]:
            psql(h1, 'DROP DATABASE "%s"' % name)
        psql(h1, "DELETE FROM \"Entry\" WHERE title = 'ffull-kept'")


def fault_on_mr_fleet_2(servers, v2, v5):
    """mr-fleet-2's kept v2 image made v5's (its /health reports v5, so its gate on v2 fails); undo()
    gives the kept v2 image its tag back."""
    h2 = servers["mr-fleet-2"]
    good_v2 = image_id(h2, "mr-fleet-2-api:%s" % v2)
    h2.check_output("docker tag mr-fleet-2-api:%s mr-fleet-2-api:%s" % (v5, v2))
    return lambda: h2.check_output("docker tag %s mr-fleet-2-api:%s" % (good_v2, v2))


def test_a_fault_whose_undo_fails_too_leaves_the_restored_database_live_and_says_how_to_put_it_back(servers):
    """The fault above, and the previous database cannot be put back (the undo is pointed at a database
    that does not exist: -e db_restore_undo_database wins over the playbook's). The run fails, never
    HEALTHY; every host is back on v5 on the database restored from the backup; the summary and the
    fleet's record say which database is live, where the previous one is and the command that puts it
    back; the lock is given back. Then that command: the previous database live again, every host healthy."""
    h1 = servers[LOCK_HOST]
    (v2, backup), v5 = before_v5(h1), sha(h1, "v5")
    add_entry(servers, "mr-fleet-2", "ffail-aside")  # written after the backup: only in the previous database
    rows, dbs = titles(h1), databases(h1)
    records = {n: len(ledger(s)) for n, s in servers.items()}
    undo_fault = fault_on_mr_fleet_2(servers, v2, v5)
    try:
        proc = play(FULL, "-e", "commit=" + v2, *YES, "-e", "app_rollback_health_deadline=10",
                    "-e", "db_restore_undo_database=lifetracker_pre_restore_gone", timeout=900)
    finally:
        undo_fault()
    try:
        assert proc.returncode != 0, proc.stdout
        text = flat(proc.stdout)
        kept = [d for d in databases(h1) if d not in dbs]
        assert len(kept) == 1 and kept[0].startswith("lifetracker_pre_restore_"), kept
        kept = kept[0]
        # live: the backup's database (no v5 migration, not the row written since); set aside: the previous one
        assert renamed(h1) == 0 and "ffail-aside" not in titles(h1)
        assert renamed(h1, kept) == 1 and titles_in(h1, kept) == rows
        for name, server in servers.items():  # every host back on v5, its kept image, answering
            assert head(server) == v5, name
            assert api_container(server, name)[1] == image_id(server, "%s-api:%s" % (name, v5)), name
            assert health(server, name) == {"status": "ok", "commit": v5, "database": "ok"}, name
        # never a success: the head line, the failure and the record say the database was not put back
        assert "on 3 host(s) in 2 batch(es): FAILED; fleet record on mr-fleet-1" in text, text
        assert ": HEALTHY;" not in text and "FULL ROLLBACK DONE" not in text
        undo = ("ansible-playbook playbooks/db_restore.yml -e db_restore_undo=true -e db_restore_undo_database=%s "
                "-e db_restore_confirm=yes" % kept)
        message = ("full_rollback to %s failed on mr-fleet-2; the hosts went back on the releases they ran, but THE "
                   "PREVIOUS DATABASE WAS NOT PUT BACK: the live database is still the one restored from %s (the "
                   "target's schema), the previous one is kept as %s; put it back: %s" % (v2[:12], backup, kept, undo))
        assert message in text, text
        assert "database: LIVE is still the one restored from %s (the target's schema)" % backup in text
        new = {n: ledger(s)[records[n]:] for n, s in servers.items()}
        assert [(r["action"], r["outcome"]) for r in new[LOCK_HOST] if r["action"].startswith("restore")] == [
            ("restore", "restored")]  # the undo was refused before it changed anything: no record
        fleet = new[LOCK_HOST][-1]
        assert (fleet["action"], fleet["outcome"], fleet["message"]) == ("fleet_full_rollback", "failed", message)
        assert {h: r["outcome"] for h, r in fleet["fleet"]["hosts"].items()} == {
            "mr-fleet-1": "put_back", "mr-fleet-2": "reverted", "mr-fleet-3": "restarted"}
        database = fleet["fleet"]["database"]
        assert (database["backup"], database["kept_as"], database["touched"], database["restored"]) == (
            backup, kept, True, False)
        assert "lifetracker_pre_restore_gone" in database["restore_error"]
        assert not h1.file(LOCK).exists
        # the command the run names puts the previous database back under the running hosts
        recovered = play("playbooks/db_restore.yml", *undo.split()[2:], timeout=600)
        assert recovered.returncode == 0, recovered.stdout
        assert renamed(h1) == 1 and titles(h1) == rows and kept not in databases(h1)
        for name, server in servers.items():
            assert health(server, name) == {"status": "ok", "commit": v5, "database": "ok"}, name
        assert not h1.file(LOCK).exists
    finally:
        if renamed(h1) == 1:  # the previous database is live: drop the ones set aside (never it otherwise)
            for name in [d for d in databases(h1) if d not in dbs]:
                psql(h1, 'DROP DATABASE "%s"' % name)
        psql(h1, "DELETE FROM \"Entry\" WHERE title = 'ffail-aside'")


# A docker CLI on mr-fleet-3 whose `docker compose ... stop` fails (everything else runs the real one).
FAILING_STOP = """#!/bin/sh
case " $* " in *" compose"*" stop "*) echo "injected fault: docker compose stop fails" >&2; exit 1;; esac
exec /usr/bin/docker "$@"
"""


def test_a_host_whose_app_cannot_stop_stops_the_run_before_the_restore(servers):
    """mr-fleet-3 cannot stop its api before the restore: the database is not restored (no safety backup,
    no scratch, no swap), every host keeps or gets back its app on v5, the run fails naming mr-fleet-3,
    the lock is given back."""
    h1, h3 = servers[LOCK_HOST], servers["mr-fleet-3"]
    (v2, backup), v5 = before_v5(h1), sha(h1, "v5")
    rows, dbs, files = titles(h1), databases(h1), {n: backups(s) for n, s in servers.items()}
    records = {n: len(ledger(s)) for n, s in servers.items()}
    h3.check_output("printf %%s %s > /usr/local/bin/docker && chmod 0755 /usr/local/bin/docker" % shlex.quote(FAILING_STOP))
    try:
        assert "injected fault" in h3.run("docker compose stop --help").stderr  # the wrapper answers first
        proc = play(FULL, "-e", "commit=" + v2, *YES, timeout=900)
    finally:
        h3.check_output("rm -f /usr/local/bin/docker")
    assert proc.returncode != 0, proc.stdout
    text = flat(proc.stdout)
    assert ("full_rollback to %s failed at its restore step, before any host switched (refusing to restore the "
            "database: the app of mr-fleet-3 did not stop (stop failed:" % v2[:12]) in text, text
    assert "the fleet is back on the releases it ran" in text
    # nothing destructive: the same databases, rows and schema; no backup anywhere
    assert (databases(h1), titles(h1), renamed(h1)) == (dbs, rows, 1)
    assert {n: backups(s) for n, s in servers.items()} == files
    for name, server in servers.items():
        assert head(server) == v5, name
        assert api_container(server, name)[1] == image_id(server, "%s-api:%s" % (name, v5)), name
        assert health(server, name) == {"status": "ok", "commit": v5, "database": "ok"}, name
    new = {n: ledger(s)[records[n]:] for n, s in servers.items()}
    assert new["mr-fleet-2"] == [] and new["mr-fleet-3"] == []  # no host switched
    assert [r["action"] for r in new[LOCK_HOST]] == ["fleet_full_rollback"]  # no restore record
    fleet = new[LOCK_HOST][0]
    assert fleet["outcome"] == "reverted" and "the app of mr-fleet-3 did not stop" in fleet["message"]
    assert fleet["fleet"]["database"]["touched"] is False
    assert {h: r["outcome"] for h, r in fleet["fleet"]["hosts"].items()} == dict.fromkeys(HOSTS, "restarted")
    assert not h1.file(LOCK).exists


def test_full_rollback_restores_the_database_once_and_every_host_runs_the_target(servers):
    h1 = servers[LOCK_HOST]
    (v2, backup), v5 = before_v5(h1), sha(h1, "v5")
    expected = titles(h1)
    # a row written on v5 after the pre-deploy backup: the restore takes the database back before it
    add_entry(servers, "mr-fleet-3", "ffull-lost")
    assert titles(h1) == expected + ["ffull-lost"]
    assert renamed(h1) == 1
    dbs, files = databases(h1), {n: backups(s) for n, s in servers.items()}
    records = {n: len(ledger(s)) for n, s in servers.items()}
    proc = play(FULL, "-e", "commit=" + v2, *YES, timeout=900)
    text = flat(proc.stdout)
    assert proc.returncode == 0, proc.stdout
    assert "full_rollback of lifetracker to %s (requested '%s') on 3 host(s) in 3 batch(es): HEALTHY" % (v2[:12], v2) in text, text
    # the database: the pre-deploy backup's rows and schema, restored once (one database set aside)
    assert titles(h1) == expected
    assert renamed(h1) == 0
    aside = [d for d in databases(h1) if d not in dbs]
    assert len(aside) == 1 and aside[0].startswith("lifetracker_pre_restore_"), aside
    assert renamed(h1, aside[0]) == 1
    assert "database: restored once from %s" % backup in text
    # every host on v2, on its kept v2 image, healthy on the one database
    for name, server in servers.items():
        assert head(server) == v2, name
        assert api_container(server, name)[1] == image_id(server, "%s-api:%s" % (name, v2)), name
        assert health(server, name) == {"status": "ok", "commit": v2, "database": "ok"}, name
    # the ledgers: one restore (the lock host), one rollback per host, one fleet record
    new = {n: ledger(s)[records[n]:] for n, s in servers.items()}
    restores = [r for n in HOSTS for r in new[n] if r["action"].startswith("restore")]
    run_ids = {r["run_id"] for n in HOSTS for r in new[n]}
    assert [(r["action"], r["outcome"], r["backup"]) for r in restores] == [("restore", "restored", backup)]
    assert restores[0] in new[LOCK_HOST]
    for name in HOSTS:
        rollback = [r for r in new[name] if r["action"] == "rollback"]
        assert [(r["from_commit"], r["to_commit"], r["outcome"], r["full_rollback"], r["restored_backup"])
                for r in rollback] == [(v5, v2, "healthy", True, backup)], name
    assert [r["action"] for r in new["mr-fleet-2"]] == ["rollback"]
    assert [r["action"] for r in new["mr-fleet-3"]] == ["rollback"]
    fleet = new[LOCK_HOST][-1]
    assert (fleet["action"], fleet["outcome"], fleet["to_commit"], fleet["requested"]) == (
        "fleet_full_rollback", "healthy", v2, v2)
    assert fleet["fleet"]["batches"] == [[h] for h in HOSTS]
    assert {h: r["outcome"] for h, r in fleet["fleet"]["hosts"].items()} == dict.fromkeys(HOSTS, "healthy")
    database = fleet["fleet"]["database"]
    assert (database["backup"], database["kept_as"], database["touched"], database["restored"]) == (
        backup, aside[0], True, False)
    assert len(run_ids) == 1, run_ids  # one run: every host's records and the fleet's
    # no host made a backup of its own (the safety backup is the lock host's, in its own directory)
    assert all(backups(servers[n]) == files[n] for n in HOSTS)
    assert not h1.file(LOCK).exists
    for number, name in enumerate(HOSTS, start=1):  # the per-host table
        assert "%s batch %d %s -> %s switched, healthy" % (name, number, v5[:12], v2[:12]) in text, name
    psql(h1, 'DROP DATABASE "%s"' % aside[0])
