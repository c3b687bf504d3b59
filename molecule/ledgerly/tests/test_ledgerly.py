"""ledgerly scenario: the collection's playbooks on an app shaped unlike LifeTracker.

Ledgerly (sandbox/app2): services pg / app + worker (both use the database) /
proxy, /status with the commit under build.commit, APP_DB_* keys in its .env,
no Prisma; the server has only git, docker + compose and python3. The app is
described once, in molecule.yml's group_vars.

Tests run in file order and build on each other's state: prepare brought r1 up
by hand (no ledger) and wrote a row; converge deployed r2 (r1 adopted, verified
pre-deploy backup, r2's schema applied by the app). Then quick_rollback to r1
with kept images, r3 (bad /status) reverted, previous, list_releases, backup +
swap restore, emergency restart after the database container is killed; the
health gate on r2 and on r3 (left running), deploy r2 over it, deploy r3
(rolled back), full_rollback to r1 (--check, then for real: code, image,
schema and rows of r1's pre-deploy backup).
"""

from __future__ import annotations

import json
import shlex
import urllib.error
import urllib.request

import pytest

from conftest import docker_exec_host, flat, play, recap

APP_DIR = "/srv/ledgerly"
PROJECT = "mr-ledgerly"
STATUS_URL = "http://127.0.0.1:26711/status"
STATE = "/var/lib/maverick-rollback/ledgerly"
LEDGER = STATE + "/ledger.jsonl"
BACKUPS = "/var/lib/maverick-rollback/backups"
TARGET = ("-e", "target=ledgerly")


@pytest.fixture(scope="module")
def host():
    """The sandbox server over `docker exec` (cheaper per command than molecule's ansible backend)."""
    return docker_exec_host("mr-ledgerly")


def sha(host, ref):
    return host.check_output("git -C %s rev-parse %s^{commit}" % (APP_DIR, ref))


def head(host):
    return host.check_output("git -C %s rev-parse HEAD" % APP_DIR)


def status():
    """GET /status from here (the app publishes on 127.0.0.1): (code, json or {})."""
    try:
        with urllib.request.urlopen(STATUS_URL, timeout=5) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as err:  # a 500/503 still carries its JSON (state, build.commit)
        try:
            return err.code, json.loads(err.read() or b"{}")
        except ValueError:
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
        "docker compose --project-directory %s --project-name %s exec -T pg psql -X -U ledger_svc -d %s -Atc %s"
        % (APP_DIR, PROJECT, database, shlex.quote(query)))


def playbook(name, *args, check=False, timeout=300):
    return play("playbooks/%s.yml" % name, *TARGET, *args, check=check, timeout=timeout)


# One round trip for what a test compares before and after a run: the checkout,
# every container (id, image, start, state), the database (tables, schema
# versions, entries, accounts, databases), the backup files and the ledger.
# The worker's heartbeat row changes every second: not compared.
SNAPSHOT = r"""
import glob, json, subprocess
def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout
def sql(query):
    return run("docker", "compose", "--project-directory", "%(app)s", "--project-name", "%(project)s", "exec", "-T", "pg",
               "psql", "-X", "-U", "ledger_svc", "-d", "ledgerdb", "-Atc", query).splitlines()
ids = run("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project=%(project)s").split()
info = json.loads(run("docker", "inspect", *ids)) if ids else []
try:
    ledger = [json.loads(line) for line in open("%(ledger)s") if line.strip()]
except FileNotFoundError:
    ledger = []
print(json.dumps({
    "head": run("git", "-C", "%(app)s", "rev-parse", "HEAD").strip(),
    "containers": {c["Config"]["Labels"]["com.docker.compose.service"]:
                   [c["Id"], c["Image"], c["State"]["StartedAt"], c["State"]["Status"]] for c in info},
    "tables": sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"),
    "schema": sql("SELECT version FROM schema_version ORDER BY 1"),
    "entries": sql("SELECT memo FROM entries ORDER BY id"),
    "accounts": sql("SELECT name FROM accounts ORDER BY id") if "accounts" in sql("SELECT tablename FROM pg_tables") else None,
    "databases": sql("SELECT datname FROM pg_database WHERE datname LIKE 'ledgerdb%%' ORDER BY 1"),
    "backups": sorted(glob.glob("%(backups)s/**", recursive=True)),
    "ledger": ledger,
}))
""" % {"app": APP_DIR, "project": PROJECT, "ledger": LEDGER, "backups": BACKUPS}


