"""Backups and restores against the real sandbox app (testinfra on the server container).

Converge restored the prepared backup; these tests then run the playbooks (conftest
run_playbook) and assert real state: rows through the api and with psql inside the
server container, databases and their oids, the api container's start time, files and
modes, ledger lines, the canary password. The order matters (file order): the last
tests make the database bigger for the full-disk and kill tests.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import textwrap
import threading
import time

import pytest
import yaml

# Plain text output to match against (Molecule forces colours for its own runs).
os.environ.pop("ANSIBLE_FORCE_COLOR", None)
os.environ["ANSIBLE_NOCOLOR"] = "1"

from conftest import PROJECT_DIR, health, playbook_command, run_playbook

APP = "/opt/lifetracker"
STATE = "/var/lib/maverick-rollback"
BACKUPS = STATE + "/backups"
SAFETY = BACKUPS + "/pre-restore"
SMALLFS = STATE + "/smallfs"
LEDGER = STATE + "/lifetracker/ledger.jsonl"
LOCK = STATE + "/lifetracker/lock"
CANARY = "canary-Pw7xQz4Lm9Vt"  # the database password prepare.yml set
V1 = "425da83ab2e6e51e85116ef52ea6119fe9b4e709"  # tags v1, v2 (sandbox/app/README.md)
V2 = "b65522e1bab699cd5a9a58211cf8067bb51b2527"
API = "http://127.0.0.1:23570"
PROJECT = "mr-db-backup-restore"
BACKUP_PB = "playbooks/db_backup.yml"
RESTORE_PB = "playbooks/db_restore.yml"
YES = ("-e", "db_restore_confirm=yes")


# --------------------------------------------------------------------------- helpers


def psql(host, sql, db="lifetracker"):
    """Run SQL with psql inside the server container; the password comes from the .env."""
    cmd = ("PGPASSWORD=\"$(sed -n 's/^POSTGRES_PASSWORD=//p' %s/.env)\" psql -X -A -t -q -v ON_ERROR_STOP=1 "
           "-h 127.0.0.1 -p 25570 -U lifetracker -d %s -c %s" % (APP, db, _quote(sql)))
    return host.check_output(cmd)


def _quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def live_oid(host):
    return psql(host, "SELECT oid FROM pg_database WHERE datname = 'lifetracker'", "postgres")


def databases(host):
    return psql(host, "SELECT datname FROM pg_database WHERE datname LIKE 'lifetracker%' ORDER BY 1",
                "postgres").split()


def titles(host):
    return psql(host, 'SELECT title FROM "Entry" ORDER BY id').splitlines()


def add_entry(host, title):
    out = host.check_output("curl -sf -X POST -H 'Content-Type: application/json' -d %s %s/entries"
                            % (_quote(json.dumps({"title": title})), API))
    assert json.loads(out)["title"] == title


def api_started_at(host):
    return host.check_output("docker inspect -f '{{.State.StartedAt}}' %s-api-1" % PROJECT)


def ledger(host):
    return [json.loads(line) for line in host.file(LEDGER).content_string.splitlines() if line.strip()]


def mode(host, path):
    return host.file(path).mode


def files_in(host, directory):
    return sorted(host.check_output("ls -A %s" % directory).split())


def sha256(host, path):
    return host.check_output("sha256sum %s" % path).split()[0]


def out(proc):
    """The run's output with whitespace collapsed (the yaml callback wraps long lines)."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout or "").split())


def assert_ok(proc):
    assert proc.returncode == 0, proc.stdout[-6000:]


def assert_failed(proc):
    assert proc.returncode != 0, proc.stdout[-6000:]


def backup(host, *args):
    """Run db_backup.yml; return the new backup record of the ledger."""
    before = len(ledger(host))
    proc = run_playbook(BACKUP_PB, *args)
    assert_ok(proc)
    records = ledger(host)[before:]
    assert records and records[-1]["action"] == "backup" and records[-1]["outcome"] == "verified"
    assert not host.file(LOCK).exists, "the backup's lock was not given back"
    return records[-1]


def debug_msg(proc, task):
    """The msg list of the last run of a db_restore debug task, parsed back from the yaml callback's output."""
    text = proc.stdout
    start = text.rindex("TASK [maverick.rollback.db_restore : %s]" % task)
    body = text[start:].split("\n", 1)[1]
    body = body[body.index("=>") + 2:].split("\n")[1:]
    block = []
    for line in body:
        if not line.strip():
            break
        block.append(line)
    return yaml.safe_load(textwrap.dedent("\n".join(block)))["msg"]


