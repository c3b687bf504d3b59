#!/usr/bin/env python3
"""Benchmark: the floor under issue 18's quick-rollback goals, on bench/quick_rollback.py's server.

What could a quick rollback cost at best over the docker connection on this machine? Playbooks
with no controller task at all, each only the remote calls the run cannot do without:

  one call:   one `ansible.builtin.ping`: what any run costs before it reads anything
              (ansible-playbook's start and one remote call).
  floor (e):  the plan's one read (release_facts, the quick rollback's options): a no-op run
              must at least read the server to know there is nothing to do. Goal: <= 1.5 s.
  floor (b):  the same read, then the switch call (release_switch: checkout, the kept images
              tagged, compose up, its own health gate), kept images (warm): time until /health
              reports the target. Goal: <= the runbook's own commands + 2.0 s.

In the same rounds, alternating the order: the runbook's own commands (git checkout + compose
up --build, warm cache) and the collection's quick rollback, (b) and (e). Medians.

  .venv/bin/python bench/quick_rollback_floor.py --rounds 4     # about 6 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quick_rollback as bench  # noqa: E402  (its server, poller and runbook)

SERVICES = ("api", "web")
FLOOR = """- name: Quick rollback floor - the remote calls only, no controller task
  hosts: %(server)s
  gather_facts: false
  tasks:
    - name: One remote call that reads nothing
      ansible.builtin.ping:
      when: ping | bool
    - name: The plan's one read (the quick rollback's options)
      when: not ping | bool
      maverick.rollback.release_facts:
        project_dir: %(app)s
        target: "{{ commit }}"
        compose_project: %(project)s
        migrations_dir: packages/core/prisma/migrations
        read_applied: true
        compose_service: postgres
        env_file: %(app)s/.env
        login_port: %(pg_port)d
        lock_path: /var/lib/maverick-rollback/lifetracker/lock
        run_id: floor
        check_server: true
        prisma_dir: packages/core
    - name: The switch call, gated (kept images)
      maverick.rollback.release_switch:
        project_dir: %(app)s
        compose_project: %(project)s
        commit: "{{ commit }}"
        tags: "{{ tags }}"
        build: false
        gate: {url: "%(health)s", expected_commit: "{{ commit }}", successes: 3, interval: 0.5, deadline: 90}
      when: switch | bool and not ping | bool
"""


def kept_tags(commit):
    """{'<project>-<service>': image id kept for commit}: what the switch points the compose names at."""
    return {"%s-%s" % (bench.PROJECT, service): bench.run(
        "docker", "image", "inspect", "--format", "{{.Id}}", "%s-%s:%s" % (bench.PROJECT, service, commit)).stdout.strip()
        for service in SERVICES}


class Floor:
    def __init__(self, inventory):
        self.inventory = inventory
        self.playbook = Path(tempfile.mkdtemp(prefix="mr-qfloor-")) / "floor.yml"
        self.playbook.write_text(FLOOR % {"server": bench.SERVER, "app": bench.APP, "project": bench.PROJECT,
                                          "pg_port": 25530, "health": bench.HEALTH})

    def run(self, commit, switch, ping=False):
        extra = json.dumps({"commit": commit, "switch": switch, "ping": ping, "tags": kept_tags(commit) if switch else {}})
        out = bench.run("ansible-playbook", "-i", self.inventory, str(self.playbook), "-e", extra, check=False)
        if out.returncode != 0:
            sys.exit("floor playbook failed:\n" + out.stdout[-3000:])

    def switch(self, commit):
        """(b): seconds until /health reports commit."""
        with bench.HealthPoller(commit) as poll:
            self.run(commit, True)
            poll.wait()
        return poll.reached - poll.started

    def noop(self, commit, ping=False):
        """(e): seconds of the read alone, on a server already at commit (ping: of one ping instead)."""
        started = time.monotonic()
        self.run(commit, False, ping)
        return time.monotonic() - started


def timed_noop(inventory, commit):
    started = time.monotonic()
    bench.playbook(commit, inventory)
    return time.monotonic() - started


def ways(inventory, floor, v1, v2):
    """Each way: switch v2 -> v1 (timed), back to v2 (not timed), then a no-op on v2 (timed) where
    it has one. Returns {way: action() -> (seconds until /health reports v1, no-op seconds or None)}."""
    def runbook():
        switched = bench.runbook(v1)[0]
        bench.runbook(v2)
        return switched, None

    def collection():
        switched = bench.playbook(v1, inventory)[0]
        bench.playbook(v2, inventory)
        return switched, timed_noop(inventory, v2)

    def floor_calls():
        switched = floor.switch(v1)
        floor.switch(v2)
        return switched, floor.noop(v2)

    def one_call():
        return None, floor.noop(v2, ping=True)
    return {"runbook": runbook, "collection": collection, "floor": floor_calls, "one call": one_call}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    inventory = bench.setup()
    floor = Floor(inventory)
    v1, v2 = bench.sha("v1"), bench.sha("v2")
    bench.playbook(v1, inventory)  # both releases' images kept; the server back on v2
    bench.playbook(v2, inventory)
    actions = ways(inventory, floor, v1, v2)
    times = {way: {"b": [], "e": []} for way in actions}
    print("load average at start %.1f" % os.getloadavg()[0], flush=True)
    for round_ in range(args.rounds):
        order = list(actions) if round_ % 2 == 0 else list(actions)[::-1]
        for way in order:
            switched, noop = actions[way]()
            if switched is not None:
                times[way]["b"].append(switched)
            if noop is not None:
                times[way]["e"].append(noop)
        print("round %d: %s" % (round_ + 1, {way: {case: round(v[-1], 2) for case, v in cases.items() if v}
                                             for way, cases in times.items()}), flush=True)
    median = {way: {case: statistics.median(v) for case, v in cases.items() if v} for way, cases in times.items()}
    runbook = median["runbook"]["b"]
    print()
    print("quick rollback floor, %d round(s), medians; %d CPU(s); load average at the end %.1f"
          % (args.rounds, os.cpu_count(), os.getloadavg()[0]))
    print("| | (b) until /health reports the target | over the runbook | (e) no-op |")
    print("|---|---|---|---|")
    print("| runbook | %.2f s | | |" % runbook)
    print("| one call (ping) | | | %.2f s |" % median["one call"]["e"])
    for way in ("floor", "collection"):
        print("| %s | %.2f s | %+.2f s | %.2f s |" % (way, median[way]["b"], median[way]["b"] - runbook, median[way]["e"]))
    print("goals: (b) <= runbook + 2.0 s = %.2f s; (e) <= 1.5 s" % (runbook + 2.0))
    bench.run("docker", "exec", bench.SERVER, "docker", "compose", "--project-directory", bench.APP, "down", "-v", check=False)
    bench.run("docker", "rm", "-f", bench.SERVER, check=False)


if __name__ == "__main__":
    main()
