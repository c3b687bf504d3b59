"""ledgerly scenario: the collection's playbooks on an app shaped unlike LifeTracker.

Ledgerly (sandbox/app2): services pg / app + worker (both use the database) /
proxy, /status with the commit under build.commit, APP_DB_* keys in its .env,
no Prisma; the server has only git, docker + compose and python3. The app is
described once, in molecule.yml's group_vars.

Tests run in file order and build on each other's state: converge left r2
(from r1), then r1 with kept images, r3 (bad /status) reverted, previous,
list_releases, backup + swap restore, emergency restart after the database
container is killed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from conftest import run_playbook

APP_DIR = "/srv/ledgerly"
PROJECT = "mr-ledgerly"
STATUS_URL = "http://127.0.0.1:26711/status"
STATE = "/var/lib/maverick-rollback/ledgerly"
LEDGER = STATE + "/ledger.jsonl"
BACKUPS = "/var/lib/maverick-rollback/backups"
TARGET = ("-e", "target=ledgerly")


def sha(host, ref):
    return host.check_output("git -C %s rev-parse %s^{commit}" % (APP_DIR, ref))


def head(host):
    return host.check_output("git -C %s rev-parse HEAD" % APP_DIR)


def status():
    """GET /status from here (the app publishes on 127.0.0.1): (code, json or {})."""
    try:
        with urllib.request.urlopen(STATUS_URL, timeout=5) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, {}


def container(host, service):
    """(container id, image id, started at, state) of the service's container."""
    cid = host.check_output(
        "docker ps -a --filter label=com.docker.compose.project=%s --filter label=com.docker.compose.service=%s "
        "--format '{{.ID}}'" % (PROJECT, service))
    image, started, state = host.check_output(
        "docker inspect --format '{{.Image}} {{.State.StartedAt}} {{.State.Status}}' %s" % cid).split()
    return cid, image, started, state


def image_id(host, ref):
    return host.check_output("docker image inspect --format '{{.Id}}' %s" % ref)


def ledger(host):
    return [json.loads(line) for line in host.file(LEDGER).content_string.splitlines() if line.strip()]


def sql(host, query, database="ledgerdb"):
    return host.check_output(
        "docker compose --project-directory %s exec -T pg psql -X -U ledger_svc -d %s -Atc \"%s\"" % (APP_DIR, database, query))


def playbook(name, *args):
    return run_playbook("playbooks/%s.yml" % name, *TARGET, *args)


def test_the_server_has_only_git_docker_and_python(host):
    assert host.run("python3 -c 'import requests'").rc != 0
    assert host.run("python3 -c 'import psycopg2'").rc != 0
    assert host.run("command -v pg_dump").rc != 0 and host.run("command -v psql").rc != 0


def test_converged_to_r2(host):
    r2 = sha(host, "r2")
    assert head(host) == r2
    code, body = status()
    assert (code, body["build"]["commit"]) == (200, r2)
    assert container(host, "app")[1] == image_id(host, "%s-app:%s" % (PROJECT, r2))
    assert container(host, "worker")[3] == "running"
    last = ledger(host)[-1]
    assert (last["from_commit"], last["to_commit"], last["outcome"]) == (sha(host, "r1"), r2, "healthy")
    assert host.file(LEDGER).mode == 0o600


def test_rollback_to_r1_reuses_the_kept_images(host):
    r1 = sha(host, "r1")
    kept = image_id(host, "%s-app:%s" % (PROJECT, r1))  # tagged while r1 ran (converge)
    proc = playbook("quick_rollback", "-e", "commit=r1")
    assert proc.returncode == 0, proc.stdout
    assert head(host) == r1
    assert container(host, "app")[1] == kept
    assert container(host, "worker")[1] == image_id(host, "%s-worker:%s" % (PROJECT, r1))
    code, body = status()
    assert (code, body["build"]["commit"]) == (200, r1)
    assert ledger(host)[-1]["outcome"] == "healthy"


def test_bad_release_is_reverted(host):
    r1 = sha(host, "r1")
    proc = playbook("quick_rollback", "-e", "commit=r3")
    assert proc.returncode != 0
    assert head(host) == r1
    code, body = status()
    assert (code, body["build"]["commit"]) == (200, r1)
    last = ledger(host)[-1]
    assert (last["to_commit"], last["outcome"]) == (sha(host, "r3"), "reverted")


def test_previous_goes_back_to_the_last_healthy_release(host):
    r2 = sha(host, "r2")
    proc = playbook("quick_rollback", "-e", "commit=previous")
    assert proc.returncode == 0, proc.stdout
    assert head(host) == r2
    assert status()[1]["build"]["commit"] == r2


def test_list_releases_names_the_releases(host):
    proc = playbook("list_releases")
    assert proc.returncode == 0, proc.stdout
    for ref in ("r1", "r2"):
        assert sha(host, ref)[:12] in proc.stdout


def test_backup_then_swap_restore_brings_the_rows_back(host):
    sql(host, "INSERT INTO entries (memo, amount_cents) VALUES ('a', 1), ('b', 2), ('c', 3)")
    backed_up = int(sql(host, "SELECT count(*) FROM entries"))
    proc = playbook("db_backup")
    assert proc.returncode == 0, proc.stdout
    dumps = host.check_output("ls -1t %s/ledgerly_ledgerdb_*.dump" % BACKUPS).splitlines()
    assert dumps and host.file(dumps[0]).mode == 0o600
    manifest = json.loads(host.file(dumps[0] + ".json").content_string)
    assert manifest["database"] == "ledgerdb"

    sql(host, "INSERT INTO entries (memo, amount_cents) VALUES ('after', 4), ('after', 5)")
    before = {service: container(host, service) for service in ("app", "worker", "proxy")}
    proc = playbook("db_restore", "-e", "db_restore_backup=latest", "-e", "db_restore_confirm=yes")
    assert proc.returncode == 0, proc.stdout
    assert int(sql(host, "SELECT count(*) FROM entries")) == backed_up
    kept = sql(host, "SELECT datname FROM pg_database WHERE datname LIKE 'ledgerdb_pre_restore_%' ORDER BY datname DESC LIMIT 1")
    assert int(sql(host, "SELECT count(*) FROM entries", database=kept)) == backed_up + 2
    for service in ("app", "worker"):  # both users of the database were stopped and started
        cid, started, state = (container(host, service)[i] for i in (0, 2, 3))
        assert (cid, state) == (before[service][0], "running")
        assert started != before[service][2]
    assert container(host, "proxy")[2] == before["proxy"][2]  # not a database user: untouched
    assert status()[0] == 200
    assert ledger(host)[-1]["action"] == "restore"


def test_emergency_restart_after_the_database_container_is_killed(host):
    host.check_output("docker kill %s" % container(host, "pg")[0])
    assert container(host, "pg")[3] != "running"
    proc = playbook("emergency_restart")
    assert proc.returncode == 0, proc.stdout
    assert container(host, "pg")[3] == "running"
    assert status()[0] == 200
    assert ledger(host)[-1]["action"] == "emergency_restart"