def snapshot(host) -> dict:
    return json.loads(host.check_output("python3 -c %s" % shlex.quote(SNAPSHOT)))


def assert_serving(commit):
    code, body = status()
    assert (code, body.get("build", {}).get("commit")) == (200, commit), (code, body)


def test_the_server_has_only_git_docker_and_python(host):
    assert host.run("python3 -c 'import requests'").rc != 0
    assert host.run("python3 -c 'import psycopg2'").rc != 0
    assert host.run("command -v pg_dump").rc != 0 and host.run("command -v psql").rc != 0


def test_converge_adopted_r1_backed_it_up_and_deployed_r2_with_its_schema(host):
    r1, r2 = sha(host, "r1"), sha(host, "r2")
    st = snapshot(host)
    assert st["head"] == r2
    assert_serving(r2)
    assert st["containers"]["app"][1] == image_id(host, "%s-app:%s" % (PROJECT, r2))
    assert st["containers"]["worker"][1] == image_id(host, "%s-worker:%s" % (PROJECT, r2))
    assert st["containers"]["worker"][3] == "running"
    # r2's schema (applied by the app at start, no Prisma) over r1's rows
    assert "accounts" in st["tables"] and st["schema"] == ["1", "2"]
    assert st["entries"] == ["written-on-r1"]
    adopt, backup, deploy = (next(r for r in st["ledger"] if r.get("action") == a) for a in ("adopt", "backup", "deploy"))
    assert (adopt["to_commit"], adopt["outcome"]) == (r1, "healthy")  # the /status gate on build.commit
    assert (deploy["from_commit"], deploy["to_commit"], deploy["outcome"]) == (r1, r2, "healthy")
    assert deploy["backup"] == backup["path"] and backup["outcome"] == "verified"
    assert host.file(deploy["backup"]).mode == 0o600
    manifest = json.loads(host.file(deploy["backup"] + ".json").content_string)
    assert manifest["commit"].startswith(r1[:12])  # taken while r1 ran: the database before r2
    assert host.file(LEDGER).mode == 0o600


def test_redeploy_is_no_change_when_only_the_inventory_names_the_compose_project(host):
    """app_compose_project is the project everywhere, also when the .env does not name it."""
    r2 = sha(host, "r2")
    host.check_output("cp -p {0}/.env {0}/.env.aside && sed -i '/^COMPOSE_PROJECT_NAME=/d' {0}/.env".format(APP_DIR))
    try:
        proc = playbook("deploy", "-e", "commit=r2")
    finally:
        host.check_output("mv -f {0}/.env.aside {0}/.env".format(APP_DIR))
    assert proc.returncode == 0, proc.stdout
    assert "no change: %s already runs" % r2[:12] in flat(proc.stdout)
    assert recap(proc) == (0, 0)


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
    # The manifest recorded the rows per table; the summary says what the restore set aside and where,
    # and its psql script (run here through the database container, database names as printed) lists them.
    assert manifest["tables"]["public.entries"]["pk"] == ["id"]
    assert manifest["tables"]["public.entries"]["rows"] == backed_up
    assert ("public.entries: live %d, backup %d: 2 rows written since the backup stay in %s"
            % (backed_up + 2, backed_up, kept)) in flat(proc.stdout)
    assert "2 rows written since the backup are set aside in %s" % kept in flat(proc.stdout)
    script = ["\\connect ledgerdb", "SELECT coalesce(array_agg(ROW(\"id\")::text), '{}') AS live_keys FROM public.entries \\gset",
              "\\connect " + kept,
              "SELECT * FROM public.entries WHERE NOT (ROW(\"id\")::text = ANY (:'live_keys'::text[])) ORDER BY \"id\";"]
    for line in script:
        assert line in flat(proc.stdout), line
    found = host.check_output("docker compose --project-directory %s --project-name %s exec -T pg psql -X -A -t -q "
                              "-v ON_ERROR_STOP=1 -U ledger_svc -d ledgerdb -f - <<'SQL'\n%s\nSQL" % (APP_DIR, PROJECT, "\n".join(script)))
    assert [line.split("|")[1:3] for line in found.splitlines() if line.strip()] == [["after", "4"], ["after", "5"]], found
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