def num(value):
    return "{:,}".format(value).replace(",", " ")


def snapshot(host):
    return {"oid": live_oid(host), "started": api_started_at(host), "dbs": databases(host)}


def assert_untouched(host, before, proc):
    """A refused or failed restore: same live database, api never restarted, healthy,
    no database left behind, lock free."""
    assert live_oid(host) == before["oid"]
    assert api_started_at(host) == before["started"], "the api container was restarted"
    assert health(host)[0] == 200
    assert databases(host) == before["dbs"], "a scratch database was left behind"
    assert not host.file(LOCK).exists, proc.stdout[-3000:] if hasattr(proc, "stdout") and proc.stdout else ""


class PsSampler(threading.Thread):
    """Samples every process's argv on this machine (containers included) while a run goes."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            text = subprocess.run(["ps", "-eww", "-o", "args="], stdout=subprocess.PIPE, text=True).stdout
            self.samples.append(text)
            time.sleep(0.1)


def scenario_container_ids():
    """This scenario's containers: the server (named like the project) and its Compose services.
    Other scenarios run the same tools at the same time on this machine."""
    ids = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter",
                          "label=com.docker.compose.project=" + PROJECT],
                         stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    server = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", PROJECT],
                            stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    return set(ids + server)


def in_containers(pid, ids):
    """True when the process runs in one of these containers (its cgroup path names the id)."""
    try:
        with open("/proc/%d/cgroup" % pid) as handle:
            cgroups = handle.read()
    except OSError:  # it has exited
        return False
    return any(container_id in cgroups for container_id in ids)


def find_pids(pattern):
    """This scenario's processes whose argv matches pattern (never another scenario's)."""
    out = subprocess.run(["ps", "-eww", "-o", "pid=,args="], stdout=subprocess.PIPE, text=True).stdout
    pids = [int(line.split(None, 1)[0]) for line in out.splitlines()
            if len(line.split(None, 1)) == 2 and re.search(pattern, line.split(None, 1)[1])]
    if not pids:
        return []
    ids = scenario_container_ids()
    return [pid for pid in pids if in_containers(pid, ids)]


def wait_for_pids(pattern, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = find_pids(pattern)
        if pids:
            return pids
        time.sleep(0.05)
    return []


# The module's restore into the scratch database: pg_restore inside the postgres container
# (via compose) or on the server (via host, with -j workers).
SCRATCH_RESTORE = r"^(\S*/)?pg_restore .*--exit-on-error.*--dbname=lifetracker_restore_\d{14}"


# --------------------------------------------------------------------------- tests


def test_converge_restored_latest_and_recorded_it(host):
    last = [r for r in ledger(host) if r["action"] == "restore"][-1]
    assert last["outcome"] == "restored" and last["requested"] == "latest"
    assert last["database_oid"] == live_oid(host)
    assert last["pre_restore_database"] in databases(host)
    assert health(host)[0] == 200


def test_backup_rows_restore_with_canary_and_modes(host):
    add_entry(host, "kept-1")
    add_entry(host, "kept-2")
    record = backup(host)
    path = record["path"]
    # via=auto took the server's client tools (PostgreSQL 15, the server's version).
    assert record["via"] == "host" and json.loads(host.file(path + ".json").content_string)["via"] == "host"
    expected = titles(host)
    for n in range(3):
        add_entry(host, "lost-%d" % n)
    assert titles(host) == expected + ["lost-0", "lost-1", "lost-2"]

    sampler = PsSampler()
    sampler.start()
    try:
        proc = run_playbook(RESTORE_PB, "-vvv", "-e", "db_restore_backup=" + path, *YES)
    finally:
        sampler.stop.set()
        sampler.join()
    assert_ok(proc)

    # Rows are back to the backup's state; api healthy; the ledger says so.
    assert titles(host) == expected
    assert health(host)[0] == 200
    rec = ledger(host)[-1]
    assert rec["action"] == "restore" and rec["outcome"] == "restored" and rec["mode"] == "swap"
    assert rec["backup"] == path and rec["backup_sha256"] == record["sha256"]
    assert rec["database_oid"] == live_oid(host)
    assert rec["pre_restore_database"] in databases(host)
    assert "RESTORED lifetracker from " + path in out(proc)
    # The safety backup holds the rows the restore replaced.
    safety = rec["safety_backup"]
    assert os.path.dirname(safety) == SAFETY and host.file(safety).exists
    # Dumped from the database the swap put aside, named after the live one.
    safety_manifest = json.loads(host.file(safety + ".json").content_string)
    assert safety_manifest["source_database"] == rec["pre_restore_database"]
    assert os.path.basename(safety).startswith("lifetracker_lifetracker_")
    assert "lost-2" in host.check_output("docker compose --project-directory %s exec -T postgres pg_restore -f - --data-only "
                                         "< %s" % (APP, safety))

    # The canary password: not in the -vvv output, not in any argv sampled during the run,
    # in no file the collection wrote (only the app's 0600 .env holds it).
    assert len(sampler.samples) > 20
    assert CANARY not in proc.stdout
    leaked = [s for s in sampler.samples if CANARY in s]
    assert not leaked, [line for line in leaked[0].splitlines() if CANARY in line]
    hits = host.run("grep -rl --exclude-dir=proc --exclude-dir=sys -e %s %s /tmp /root /var/tmp %s"
                    % (CANARY, STATE, APP)).stdout.split()
    assert hits == [APP + "/.env"], hits
    assert mode(host, APP + "/.env") == 0o600

    # Modes: backup dirs 0700, backups and manifests 0600, ledger 0600 in a 0700 directory.
    for directory in (BACKUPS, SAFETY, STATE + "/lifetracker"):
        assert mode(host, directory) == 0o700, directory
    for path_ in (path, path + ".json", safety, safety + ".json", LEDGER):
        assert mode(host, path_) == 0o600, path_

    # Second run with the same inputs: nothing to do, clearly said, nothing touched.
    oid, started, records = live_oid(host), api_started_at(host), len(ledger(host))
    again = run_playbook(RESTORE_PB, "-e", "db_restore_backup=" + path, *YES)
    assert_ok(again)
    assert "NOTHING TO DO" in out(again) and "changed=0" in out(again)
    assert live_oid(host) == oid and api_started_at(host) == started and len(ledger(host)) == records


def test_backup_through_the_database_container(host):
    # The runbook's way (pg_dump inside the postgres container), still one option away.
    add_entry(host, "in-compose-backup")
    record = backup(host, "-e", "db_backup_via=compose")
    manifest = json.loads(host.file(record["path"] + ".json").content_string)
    assert record["via"] == manifest["via"] == "compose"
    assert sha256(host, record["path"]) == record["sha256"] == manifest["sha256"]
    assert mode(host, record["path"]) == 0o600
    data = host.check_output("pg_restore -f - --data-only --table=Entry %s" % record["path"])
    assert "in-compose-backup" in data


def test_latest_follows_the_manifest_time_not_the_name(host):
    # A backup planted under a name dated 2099 whose manifest records an older time (a copy of
    # an older backup, owned by root, 0600): "latest" orders by the time inside the manifests.
    older = backup(host)
    add_entry(host, "in-the-newer-backup")
    newer = backup(host)
    expected = titles(host)
    planted = re.sub(r"_[0-9]{8}T[0-9]{6}Z_", "_20991231T235959Z_", older["path"])
    host.check_output("cp -p %s %s && cp -p %s.json %s.json" % (older["path"], planted, older["path"], planted))
    add_entry(host, "after-the-newer-backup")
    try:
        proc = run_playbook(RESTORE_PB, "-e", "db_restore_backup=latest", *YES)
        assert_ok(proc)
        assert titles(host) == expected
        assert ledger(host)[-1]["backup"] == newer["path"]
    finally:
        host.check_output("rm -f %s %s.json" % (planted, planted))


def test_backup_dir_writable_by_others_is_refused(host):
    before, records, listing = snapshot(host), len(ledger(host)), files_in(host, BACKUPS)
    host.check_output("chmod 0777 %s" % BACKUPS)
    try:
        proc = run_playbook(BACKUP_PB)
        assert_failed(proc)
        assert "writable by group or others (mode 0777)" in out(proc) and "db_backup_allow_shared_backup_dir" in out(proc)
        assert files_in(host, BACKUPS) == listing and len(ledger(host)) == records
        proc = run_playbook(RESTORE_PB, "-e", "db_restore_backup=latest", "-e", "db_restore_force=true", *YES)
        assert_failed(proc)
        assert "writable by group or others (mode 0777)" in out(proc) and "db_restore_allow_shared_backup_dir" in out(proc)
        assert_untouched(host, before, proc)
        assert files_in(host, BACKUPS) == listing and len(ledger(host)) == records
    finally:
        host.check_output("chmod 0700 %s" % BACKUPS)


def test_backup_refused_while_another_run_holds_the_lock(host):
    """The dump call takes the lock (no lock call of its own): another live run's lock refuses
    the backup before anything is written, in check mode too; that lock stays, nothing recorded."""
    now = time.time()
    other = {"run_id": "other-run", "owner": "day-shift", "controller": "awx-2", "awx_job_id": "", "ttl": 1800,
             "started_epoch": now, "started": "now", "heartbeat_epoch": now, "heartbeat": "now"}
    host.check_output("printf '%%s' %s > %s && chmod 0600 %s" % (_quote(json.dumps(other)), LOCK, LOCK))
    records, listing = len(ledger(host)), files_in(host, BACKUPS)
    try:
        for args in ((), ("--check",)):
            proc = run_playbook(BACKUP_PB, *args)
            assert_failed(proc)
            assert "another run holds the lock" in out(proc) and "day-shift" in out(proc), out(proc)[-3000:]
            assert files_in(host, BACKUPS) == listing and len(ledger(host)) == records
            assert json.loads(host.file(LOCK).content_string)["run_id"] == "other-run"
    finally:
        host.run("grep -qs '\"other-run\"' %s && rm -f %s" % (LOCK, LOCK))
    assert not host.file(LOCK).exists
    record = backup(host)  # free again: the next backup takes the lock and gives it back
    assert host.file(record["path"]).mode == 0o600


def test_check_mode_prints_the_plan_and_changes_nothing(host):
    # The newest backup now says it was taken while v1 ran; before=v2 (a tag, resolved by
    # git) must still pick the newest backup taken at v2.
    at_v2 = [r["path"] for r in ledger(host) if r["action"] == "backup" and r.get("commit") == V2[:12]
             and os.path.dirname(r.get("path", "")) == BACKUPS][-1]
    backup(host, "-e", "db_backup_commit=" + V1)
    oid, started, records = live_oid(host), api_started_at(host), len(ledger(host))
    listing = {d: files_in(host, d) for d in (BACKUPS, SAFETY)}
    dbs = databases(host)
    proc = run_playbook(RESTORE_PB, "--check", "-e", "db_restore_backup=before=v2", "-e", "db_restore_force=true")
    assert_ok(proc)
    for needle in ("restore lifetracker (lifetracker) from " + at_v2, "taken ", " ago at commit " + V2[:12],
                   "expected downtime ~", "services that stop: api", "safety backup of lifetracker from lifetracker_pre_restore_",
                   "CHECK MODE: nothing was changed"):
        assert needle in out(proc), needle
    assert live_oid(host) == oid and api_started_at(host) == started and len(ledger(host)) == records
    assert {d: files_in(host, d) for d in (BACKUPS, SAFETY)} == listing
    assert databases(host) == dbs


def test_refuses_without_confirmation(host):
    before = snapshot(host)
    proc = run_playbook(RESTORE_PB, "-e", "db_restore_backup=latest", "-e", "db_restore_force=true")
    assert_failed(proc)
    assert "without confirmation" in out(proc) and "db_restore_confirm=yes" in out(proc)
    assert_untouched(host, before, proc)


def test_restore_says_what_it_sets_aside_and_how_to_get_it_back(host):
    # The backup records rows, size and primary key per table in its manifest.
    record = backup(host)
    tables = json.loads(host.file(record["path"] + ".json").content_string)["tables"]
    entries, tags = tables['public."Entry"']["rows"], tables['public."Tag"']["rows"]
    assert tables['public."Entry"']["pk"] == ["id"] and tables['public."Tag"']["pk"] == ["id"]
    assert entries == len(titles(host))
    # Writes in two tables after the backup.
    for n in range(3):
        add_entry(host, "aside-%d" % n)
    psql(host, "INSERT INTO \"Tag\" (name) VALUES ('aside-tag-1'), ('aside-tag-2')")
    rows = (titles(host), psql(host, 'SELECT name FROM "Tag" ORDER BY id'))
    entry_line = 'public."Entry": live %s, backup %s: 3 rows written since the backup stay in ' % (num(entries + 3), num(entries))
    tag_line = 'public."Tag": live %s, backup %s: 2 rows written since the backup stay in ' % (num(tags + 2), num(tags))

    # Check mode prints both deltas and changes nothing: rows, databases, backup files, ledger.
    before, records = snapshot(host), len(ledger(host))
    listing = {d: files_in(host, d) for d in (BACKUPS, SAFETY)}
    proc = run_playbook(RESTORE_PB, "--check", "-e", "db_restore_backup=" + record["path"])
    assert_ok(proc)
    plan = debug_msg(proc, "Show the plan")
    assert "  rows per table (live lifetracker now and the backup's manifest):" in plan, plan
    assert any(line.startswith("    " + entry_line + "lifetracker_pre_restore_") for line in plan), plan
    assert any(line.startswith("    " + tag_line + "lifetracker_pre_restore_") for line in plan), plan
    assert "CHECK MODE: nothing was changed" in out(proc)
    assert (titles(host), psql(host, 'SELECT name FROM "Tag" ORDER BY id')) == rows
    assert snapshot(host) == before and len(ledger(host)) == records
    assert {d: files_in(host, d) for d in (BACKUPS, SAFETY)} == listing

    # The real restore: compared with the restored database before the swap, then the summary
    # names the database that keeps the rows and a psql script that lists them.
    proc = run_playbook(RESTORE_PB, "-e", "db_restore_backup=" + record["path"], *YES)
    assert_ok(proc)
    pre = ledger(host)[-1]["pre_restore_database"]
    swap = debug_msg(proc, "Show what the swap sets aside")
    assert swap[0].startswith("rows per table (live lifetracker and the restored lifetracker_restore_"), swap
    assert "  " + entry_line + pre in swap and "  " + tag_line + pre in swap, swap
    summary = debug_msg(proc, "Summary")
    assert "    " + entry_line + pre in summary and "    " + tag_line + pre in summary, summary
    assert "  5 rows written since the backup are set aside in %s (net counts; rows written after that count and " \
           "before the stop are there too)" % pre in summary, summary
    assert titles(host) == rows[0][:entries]
    start = next(i for i, line in enumerate(summary) if line.startswith("  get them back - psql as lifetracker"))
    script = [line[4:] for line in summary[start + 1:] if line.startswith("    ")]
    assert script[0] == '-- public."Entry": rows of %s whose primary key (id) is not in lifetracker' % pre, script
    found = host.check_output("PGPASSWORD=\"$(sed -n 's/^POSTGRES_PASSWORD=//p' %s/.env)\" psql -X -A -t -q -v ON_ERROR_STOP=1 "
                              "-h 127.0.0.1 -p 25570 -U lifetracker -d postgres -f - <<'SQL'\n%s\nSQL" % (APP, "\n".join(script)))
    listed = sorted(line.split("|")[1] for line in found.splitlines() if line.strip())
    assert listed == ["aside-0", "aside-1", "aside-2", "aside-tag-1", "aside-tag-2"], found


def test_runbook_plain_dump_restores(host):
    # The runbook's own backup command, verbatim.
    host.check_output("cd %s && docker compose exec -T postgres pg_dump -U lifetracker lifetracker > /root/backup.sql" % APP)
    expected = titles(host)
    add_entry(host, "after-plain-dump")
    # Through the database container, as the runbook's own commands run.
    proc = run_playbook(RESTORE_PB, "-e", "db_restore_backup=/root/backup.sql", "-e", "db_restore_via=compose", *YES)
    assert_ok(proc)
    assert titles(host) == expected
    assert health(host)[0] == 200
    rec = ledger(host)[-1]
    assert rec["action"] == "restore" and rec["outcome"] == "restored" and rec["backup_format"] == "plain"


def test_undo_puts_the_previous_database_back(host):
    pre = ledger(host)[-1]["pre_restore_database"]
    proc = run_playbook(RESTORE_PB, "-e", "db_restore_undo=true", *YES)
    assert_ok(proc)
    assert titles(host)[-1] == "after-plain-dump"  # the rows from before the plain restore
    assert pre not in databases(host)
    rec = ledger(host)[-1]
    assert rec["action"] == "restore_undo" and rec["outcome"] == "restored" and rec["pre_restore_database"] == pre
    assert health(host)[0] == 200


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "empty"])
def test_bad_backups_are_refused_while_the_api_runs(host, kind):
    src = [r for r in ledger(host) if r["action"] == "backup" and r.get("path", "").startswith(BACKUPS + "/lifetracker_")][-1]["path"]
    bad = "/root/bad-%s.dump" % kind
    if kind == "corrupt":  # same size, 8 bytes changed: the manifest's sha256 no longer matches
        host.check_output("cp %s %s && cp %s.json %s.json && printf XXXXXXXX | dd of=%s bs=1 seek=700 conv=notrunc"
                          % (src, bad, src, bad, bad))
    elif kind == "truncated":  # no manifest: pg_restore must read it
        host.check_output("head -c 3000 %s > %s" % (src, bad))
    else:
        host.check_output(": > %s" % bad)
    before, records = snapshot(host), len(ledger(host))
    proc = run_playbook(RESTORE_PB, "-e", "db_restore_backup=" + bad, *YES)
    assert_failed(proc)
    reason = {"corrupt": "does not match its manifest", "truncated": "not readable", "empty": "empty (0 bytes)"}[kind]
    assert reason in out(proc) and "Nothing was changed: the app kept running" in out(proc)
    assert_untouched(host, before, proc)
    assert len(ledger(host)) == records


def test_a_server_check_failure_refuses_in_the_first_read(host):
    """One server: the server check runs inside the restore's first read (pg_restore state=inspected
    check_server). What is missing is named with its fix; nothing changes, no lock, no record."""
    path = [r for r in ledger(host) if r["action"] == "backup" and r.get("path", "").startswith(BACKUPS + "/lifetracker_")][-1]["path"]
    before, records = snapshot(host), len(ledger(host))
    proc = run_playbook(RESTORE_PB, "-e", "db_restore_backup=" + path, "-e", "app_prisma_dir=packages/nope", *YES)
    assert_failed(proc)
    assert ("cannot check the server or read the databases, the release ledger or the backups: prisma_dir: "
            "%s/packages/nope does not exist - set prisma_dir to the Prisma project in the checkout" % APP) in out(proc)
    assert "Nothing was changed" in out(proc)
    assert_untouched(host, before, proc)
    assert len(ledger(host)) == records


def test_failed_gate_after_the_swap_swaps_back(host):
    # A "backup" without the table GET /tags reads: the swap works, the gate on /tags fails,
    # the previous database must come back (it keeps its oid through the renames).
    host.check_output("cd %s && docker compose exec -T postgres pg_dump -U lifetracker -T '\"Tag\"' lifetracker "
                      "> /root/no-tag.sql" % APP)
    before, safety_before = snapshot(host), files_in(host, SAFETY)
    rows = titles(host)
    # With the safety backup on: it would dump the database put aside after a passed gate;
    # the swap back makes that database live again, so none is taken. The deadline bounds
    # the gate after the swap back too: the api it restarts needs a few seconds to answer
    # on a loaded machine.
    proc = run_playbook(RESTORE_PB, "-e", "db_restore_backup=/root/no-tag.sql",
                        "-e", "app_health_url=%s/tags" % API, "-e", "db_restore_health_deadline=6", *YES)
    assert_failed(proc)
    assert "HEALTH GATE FAILED on the restored database" in out(proc)
    assert "state: swapped back" in out(proc)
    assert live_oid(host) == before["oid"] and titles(host) == rows
    assert host.check_output("curl -s -o /dev/null -w '%%{http_code}' %s/tags" % API) == "200"
    assert health(host)[0] == 200
    rec = ledger(host)[-1]
    assert rec["outcome"] == "reverted" and rec["revert_health"]["healthy"]
    assert rec["scratch_database"] in databases(host)  # the restored copy is kept for a look
    assert not host.file(LOCK).exists
    assert "safety_backup" not in rec and "safety_backup_error" not in rec, rec
    assert "no safety backup taken: the database it would have dumped is the live one again" in out(proc)
    assert files_in(host, SAFETY) == safety_before


def test_in_place_mode(host):
    record = [r for r in ledger(host) if r["action"] == "backup" and r.get("path", "").startswith(BACKUPS + "/lifetracker_")][-1]
    proc = run_playbook(RESTORE_PB, "-e", "db_restore_backup=" + record["path"], "-e", "db_restore_mode=in_place", *YES)
    assert_ok(proc)
    assert "after-plain-dump" not in titles(host)
    rec = ledger(host)[-1]
    assert rec["mode"] == "in_place" and rec["outcome"] == "restored" and "pre_restore_database" not in rec
    assert host.file(rec["safety_backup"]).exists
    assert health(host)[0] == 200


def test_old_databases_listed_and_dropped_only_on_request(host):
    listing = run_playbook(RESTORE_PB)
    assert_ok(listing)
    olds = [d for d in databases(host) if d != "lifetracker"]
    assert olds and all(d in out(listing) for d in olds)
    proc = run_playbook(RESTORE_PB, "-e", "db_restore_drop_databases=" + olds[0], *YES)
    assert_ok(proc)
    assert olds[0] not in databases(host) and set(olds[1:]) <= set(databases(host))
    assert ledger(host)[-1]["action"] == "drop_databases" and ledger(host)[-1]["dropped"] == [olds[0]]
    live = run_playbook(RESTORE_PB, "-e", "db_restore_drop_databases=lifetracker", *YES)
    assert_failed(live)
    assert "lifetracker" in databases(host)


def test_disk_full_during_backup(host):
    small = ("-e", "app_backup_dir=" + SMALLFS)
    older = backup(host, *small)["path"]
    older_sha = sha256(host, older)
    # Bigger than the 2 MiB tmpfs: about 20 MB of rows (kept for the kill tests below).
    psql(host, "CREATE TABLE bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS pad "
               "FROM generate_series(1, 250000) g; CREATE INDEX bulk_pad ON bulk (pad)")
    before = len(ledger(host))
    proc = run_playbook(BACKUP_PB, *small)
    assert_failed(proc)
    assert "No space left on device" in out(proc) and "BACKUP FAILED" in out(proc)
    assert "no file under a backup name was written" in out(proc)
    assert files_in(host, SMALLFS) == sorted([os.path.basename(older), os.path.basename(older) + ".json"])
    assert sha256(host, older) == older_sha
    rec = ledger(host)[before:][-1]
    assert rec["action"] == "backup" and rec["outcome"] == "failed" and "path" not in rec
    assert not host.file(LOCK).exists, "the failed dump's lock was not given back"
    assert health(host)[0] == 200


def test_killed_pg_restore_leaves_the_live_database_intact(host):
    path = backup(host)["path"]
    before = snapshot(host)
    rows = psql(host, "SELECT count(*) FROM bulk")
    cmd, env = playbook_command(RESTORE_PB, "-e", "db_restore_backup=" + path, "-e", "db_restore_safety_backup=false",
                                "-e", "db_restore_via=compose", *YES)
    proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids = wait_for_pids(SCRATCH_RESTORE)
    assert pids, "pg_restore into the scratch database never showed up"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, output[-4000:]
    text = " ".join(output.split())
    assert "the live database lifetracker was not touched" in text
    assert "scratch database was dropped" in text
    assert psql(host, "SELECT count(*) FROM bulk") == rows
    assert_untouched(host, before, proc)
    assert ledger(host)[-1]["outcome"] == "untouched"


def test_killed_playbook_leaves_the_live_database_intact(host):
    path = [r for r in ledger(host) if r["action"] == "backup" and r.get("outcome") == "verified"][-1]["path"]
    oid, started = live_oid(host), api_started_at(host)
    rows = psql(host, "SELECT count(*) FROM bulk")
    cmd, env = playbook_command(RESTORE_PB, "-e", "db_restore_backup=" + path, "-e", "db_restore_safety_backup=false",
                                "-e", "db_restore_lock_ttl=3", *YES)
    proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    assert wait_for_pids(SCRATCH_RESTORE), "pg_restore into the scratch database never showed up"
    os.killpg(proc.pid, signal.SIGKILL)  # ansible-playbook, its workers and their docker clients
    proc.wait()
    # Whatever the orphaned module does now, the live database and the api are untouched.
    assert live_oid(host) == oid and api_started_at(host) == started
    assert psql(host, "SELECT count(*) FROM bulk") == rows
    assert health(host)[0] == 200
    deadline = time.monotonic() + 120
    while find_pids(SCRATCH_RESTORE) and time.monotonic() < deadline:
        time.sleep(0.2)
    # The dead run's lock stays (naming the dead run); once past its TTL it is broken on
    # request, and the orphan's scratch database is listed and dropped on request.
    holder = json.loads(host.file(LOCK).content_string)
    assert holder["ttl"] == 3 and holder["run_id"]
    leftovers = [d for d in databases(host) if re.match(r"^lifetracker_restore_\d{14}$", d)]
    assert leftovers, "the orphaned module should have finished its scratch restore"
    time.sleep(max(0.0, holder["started_epoch"] + 4 - time.time()))
    proc = run_playbook(RESTORE_PB, "-e", "db_restore_drop_databases=" + ",".join(leftovers),
                        "-e", "db_restore_break_stale_lock=true", *YES)
    assert_ok(proc)
    assert "broke a stale lock" in out(proc)
    assert not [d for d in databases(host) if re.match(r"^lifetracker_restore_\d{14}$", d)]
    assert not host.file(LOCK).exists
    assert live_oid(host) == oid and health(host)[0] == 200


# ------------------------------------------------- an interrupted swap (datallowconn off)

# The module's swap: one psql session (ON_ERROR_STOP=0, script on stdin) on the maintenance database.
SWAP_PSQL = r"^(\S*/)?psql .*ON_ERROR_STOP=0 .*--dbname=\S+ -f -$"
HOLD = "maverick-test-hold"  # the prepared transaction that keeps the live database busy


def psql_script(host, sql, db="lifetracker"):
    """Like psql() with the SQL on stdin, as one session (BEGIN ... PREPARE TRANSACTION)."""
    cmd = ("printf '%%s' %s | PGPASSWORD=\"$(sed -n 's/^POSTGRES_PASSWORD=//p' %s/.env)\" psql -X -A -t -q "
           "-v ON_ERROR_STOP=1 -h 127.0.0.1 -p 25570 -U lifetracker -d %s -f -" % (_quote(sql), APP, db))
    return host.check_output(cmd)


def allows_connections(host, db="lifetracker"):
    return psql(host, "SELECT datallowconn FROM pg_database WHERE datname = '%s'" % db, "postgres")


def release_the_hold(host):
    """Cleanup: the database must accept connections for ROLLBACK PREPARED (run from within it)."""
    psql(host, "ALTER DATABASE lifetracker WITH ALLOW_CONNECTIONS true", "postgres")
    if psql(host, "SELECT count(*) FROM pg_prepared_xacts WHERE gid = '%s'" % HOLD, "postgres") != "0":
        psql(host, "ROLLBACK PREPARED '%s'" % HOLD)


def test_killed_swap_allows_connections_again(host):
    """The swap refuses new connections to the live and scratch databases, then retries the
    renames while a prepared transaction (which no terminate ends) holds the live one. Its
    psql killed then: the module allows connections again, the run goes back to the untouched
    database and the app is healthy."""
    path = [r for r in ledger(host) if r["action"] == "backup" and r.get("outcome") == "verified"][-1]["path"]
    before = snapshot(host)
    rows = titles(host)
    psql_script(host, "BEGIN; SELECT txid_current(); PREPARE TRANSACTION '%s';" % HOLD)
    proc = None
    try:
        cmd, env = playbook_command(RESTORE_PB, "-e", "db_restore_backup=" + path, "-e", "db_restore_safety_backup=false",
                                    "-e", "db_restore_via=compose", *YES)
        proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # Sync point: the swap is in its retry loop - the live database refuses connections and
        # the swap's session runs its DO block - and its psql is there to kill.
        deadline = time.monotonic() + 300
        pids = []
        while time.monotonic() < deadline and proc.poll() is None:
            if allows_connections(host) == "f" and psql(
                    host, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'DO $swap$%'",
                    "postgres") == "1":
                pids = find_pids(SWAP_PSQL)
                if pids:
                    break
            time.sleep(0.1)
        assert pids, "the swap never reached its retry loop: " + (proc.communicate()[0][-4000:] if proc.poll() is not None else "")
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=300)
        text = " ".join(output.split())
        assert proc.returncode != 0, output[-4000:]
        assert "RESTORE FAILED at the swap step" in text or "RESTORE FAILED at the stop step" in text, text[-3000:]
        assert "allowed connections again on lifetracker" in text, text[-3000:]
        # every database of the app takes connections again; nothing was renamed or left behind
        assert allows_connections(host) == "t"
        assert psql(host, "SELECT count(*) FROM pg_database WHERE NOT datallowconn AND datname LIKE 'lifetracker%'",
                    "postgres") == "0"
        assert live_oid(host) == before["oid"] and databases(host) == before["dbs"]
        assert titles(host) == rows
        assert health(host)[0] == 200
        assert "state: the live database lifetracker was not replaced; the scratch database was dropped; " \
               "the app was started again and is healthy" in text, text[-3000:]
        assert ledger(host)[-1]["outcome"] == "untouched"
        assert not host.file(LOCK).exists
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        release_the_hold(host)
    assert psql(host, "SELECT count(*) FROM pg_prepared_xacts", "postgres") == "0"


def test_backup_repairs_a_database_left_refusing_connections(host):
    """A swap killed outright leaves datallowconn off (set by hand here): the next backup says
    so in check mode without changing it, and repairs it (and reports it) when it runs."""
    psql(host, "ALTER DATABASE lifetracker WITH ALLOW_CONNECTIONS false", "postgres")
    try:
        check = run_playbook(BACKUP_PB, "--check")
        assert_ok(check)
        assert "would allow connections again on lifetracker" in out(check)
        assert allows_connections(host) == "f"
        before = len(ledger(host))
        proc = run_playbook(BACKUP_PB)
        assert_ok(proc)
        assert ("REPAIRED: allowed connections again on lifetracker (left refusing them by an interrupted "
                "database swap)") in out(proc)
        assert allows_connections(host) == "t"
        rec = ledger(host)[before:][-1]
        assert rec["action"] == "backup" and rec["outcome"] == "verified" and host.file(rec["path"]).exists
        assert health(host)[0] == 200
    finally:
        psql(host, "ALTER DATABASE lifetracker WITH ALLOW_CONNECTIONS true", "postgres")
