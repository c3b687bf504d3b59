"""fleet scenario: the database playbooks on a group of app servers sharing one database.

The three servers share mr-fleet-1's PostgreSQL; mr-fleet-1 is app_fleet_lock_host. The
database steps of db_backup.yml, migration_resolve.yml and db_restore.yml run once, on
it; the other hosts end early (db_restore: they stop their api before the swap and start
it again after, gated on /health). Each test leaves the fleet as it found it: backups it
made are removed, rows it added are deleted, databases set aside are dropped.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime, timezone

import pytest

from conftest import APP_DIR, docker_exec_host, flat, play
from test_fleet import API_PORT, health

HOSTS = ("mr-fleet-1", "mr-fleet-2", "mr-fleet-3")
LOCK_HOST = "mr-fleet-1"
OTHERS = ("mr-fleet-2", "mr-fleet-3")
DB_PORT = 25610
STATE = "/var/lib/maverick-rollback"
BACKUPS = STATE + "/backups"
LEDGER = STATE + "/lifetracker/ledger.jsonl"
LOCK = STATE + "/lifetracker/lock"
YES = ("-e", "db_restore_confirm=yes")


@pytest.fixture(scope="module")
def servers():
    return {name: docker_exec_host(name) for name in HOSTS}


def ledger(server):
    if not server.file(LEDGER).exists:
        return []
    return [json.loads(line) for line in server.file(LEDGER).content_string.splitlines() if line.strip()]


def files(server, directory=BACKUPS):
    """Every file under the backup dir (safety backups in its subfolders too)."""
    return set(server.run("find %s -type f" % directory).stdout.split())


def psql(server, sql, db="lifetracker"):
    """SQL on the one database (mr-fleet-1's postgres, published on 127.0.0.1)."""
    cmd = ("PGPASSWORD=\"$(sed -n 's/^POSTGRES_PASSWORD=//p' %s/.env)\" psql -X -A -t -q -v ON_ERROR_STOP=1 "
           "-h 127.0.0.1 -p %d -U lifetracker -d %s -c %s" % (APP_DIR, DB_PORT, db, shlex.quote(sql)))
    return server.check_output(cmd)


def titles(server):
    return psql(server, 'SELECT title FROM "Entry" ORDER BY id').splitlines()


def databases(server):
    return psql(server, "SELECT datname FROM pg_database WHERE datname LIKE 'lifetracker%' ORDER BY 1",
                "postgres").split()


def add_entry(server, name, title):
    """A row written through that host's api (so its api reaches the one database)."""
    out = server.check_output("curl -sf -X POST -H 'Content-Type: application/json' -d %s http://127.0.0.1:%d/entries"
                              % (shlex.quote(json.dumps({"title": title})), API_PORT[name]))
    assert json.loads(out)["title"] == title


def when(stamp):
    """Docker's RFC 3339 time (nanoseconds, trailing zeros trimmed) as a datetime."""
    day, clock, frac = re.match(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", stamp).groups()
    return datetime.strptime("%sT%s.%sZ" % (day, clock, (frac or "0")[:6].ljust(6, "0")),
                             "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def api(server, name):
    """(container id, started at, finished at) of the host's api container, running or not."""
    cid = server.check_output("docker ps -a --filter label=com.docker.compose.project=%s "
                              "--filter label=com.docker.compose.service=api --format '{{.ID}}'" % name)
    started, finished = server.check_output(
        "docker inspect --format '{{.State.StartedAt}} {{.State.FinishedAt}}' %s" % cid).split()
    return cid, when(started), when(finished)


def snapshot(servers):
    """What a run that changes nothing leaves as it was, on every host."""
    return {name: (api(s, name), len(ledger(s)), files(s)) for name, s in servers.items()}


@pytest.fixture
def made_here(servers):
    """Backups the test makes (on any host) are removed afterwards."""
    before = {name: files(s) for name, s in servers.items()}
    yield
    for name, server in servers.items():
        new = files(server) - before[name]
        if new:
            server.check_output("rm -f %s" % " ".join(sorted(new)))


def test_db_backup_on_the_group_backs_up_once_on_the_lock_host(servers, made_here):
    before = {name: (files(s), len(ledger(s))) for name, s in servers.items()}
    proc = play("playbooks/db_backup.yml")
    assert proc.returncode == 0, proc.stdout
    new = {name: files(s) - before[name][0] for name, s in servers.items()}
    # one backup and its manifest, on the lock host only
    assert len(new[LOCK_HOST]) == 2 and {p.rsplit(".", 1)[-1] for p in new[LOCK_HOST]} == {"dump", "json"}, new
    assert all(not new[name] for name in OTHERS), new
    records = ledger(servers[LOCK_HOST])[before[LOCK_HOST][1]:]
    assert [(r["action"], r["outcome"]) for r in records] == [("backup", "verified")]
    assert records[0]["path"] in new[LOCK_HOST]
    for name in OTHERS:
        assert len(ledger(servers[name])) == before[name][1], name
    text = flat(proc.stdout)
    for name in OTHERS:
        assert "runs once, on %s (app_fleet_lock_host): nothing to do on %s" % (LOCK_HOST, name) in text
    assert not servers[LOCK_HOST].file(LOCK).exists


def test_migration_resolve_on_the_group_reads_the_status_once(servers):
    before = snapshot(servers)
    proc = play("playbooks/migration_resolve.yml")
    assert proc.returncode == 0, proc.stdout
    # the status (prisma) ran on the lock host only: the other hosts ended after the lock host check
    ok = {name: int(count) for name, count in re.findall(r"^(mr-fleet-\d)\s*: ok=(\d+)", proc.stdout, re.M)}
    assert set(ok) == set(HOSTS), proc.stdout
    assert all(ok[name] <= 3 for name in OTHERS) and ok[LOCK_HOST] > 10, ok
    assert "nothing to do on mr-fleet-2" in flat(proc.stdout) and "nothing to do on mr-fleet-3" in flat(proc.stdout)
    assert snapshot(servers) == before


def test_db_restore_without_confirmation_on_the_group_stops_nothing(servers, made_here):
    backup = play("playbooks/db_backup.yml")
    assert backup.returncode == 0, backup.stdout
    before = snapshot(servers)
    proc = play("playbooks/db_restore.yml", "-e", "db_restore_backup=latest")
    assert proc.returncode != 0, proc.stdout
    assert "without confirmation" in flat(proc.stdout)
    assert snapshot(servers) == before
    for name, server in servers.items():
        assert health(server, name)["database"] == "ok", name
    assert not servers[LOCK_HOST].file(LOCK).exists


def test_db_restore_on_the_group_restores_once_with_every_api_stopped(servers, made_here):
    h1 = servers[LOCK_HOST]
    dbs = databases(h1)
    add_entry(servers["mr-fleet-2"], "mr-fleet-2", "fleet-kept")
    backup = play("playbooks/db_backup.yml")
    assert backup.returncode == 0, backup.stdout
    path = ledger(h1)[-1]["path"]
    expected = titles(h1)
    add_entry(servers["mr-fleet-3"], "mr-fleet-3", "fleet-lost")
    assert titles(h1) == expected + ["fleet-lost"]
    before = {name: (api(s, name), len(ledger(s))) for name, s in servers.items()}
    try:
        proc = play("playbooks/db_restore.yml", "-e", "db_restore_backup=" + path, *YES)
        assert proc.returncode == 0, proc.stdout
        # the rows of the backup, through every host's api
        assert titles(h1) == expected
        after = {name: api(s, name) for name, s in servers.items()}
        for name, server in servers.items():
            cid, started, finished = after[name]
            assert cid == before[name][0][0], name  # the same container, stopped and started
            assert started > before[name][0][1], name
            assert health(server, name) == {"status": "ok", "commit": health(h1, LOCK_HOST)["commit"],
                                            "database": "ok"}, name
        # the other hosts' api stopped before the lock host's (stopped for the swap only)
        # and started after it was healthy again
        for name in OTHERS:
            assert after[name][2] < after[LOCK_HOST][2], name
            assert after[name][1] > after[LOCK_HOST][1], name
        # exactly one restore, recorded on the lock host; the other ledgers unchanged
        records = ledger(h1)[before[LOCK_HOST][1]:]
        restores = [r for r in records if r["action"] != "backup"]  # besides the safety backup's record
        assert [(r["action"], r["outcome"]) for r in restores] == [("restore", "restored")]
        assert restores[0]["backup"] == path and len(records) <= 2
        for name in OTHERS:
            assert len(ledger(servers[name])) == before[name][1], name
        assert not h1.file(LOCK).exists
        text = flat(proc.stdout)
        for name in OTHERS:
            assert "%s services stopped for the restore, started again: healthy" % name in text
    finally:
        # as found: the database set aside dropped (on the group: once, on the lock host), the row deleted
        aside = [d for d in databases(h1) if d not in dbs]
        if aside:
            drop = play("playbooks/db_restore.yml", "-e", "db_restore_drop_databases=" + ",".join(aside), *YES)
            assert drop.returncode == 0, drop.stdout
        psql(h1, "DELETE FROM \"Entry\" WHERE title IN ('fleet-kept', 'fleet-lost')")
    assert databases(h1) == dbs


def containers(server, project, service):
    """Ids of every container (running or not) of a service of a host's Compose project."""
    return server.check_output("docker ps -a --filter label=com.docker.compose.project=%s "
                               "--filter label=com.docker.compose.service=%s --format '{{.ID}}'" % (project, service)).split()


def test_emergency_restart_on_the_group_restarts_each_hosts_app_never_a_second_database(servers):
    """mr-fleet-2's api is down: the run restarts it there; mr-fleet-2's Compose project does not run
    the database (mr-fleet-1's does): no postgres is started on it, mr-fleet-1's is left alone."""
    h1, h2 = servers[LOCK_HOST], servers["mr-fleet-2"]
    database = containers(h1, LOCK_HOST, "postgres")
    assert len(database) == 1
    db_started = h1.check_output("docker inspect --format '{{.State.StartedAt}}' %s" % database[0])
    untouched = {name: api(servers[name], name) for name in (LOCK_HOST, "mr-fleet-3")}
    incidents = STATE + "/lifetracker/incidents"
    bundles = {name: files(s, incidents) for name, s in servers.items()}
    stopped = api(h2, "mr-fleet-2")
    h2.check_output("docker stop %s" % stopped[0])
    try:
        assert health(h2, "mr-fleet-2") == {}
        proc = play("playbooks/emergency_restart.yml")
        assert proc.returncode == 0, proc.stdout
        after = api(h2, "mr-fleet-2")
        assert after[0] == stopped[0] and after[1] > stopped[1]
        assert health(h2, "mr-fleet-2")["database"] == "ok"
        for name in (LOCK_HOST, "mr-fleet-3"):
            assert api(servers[name], name) == untouched[name], name
            assert health(servers[name], name)["database"] == "ok", name
        assert containers(h1, LOCK_HOST, "postgres") == database
        assert h1.check_output("docker inspect --format '{{.State.StartedAt}}' %s" % database[0]) == db_started
        for name in OTHERS:
            assert containers(servers[name], name, "postgres") == [], name
        assert "postgres is not a service of this Compose project" in flat(proc.stdout)
    finally:
        h2.run("docker start %s" % stopped[0])
        for name, server in servers.items():
            new = files(server, incidents) - bundles[name]
            if new:
                server.check_output("rm -f %s" % " ".join(sorted(new)))
