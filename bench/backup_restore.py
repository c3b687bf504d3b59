#!/usr/bin/env python3
"""Benchmark: the runbook's backup and restore commands against db_backup / db_restore.

One run on a generated database (a table of ~300-byte rows with two indexes, plus the
sample app's own tables), in two sizes: --size-mb / 4, then --size-mb.

  backup   runbook `docker compose exec -T postgres pg_dump -U lifetracker lifetracker > file`
           against playbooks/db_backup.yml (custom format, sha256 while writing, fsync,
           pg_restore --list, manifest, ledger); goal <= 1.2x for the module's dump+verify.
  restore  the runbook path that works (api stopped, database dropped and created, psql of the
           plain dump --single-transaction, api started) against playbooks/db_restore.yml
           (verification, scratch restore with the api up, swap, health gate, safety backup of the
           database put aside); its orchestration = wall - (verify + scratch restore + safety
           backup), the modules' own durations (issue 18: goal <= 5 s at both sizes);
           api downtime measured from outside by polling /health every 50 ms; goals: downtime
           <= 5 s at any size, wall time <= 1.5x.
  memory   peak RSS of the pg_backup module process while dumping (its ru_maxrss): < 100 MB,
           flat in the dump size.
  overhead db_backup.yml wall time minus the dump module's own time (pg_backup's duration_s):
           what Ansible, the remote calls and the controller tasks add; goal <= 2 s (issue 18).

It uses its own sandbox server container (mr-bench-db) and compose project and ports
(postgres 25580, api 23580, web 28580), and removes them at the end (--keep to leave them).
Two benches on one machine (another worktree's): --name mr-bench-db2 --port-offset 1 keeps
them apart (their numbers then disturb each other: note the load average).

  .venv/bin/python bench/backup_restore.py                 # ~1.5 GB (about 15 min)
  .venv/bin/python bench/backup_restore.py --size-mb 200   # quick
  .venv/bin/python bench/backup_restore.py --size-mb 400 --backup-only   # db_backup.yml only
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = "mr-bench-db"
PROJECT = "mr-bench-db"
PG_PORT, API_PORT, WEB_PORT = 25580, 23580, 28580
APP = "/opt/lifetracker"
HEALTH = "http://127.0.0.1:%d/health" % API_PORT
COMPOSE = "cd %s && docker compose" % APP
LOAD_AT_START = 0.0
ROW_BYTES = 370  # heap + both indexes per generated row, measured on PostgreSQL 15


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def sh(cmd, check=True, capture=True):
    """Run a shell command inside the bench server container (test tooling, not the collection)."""
    proc = subprocess.run(["docker", "exec", SERVER, "sh", "-c", cmd], text=True,
                          stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT if capture else None)
    if check and proc.returncode != 0:
        raise SystemExit("failed (%d): %s\n%s" % (proc.returncode, cmd, proc.stdout))
    return proc.stdout if capture else ""


def timed_sh(cmd):
    started = time.monotonic()
    sh(cmd)
    return time.monotonic() - started


def psql(sql, db="lifetracker"):
    return sh("%s exec -T postgres psql -X -A -t -q -v ON_ERROR_STOP=1 -U lifetracker -d %s -c %s"
              % (COMPOSE, db, shell_quote(sql))).strip()


def shell_quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


class Env:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="mr-bench-"))
        inv = self.dir / "inventory.yml"
        inv.write_text(json.dumps({"lifetracker": {
            "hosts": {SERVER: {"ansible_connection": "community.docker.docker",
                               "ansible_python_interpreter": "/usr/bin/python3"}},
            "vars": {"lifetracker_app_dir": APP, "lifetracker_compose_project": PROJECT,
                     "lifetracker_postgres_port": PG_PORT, "lifetracker_api_port": API_PORT,
                     "lifetracker_web_port": WEB_PORT, "app_health_url": HEALTH,
                     "app_project_dir": APP, "app_compose_project": PROJECT,
                     "db_restore_health_deadline": 120}}}))
        self.inventory = str(inv)

    def playbook(self, playbook, *args, json_out=False):
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1")
        env.pop("ANSIBLE_FORCE_COLOR", None)
        if json_out:
            env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", self.inventory, str(ROOT / playbook), *args]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        elapsed = time.monotonic() - started
        if proc.returncode != 0:
            raise SystemExit("%s failed:\n%s" % (playbook, proc.stdout[-5000:]))
        if not json_out:
            return elapsed, proc.stdout
        # The report starts on a line of its own (a warning before it may hold a '{').
        start = 0 if proc.stdout.startswith("{\n") else proc.stdout.index("\n{\n") + 1
        return elapsed, json.loads(proc.stdout[start:])


def task_result(report, name_part):
    for play in report["plays"]:
        for task in play["tasks"]:
            if name_part in task["task"]["name"]:
                result = next(iter(task["hosts"].values()))
                if not result.get("skipped"):
                    return result
    return {}


def task_counts(report):
    """(tasks that ran, tasks skipped) on the one host of a run."""
    ran = skipped = 0
    for play in report["plays"]:
        for task in play["tasks"]:
            for result in task["hosts"].values():
                skipped += bool(result.get("skipped"))
                ran += not result.get("skipped")
    return ran, skipped


class Poller(threading.Thread):
    """GET /health every 50 ms; the longest stretch without a 200 is the api downtime."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.samples = []

    def run(self):
        while not self.stop.is_set():
            ok = False
            try:
                with urllib.request.urlopen(HEALTH, timeout=1) as resp:
                    ok = resp.status == 200
            except Exception:  # noqa: BLE001 - any failure is "down"
                ok = False
            self.samples.append((time.monotonic(), ok))
            time.sleep(0.05)

    def downtime(self):
        """Longest stretch without a 200; self.back_at: when it ended (monotonic)."""
        worst, down_since, last_ok = 0.0, None, None
        self.back_at = None
        for stamp, ok in self.samples:
            if ok:
                if down_since is not None:
                    if stamp - down_since > worst:
                        worst, self.back_at = stamp - down_since, stamp
                    down_since = None
                last_ok = stamp
            elif down_since is None:
                down_since = last_ok if last_ok is not None else stamp
        if down_since is not None:
            worst = max(worst, self.samples[-1][0] - down_since)
        return worst