# ------------------------------------------------------------------ health gate

def test_health_gate_passes_on_r2_and_names_the_commit_it_reports(host):
    r2 = sha(host, "r2")
    proc = playbook("health_check", "-e", "health_check_expected_commit=%s" % r2)
    assert proc.returncode == 0, proc.stdout
    out = flat(proc.stdout)
    assert "healthy: 3 consecutive good answers from %s" % STATUS_URL in out
    assert "commit %s" % r2 in out  # read from build.commit


def test_health_gate_fails_on_r3_naming_the_status_answer(host):
    r3 = sha(host, "r3")
    # r3 left running: quick_rollback without its revert
    proc = playbook("quick_rollback", "-e", "commit=r3", "-e", "app_rollback_revert_on_failure=false",
                    "-e", "app_rollback_health_deadline=5")
    assert proc.returncode != 0
    assert head(host) == r3
    code, body = status()
    assert (code, body["build"]["commit"]) == (500, r3)
    proc = playbook("health_check", "-e", "health_check_deadline=5")
    assert proc.returncode != 0
    out = flat(proc.stdout)
    assert "health check failed: unhealthy after" in out
    assert "HTTP 500 from %s (expected 200)" % STATUS_URL in out
    assert "== app: last 50 lines ==" in out  # the logs of app_health_service


# ----------------------------------------------------------------------- deploy

def test_deploy_r2_over_the_broken_r3_reuses_its_kept_images(host):
    r2, r3 = sha(host, "r2"), sha(host, "r3")
    kept = image_id(host, "%s-app:%s" % (PROJECT, r2))
    before = snapshot(host)
    proc = playbook("deploy", "-e", "commit=r2")
    assert proc.returncode == 0, proc.stdout
    assert "DEPLOYED %s" % r2[:12] in flat(proc.stdout)
    st = snapshot(host)
    assert st["head"] == r2 and st["containers"]["app"][1] == kept
    assert st["containers"]["worker"][1] == image_id(host, "%s-worker:%s" % (PROJECT, r2))
    assert st["containers"]["proxy"][:3] == before["containers"]["proxy"][:3]  # same image: not recreated
    assert_serving(r2)
    assert (st["tables"], st["entries"]) == (before["tables"], before["entries"])
    deploy = st["ledger"][-1]
    assert (deploy["action"], deploy["from_commit"], deploy["to_commit"], deploy["outcome"]) == ("deploy", r3, r2, "healthy")
    assert deploy["reused_images"] is True
    assert [b for b in st["backups"] if b not in before["backups"]] == [deploy["backup"], deploy["backup"] + ".json"]
    manifest = json.loads(host.file(deploy["backup"] + ".json").content_string)
    assert manifest["commit"].startswith(r3[:12])


