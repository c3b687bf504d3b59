#!/usr/bin/env python3
"""Benchmark: a fleet rollback on kept images (issue 17) for 1, 2, 4 and 8 app servers.

One run per case of `ansible-playbook playbooks/quick_rollback.yml -e commit=<v1|v2>` with
`-e app_serial=1|25%|100%` against the first 1, 2, 4 or 8 servers, timed from start to the
playbook's exit (every host healthy on the target, the fleet's record written, the lock
given back). Every run alternates between v1 and v2, whose images every host keeps (no
build). Before a run, every server is put on the other release (not timed; not needed after a
run of all eight), so every host of every run switches. Goal: the time grows with the number of batches, not of hosts;
8 hosts at 100 % within 1.5x of 1 host. Prints the controller's forks, CPU count and load average.

Like molecule/fleet: server containers mr-bfleet-1..8 (sandbox/server.sh), each its own
Compose project and ports (api 23650+i, web 28650+i); mr-bfleet-1 runs the one PostgreSQL
(port 25650) and holds the fleet's lock, the other apis join its network. Everything it
created (compose projects with their volumes and images, server containers) is removed at
the end, also on failure (--keep to leave it).

  .venv/bin/python bench/fleet.py          # about 15 min on 2 cores
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backup_restore import Env, log  # noqa: E402  (the benches' shared helpers)
from quick_rollback import run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
APP = "/opt/lifetracker"
SERVERS = ["mr-bfleet-%d" % i for i in range(1, 9)]
DB_HOST = SERVERS[0]
PG_PORT, API_PORT, WEB_PORT = 25650, 23650, 28650
SIZES = (1, 2, 4, 8)
SERIALS = ("1", "25%", "100%")
# The servers without a database of their own reach mr-bfleet-1's (as molecule/fleet/prepare.yml).
OVERRIDE = """services:
  postgres:
    profiles: [own-database]
  api:
    depends_on: !reset {}
    environment:
      DATABASE_URL: postgresql://${POSTGRES_USER}:${POSTGRES_PASSWORD}@%s-postgres-1:5432/${POSTGRES_DB}
    networks: [default, fleet]
networks:
  fleet:
    external: true
    name: %s_default