def start_server(env):
    log("server container %s, app at v2 (bring_up.yml)" % SERVER)
    subprocess.run(["docker", "rm", "-f", SERVER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["docker", "run", "-d", "--name", SERVER, "--network", "host", "-v",
                    "/var/run/docker.sock:/var/run/docker.sock", "maverick-sandbox/server:latest", "sleep", "infinity"],
                   check=True, stdout=subprocess.DEVNULL)
    env.playbook("sandbox/playbooks/bring_up.yml")


def cleanup():
    log("cleanup: compose project %s and container %s" % (PROJECT, SERVER))
    subprocess.run(["docker", "exec", SERVER, "sh", "-c", "%s down --volumes --timeout 5" % COMPOSE],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["docker", "rm", "-f", SERVER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def grow_to(size_mb):
    """Add generated rows (with two indexes) until the database is about size_mb."""
    psql("CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, title text NOT NULL, "
         "body text NOT NULL, created timestamptz NOT NULL DEFAULT now()); "
         "CREATE INDEX IF NOT EXISTS bench_rows_title ON bench_rows (title)")
    current = int(psql("SELECT pg_database_size('lifetracker')")) // 1048576
    batch = 500000
    while current < size_mb:
        rows = min(batch, max(10000, int((size_mb - current) * 1048576 / ROW_BYTES)))
        psql("INSERT INTO bench_rows (title, body, created) SELECT 'entry ' || md5(g::text), "
             "repeat(md5((g * 31)::text), 6), now() - (g || ' seconds')::interval "
             "FROM generate_series(1, %d) g" % rows)
        current = int(psql("SELECT pg_database_size('lifetracker')")) // 1048576
        log("  database %d MB" % current)
    psql("ANALYZE bench_rows")
    return int(psql("SELECT pg_database_size('lifetracker')"))


def measure(env, label, backup_only=False, backup_runs=1):
    size = int(psql("SELECT pg_database_size('lifetracker')"))
    result = {"label": label, "db_mb": round(size / 1048576)}
    sh("sync")

    log("%s: runbook backup (pg_dump > file)" % label)
    result["plain_dump_s"] = timed_sh("%s exec -T postgres pg_dump -U lifetracker lifetracker > /root/plain.sql" % COMPOSE)
    result["plain_mb"] = round(int(sh("stat -c %s /root/plain.sql")) / 1048576)

    runs = []
    for run in range(backup_runs):
        log("%s: db_backup.yml (%d of %d)" % (label, run + 1, backup_runs))
        wall, report = env.playbook("playbooks/db_backup.yml", "-e", "db_backup_keep=0", json_out=True)
        runs.append((wall - task_result(report, "Dump, verify")["duration_s"], wall, report))
    # The run with the median overhead (the machine may be shared); every overhead is reported.
    runs.sort(key=lambda r: r[0])
    _overhead, wall, report = runs[len(runs) // 2]
    dump = task_result(report, "Dump, verify")
    result.update(backup_module_s=dump["duration_s"], backup_playbook_s=round(wall, 1),
                  backup_mb=round(dump["size"] / 1048576), backup_rss_mb=dump["max_rss_mb"], backup_path=dump["path"],
                  backup_via=dump["via"], backup_tasks=task_counts(report),
                  backup_overheads=[round(r[0], 2) for r in runs])

    if backup_only:
        sh("rm -f /root/plain.sql")
        return result

    log("%s: runbook restore path (api stopped; dropdb, createdb, psql --single-transaction < plain.sql; api up)" % label)
    poller = Poller()
    poller.start()
    time.sleep(0.5)
    started = time.monotonic()
    sh("%s stop api" % COMPOSE)
    sh("%s exec -T postgres dropdb -U lifetracker lifetracker" % COMPOSE)
    sh("%s exec -T postgres createdb -U lifetracker -O lifetracker lifetracker" % COMPOSE)
    sh("%s exec -T postgres psql -X -q -v ON_ERROR_STOP=1 --single-transaction -U lifetracker -d lifetracker "
       "< /root/plain.sql > /dev/null" % COMPOSE)
    sh("%s up -d --no-deps --no-recreate --no-build api" % COMPOSE)
    while True:
        try:
            with urllib.request.urlopen(HEALTH, timeout=1) as resp:
                if resp.status == 200:
                    break
        except Exception:  # noqa: BLE001
            time.sleep(0.05)
    result["runbook_restore_s"] = round(time.monotonic() - started, 1)
    time.sleep(0.5)
    poller.stop.set()
    poller.join()
    result["runbook_downtime_s"] = round(poller.downtime(), 2)

    variants = (("", (), "swap mode, safety backup"),
                ("nosafety", ("-e", "db_restore_safety_backup=false"), "swap mode, no safety backup"),
                ("compose", ("-e", "db_restore_via=compose"), "swap mode, safety backup, via=compose"))
    for variant, extra, what in variants:
        log("%s: db_restore.yml (%s)" % (label, what))
        poller = Poller()
        poller.start()
        time.sleep(0.5)
        started = time.monotonic()
        wall, run = env.playbook("playbooks/db_restore.yml", "-e", "db_restore_backup=" + dump["path"],
                                 "-e", "db_restore_confirm=yes", "-e", "db_restore_force=true", *extra, json_out=True)
        time.sleep(0.5)
        poller.stop.set()
        poller.join()
        record = json.loads(sh("tail -n 1 /var/lib/maverick-rollback/lifetracker/ledger.jsonl"))
        assert record["action"] == "restore" and record["outcome"] == "restored", record
        key = "restore" + ("_" + variant if variant else "")
        result.update({
            key + "_playbook_s": round(wall, 1),
            key + "_downtime_s": round(poller.downtime(), 2),
            key + "_serving_s": round(poller.back_at - started, 1) if poller.back_at else None,
            key + "_downtime_ledger_s": record.get("downtime_s"),
            key + "_verify_s": task_result(run, "Verify /").get("duration_s", 0),
            # swap mode: the dump of the database put aside, after the gate; in place: before the change.
            key + "_safety_s": task_result(run, "Dump, verify").get("duration_s", 0),
            key + "_scratch_s": task_result(run, "Restore into ").get("duration_s", 0),
        })
        # Free the disk the pre-restore database and the safety backup take.
        psql("DROP DATABASE %s WITH (FORCE)" % record["pre_restore_database"], db="postgres")
        sh("rm -rf /var/lib/maverick-rollback/backups/pre-restore")
    sh("rm -f /root/plain.sql")
    return result


def report(results, size_mb):
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) // 1048576 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    lines = ["maverick.rollback backup/restore benchmark, %s UTC" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
             "machine: %s, %d CPUs, %d GiB RAM, %s; load average at start %s, at the end %s" % (
                 cpu, os.cpu_count(), mem, platform.platform(), round(LOAD_AT_START, 1), round(os.getloadavg()[0], 1)),
             "PostgreSQL 15 in the sandbox postgres container; tools through docker compose exec (as the runbook)",
             "sizes: --size-mb %d (first %d MB, then %d MB)" % (size_mb, results[0]["db_mb"], results[-1]["db_mb"]), ""]
    for r in results:
        lines += [
            "database %d MB (plain dump %d MB, custom -Z0 backup %d MB)" % (r["db_mb"], r["plain_mb"], r["backup_mb"]),
            "  backup   runbook pg_dump > file        %6.1f s" % r["plain_dump_s"],
            "           pg_backup dump+sha256+verify  %6.1f s   ratio %.2fx (goal <= 1.2x; via=auto chose %s)" % (
                r["backup_module_s"], r["backup_module_s"] / r["plain_dump_s"], r["backup_via"]),
            "           db_backup.yml playbook wall   %6.1f s   ratio %.2fx" % (
                r["backup_playbook_s"], r["backup_playbook_s"] / r["plain_dump_s"]),
            "           db_backup.yml overhead (wall - dump module) %4.1f s (goal <= 2 s; %d tasks ran, %d skipped%s)" % (
                r["backup_playbook_s"] - r["backup_module_s"], r["backup_tasks"][0], r["backup_tasks"][1],
                "; median of %s s" % ", ".join("%.2f" % o for o in r["backup_overheads"])
                if len(r["backup_overheads"]) > 1 else ""),
            "           module peak RSS               %6.1f MB  (goal < 100 MB, flat)" % r["backup_rss_mb"]]
        if "runbook_restore_s" not in r:  # --backup-only
            lines.append("")
            continue
        lines += [
            "  restore  runbook path wall             %6.1f s   api down %.1f s (all of it)" % (
                r["runbook_restore_s"], r["runbook_downtime_s"]),
            "           db_restore.yml wall           %6.1f s   ratio %.2fx (goal <= 1.5x; verification, safety backup, via=auto)" % (
                r["restore_playbook_s"], r["restore_playbook_s"] / r["runbook_restore_s"]),
            "             of which: verify %.1f s, scratch restore %.1f s (api up), safety backup %.1f s (after the swap)" % (
                r["restore_verify_s"], r["restore_scratch_s"], r["restore_safety_s"]),
            "           db_restore.yml orchestration  %6.1f s   (wall - verify - scratch restore - safety backup; goal <= 5 s)" % (
                r["restore_playbook_s"] - r["restore_verify_s"] - r["restore_scratch_s"] - r["restore_safety_s"]),
            "           db_restore.yml api downtime   %6.1f s   (polled; ledger upper bound %s s; goal <= 5 s)" % (
                r["restore_downtime_s"], r["restore_downtime_ledger_s"]),
            "           restored data served after    %6.1f s   ratio %.2fx (the rest of the run: safety backup, ledger)" % (
                r["restore_serving_s"] or 0, (r["restore_serving_s"] or 0) / r["runbook_restore_s"]),
            "           same, no safety backup: wall  %6.1f s   ratio %.2fx; api down %.1f s" % (
                r["restore_nosafety_playbook_s"], r["restore_nosafety_playbook_s"] / r["runbook_restore_s"],
                r["restore_nosafety_downtime_s"]),
            "           same, via=compose: wall       %6.1f s   ratio %.2fx; scratch restore %.1f s; api down %.1f s" % (
                r["restore_compose_playbook_s"], r["restore_compose_playbook_s"] / r["runbook_restore_s"],
                r["restore_compose_scratch_s"], r["restore_compose_downtime_s"]),
            ""]
    print("\n".join(lines))
    return "\n".join(lines)


def use_instance(name, port_offset):
    """Container, compose project and ports of this bench run (another run may use the defaults)."""
    global SERVER, PROJECT, PG_PORT, API_PORT, WEB_PORT, HEALTH
    SERVER = PROJECT = name
    PG_PORT, API_PORT, WEB_PORT = 25580 + port_offset, 23580 + port_offset, 28580 + port_offset
    HEALTH = "http://127.0.0.1:%d/health" % API_PORT


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1500, help="database size of the second round (default 1500)")
    parser.add_argument("--keep", action="store_true", help="leave the bench server and app running")
    parser.add_argument("--output", help="also write the report to this file")
    parser.add_argument("--name", default=SERVER, help="server container and compose project (default %s)" % SERVER)
    parser.add_argument("--port-offset", type=int, default=0, help="added to the ports 25580, 23580, 28580")
    parser.add_argument("--backup-only", action="store_true", help="measure the backups only (no restores)")
    parser.add_argument("--backup-runs", type=int, default=1, help="db_backup.yml runs per size; the median overhead is reported")
    args = parser.parse_args()
    global LOAD_AT_START
    LOAD_AT_START = os.getloadavg()[0]
    use_instance(args.name, args.port_offset)
    env = Env()
    results = []
    try:
        start_server(env)
        for size in (max(50, args.size_mb // 4), args.size_mb):
            log("generating rows up to %d MB" % size)
            grow_to(size)
            results.append(measure(env, "%d MB" % size, args.backup_only, args.backup_runs))
    finally:
        if not args.keep:
            cleanup()
            shutil.rmtree(env.dir, ignore_errors=True)
    text = report(results, args.size_mb)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