def test_deploy_of_r3_fails_its_gate_and_puts_r2_back(host):
    r2, r3 = sha(host, "r2"), sha(host, "r3")
    before = snapshot(host)
    proc = playbook("deploy", "-e", "commit=r3", "-e", "app_rollback_health_deadline=15")
    assert proc.returncode != 0
    out = flat(proc.stdout)
    assert "DEPLOY OF %s FAILED at the switch step" % r3[:12] in out
    assert "HTTP 500 from %s" % STATUS_URL in out
    assert "the app runs %s again and is healthy" % r2[:12] in out
    st = snapshot(host)
    assert st["head"] == r2 and st["containers"]["app"][1] == image_id(host, "%s-app:%s" % (PROJECT, r2))
    assert_serving(r2)
    # no migrations ran (no Prisma): the database was not restored, nothing to keep
    for key in ("tables", "schema", "entries", "accounts", "databases"):
        assert st[key] == before[key], key
    outcomes = [r["outcome"] for r in st["ledger"][len(before["ledger"]):] if r.get("action") == "deploy"]
    assert outcomes == ["failed", "rolled_back"]
    assert st["ledger"][-1]["database_restored"] is False


# ---------------------------------------------------------------- full rollback

def test_full_rollback_check_mode_changes_nothing(host):
    r1, r2 = sha(host, "r1"), sha(host, "r2")
    sql(host, "INSERT INTO accounts (name) VALUES ('cash')")
    sql(host, "INSERT INTO entries (memo, amount_cents) VALUES ('written-on-r2', 200)")
    before = snapshot(host)
    proc = playbook("full_rollback", "-e", "commit=r1", check=True)
    assert proc.returncode == 0, proc.stdout
    out = flat(proc.stdout)
    assert "full rollback of ledgerly: %s -> %s" % (r2[:12], r1[:12]) in out
    assert "CHECK MODE: nothing was changed" in out
    # What the restore would set aside: r2's accounts table is not in r1's backup, and the entries written since.
    assert "rows per table (live ledgerdb now and the backup's manifest):" in out
    assert "public.accounts: live " in out
    assert "not in the backup: the table and its rows stay only in ledgerdb_pre_restore_" in out
    assert "rows written since the backup stay in ledgerdb_pre_restore_" in out and "public.entries: live " in out
    after = snapshot(host)
    assert after == before  # commit, containers and image ids, rows, databases, backups, ledger


def test_full_rollback_brings_r1_code_and_its_database_back(host):
    r1, r2 = sha(host, "r1"), sha(host, "r2")
    before = snapshot(host)
    pre_deploy = next(r for r in before["ledger"] if r.get("action") == "deploy" and r["from_commit"] == r1)["backup"]
    proc = playbook("full_rollback", "-e", "commit=r1", "-e", "confirm=yes", timeout=600)
    assert proc.returncode == 0, proc.stdout
    assert "FULL ROLLBACK DONE: ledgerly runs %s" % r1[:12] in flat(proc.stdout)
    st = snapshot(host)
    assert st["head"] == r1
    assert st["containers"]["app"][1] == image_id(host, "%s-app:%s" % (PROJECT, r1))
    assert st["containers"]["worker"][1] == image_id(host, "%s-worker:%s" % (PROJECT, r1))
    assert_serving(r1)
    # r1's schema and rows, from the backup taken before r2 replaced it
    assert "accounts" not in st["tables"] and st["schema"] == ["1"]
    assert st["entries"] == ["written-on-r1"]
    # the replaced database (r2's schema, the rows written since) is kept for an undo
    kept = sorted(set(st["databases"]) - set(before["databases"]))
    assert len(kept) == 1 and kept[0].startswith("ledgerdb_pre_restore_")
    assert sql(host, "SELECT name FROM accounts", database=kept[0]) == "cash"
    assert sql(host, "SELECT count(*) FROM entries WHERE memo = 'written-on-r2'", database=kept[0]) == "1"
    last = st["ledger"][-1]
    assert (last["to_commit"], last["outcome"], last["full_rollback"]) == (r1, "healthy", True)
    assert last["restored_backup"] == pre_deploy
    assert last["from_commit"] == r2