""" % (DB_HOST, DB_HOST)


class FleetEnv(Env):
    """backup_restore's Env (ansible-playbook runner) over the fleet's inventory."""

    def __init__(self):
        super().__init__()
        hosts = {name: {"ansible_connection": "community.docker.docker",
                        "ansible_python_interpreter": "/usr/bin/python3",
                        "lifetracker_compose_project": name, "app_compose_project": name,
                        "lifetracker_api_port": API_PORT + i, "lifetracker_web_port": WEB_PORT + i,
                        "app_health_url": "http://127.0.0.1:%d/health" % (API_PORT + i)}
                 for i, name in enumerate(SERVERS)}
        inventory = {"lifetracker": {"hosts": hosts, "vars": {
            "lifetracker_app_dir": APP, "app_project_dir": APP,
            "lifetracker_postgres_port": PG_PORT, "app_db_port": PG_PORT,
            "app_fleet_lock_host": DB_HOST,
            # v1 predates v2's additive migration: the gate runs and reports, the bench
            # measures the switch (as bench/quick_rollback.py).
            "app_rollback_allow_schema_ahead": True}}}
        for size in SIZES:
            inventory["fleet_%d" % size] = {"hosts": {name: {} for name in SERVERS[:size]}}
        (self.dir / "inventory.yml").write_text(json.dumps(inventory))


def forks():
    config = configparser.ConfigParser()
    config.read(ROOT / "ansible.cfg")
    return os.environ.get("ANSIBLE_FORKS") or config.get("defaults", "forks", fallback="5 (ansible default)")


def load():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_busy():
    """Machine-wide busy CPU seconds so far (/proc/stat: every state but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def sha(ref):
    return run("docker", "exec", "-w", APP, DB_HOST, "git", "rev-parse", ref + "^{commit}").stdout.strip()


def setup(env):
    log("server containers %s..%s" % (SERVERS[0], SERVERS[-1]))
    for name in SERVERS:
        run("bash", str(ROOT / "sandbox/server.sh"), name)
    log("%s: the app at v2 with the one PostgreSQL" % DB_HOST)
    env.playbook("sandbox/playbooks/bring_up.yml", "-e", "target=" + DB_HOST)
    for name in SERVERS[1:]:
        run("docker", "exec", name, "mkdir", "-p", APP)
        subprocess.run(["docker", "exec", "-i", name, "sh", "-c", "cat > %s/compose.override.yaml" % APP],
                       input=OVERRIDE, text=True, check=True)
    log("the other servers' apps at v2, on %s's database" % DB_HOST)
    env.playbook("sandbox/playbooks/bring_up.yml", "-e", "target=" + ":".join(SERVERS[1:]))
    # Kept images of both releases on every host: v1 is built once (every host), then
    # the rollback to v2 keeps v1's images and reuses v2's (kept by the first run).
    log("every host to v1 (builds it) and back to v2: both releases' images kept")
    env.playbook("playbooks/quick_rollback.yml", "-e", "target=fleet_8", "-e", "commit=v1")
    env.playbook("playbooks/quick_rollback.yml", "-e", "target=fleet_8", "-e", "commit=v2")


def cleanup():
    log("cleanup: compose projects (volumes, images) and server containers")
    for name in reversed(SERVERS):  # the database host last: the others use its network
        # --rmi local: the images compose built for these projects, never a named one such
        # as maverick-sandbox/postgres:15 (sandbox/setup.sh's, which every scenario uses).
        subprocess.run(["docker", "exec", "-w", APP, name, "docker", "compose", "down", "--volumes",
                        "--rmi", "local", "--timeout", "5"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        images = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                                 "--filter", "reference=%s-*" % name], text=True, stdout=subprocess.PIPE, check=False).stdout.split()
        if images:  # the kept images (<project>-<service>:<sha>)
            subprocess.run(["docker", "image", "rm", "-f", *images], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    subprocess.run(["docker", "rm", "-f", *SERVERS], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def align(env, release):
    """Every server on release (not timed): the next run then switches every host it names."""
    env.playbook("playbooks/quick_rollback.yml", "-e", "target=fleet_%d" % len(SERVERS), "-e", "commit=" + release)


def measure(env, sizes=SIZES, serials=SERIALS):
    targets = {"v1": sha("v1"), "v2": sha("v2")}
    results, release, aligned = {}, "v1", False
    for size in sizes:
        for serial in serials:
            if not aligned:  # a smaller run left hosts behind: a host already on the target would not switch
                align(env, "v2" if release == "v1" else "v1")
            log("%d host(s), serial %s: to %s (load %s)" % (size, serial, release, load()))
            started_load, busy = load(), cpu_busy()
            elapsed, out = env.playbook("playbooks/quick_rollback.yml", "-e", "target=fleet_%d" % size,
                                        "-e", "commit=" + release, "-e", "app_serial=" + serial)
            if "Building" in out or "build (no kept images" in out:
                raise SystemExit("a host built images: not the kept-images case\n" + out[-3000:])
            batches = re.search(r"in (\d+) batch\(es\)", out)
            heads = {run("docker", "exec", "-w", APP, name, "git", "rev-parse", "HEAD").stdout.strip()
                     for name in SERVERS[:size]}
            if heads != {targets[release]}:
                raise SystemExit("not every host runs %s: %s" % (release, heads))
            busy = (cpu_busy() - busy) / elapsed / os.cpu_count()  # the machine's CPU use during the run
            results[size, serial] = (elapsed, int(batches.group(1)) if batches else 1, started_load, busy)
            release, aligned = "v2" if release == "v1" else "v1", size == len(SERVERS)
    return results


def report(results, sizes=SIZES, serials=SERIALS):
    print()
    print("fleet rollback benchmark (kept images, no build), %s, %s" % (time.strftime("%Y-%m-%d %H:%M"), platform.platform()))
    print("controller: %d CPU(s), ansible.cfg forks = %s; in brackets the 1-minute load average at the start of"
          " each run and the machine's CPU use during it (all processes, the containers' too)" % (os.cpu_count(), forks()))
    print("seconds for ansible-playbook playbooks/quick_rollback.yml (ratio to 1 host at the same serial)")
    print("| hosts | " + " | ".join("serial %s" % s for s in serials) + " |")
    print("|---|" + "---|" * len(serials))
    for size in sizes:
        cells = []
        for serial in serials:
            elapsed, batches, started_load, busy = results[size, serial]
            base = results[min(sizes), serial][0]
            cells.append("%.1f s, %d batch(es), %.2fx [load %s, CPU %d%%]"
                         % (elapsed, batches, elapsed / base, started_load.split()[0], round(100 * busy)))
        print("| %d | %s |" % (size, " | ".join(cells)))
    if (8, "100%") in results and (1, "100%") in results:
        ratio = results[8, "100%"][0] / results[1, "100%"][0]
        print("goal: 8 hosts at 100%% within 1.5x of 1 host: %.2fx, %s" % (ratio, "met" if ratio <= 1.5 else "MISSED"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--keep", action="store_true", help="leave the containers and projects")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="host counts (1 first: the base)")
    parser.add_argument("--serials", default=",".join(SERIALS), help="serial values")
    parser.add_argument("--no-setup", action="store_true", help="reuse the servers a --keep run left")
    args = parser.parse_args()
    sizes, serials = [int(n) for n in args.sizes.split(",")], args.serials.split(",")
    env = FleetEnv()
    try:
        if not args.no_setup:
            setup(env)
        report(measure(env, sizes, serials), sizes, serials)
    finally:
        if not args.keep:
            cleanup()


if __name__ == "__main__":
    main()
