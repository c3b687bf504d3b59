#!/usr/bin/env python3
"""Benchmark: the floor under bench/fleet.py's goal (8 hosts at 100 % within 1.5x of 1 host).

On the servers bench/fleet.py left (`bench/fleet.py --sizes 1,8 --serials 100% --keep` first), the
same rollback on kept images, v1 <-> v2, on 1 and on 8 hosts at once, three ways:

  runbook:  per server at once, the commands the switch runs (git checkout, docker tag of each
            kept image, docker compose up --no-build) over `docker exec`, no Ansible; done when
            every /health reports the target.
  floor-N:  a playbook of N remote calls per host and no controller task: release_switch (the
            same commands, one call) and health_probe (the collection's gate settings); for N = 3
            a `command: true` call before them standing for the plan's read (every host validated
            before any change), for N = 4 one more after them standing for the host's record.
            The collection's group path makes four such calls per host today.

Before each, every server is put on the other release (not timed), so every host switches.
Each is timed from start to end, with the machine's busy CPU seconds (/proc/stat: every process,
the containers' too). Per added host = (8 hosts - 1 host) / 7. The goal allows
0.5 x (the collection's 1-host time) / 7 per added host; the collection's 1-host time is
bench/fleet.py's (--one-host SECONDS, else measured here once).

  .venv/bin/python bench/fleet_floor.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet import API_PORT, APP, SERVERS, FleetEnv, cpu_busy, load, sha  # noqa: E402
from quick_rollback import run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("api", "web")
FLOOR = """- name: Fleet floor - the switch and the gate, nothing else
  hosts: "{{ target }}"
  gather_facts: false
  tasks:
    - name: Stands for the plan's read
      ansible.builtin.command: "true"
      changed_when: false
      when: calls | int >= 3
    - name: Switch (checkout, tags, compose up --no-build)
      maverick.rollback.release_switch:
        project_dir: %(app)s
        compose_project: "{{ inventory_hostname }}"
        commit: "{{ commit }}"
        tags: "{{ tags[inventory_hostname] }}"
        build: false
    - name: Gate on /health (the quick rollback's settings)
      maverick.rollback.health_probe:
        url: "{{ app_health_url }}"
        expected_commit: "{{ commit }}"
        successes: 3
        interval: 0.5
        deadline: 120
    - name: Stands for the record
      ansible.builtin.command: "true"
      changed_when: false
      when: calls | int == 4
""" % {"app": APP}


def kept_tags(servers, commit):
    """{server: {'<project>-<service>': image id kept for commit}}: what the switch points at."""
    tags = {}
    for name in servers:
        tags[name] = {}
        for service in SERVICES:
            image = "%s-%s" % (name, service)
            image_id = run("docker", "image", "inspect", "--format", "{{.Id}}", "%s:%s" % (image, commit)).stdout.strip()
            tags[name][image] = image_id
    return tags


def health_commit(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=1) as answer:
            return json.loads(answer.read()).get("commit") if answer.status == 200 else None
    except Exception:  # refused, 5xx, timeout: not there yet
        return None


def runbook_switch(name, commit, tags):
    def step(*cmd):
        run("docker", "exec", "-w", APP, name, *cmd)
    step("git", "checkout", "--quiet", "--detach", commit)
    for ref, image_id in tags.items():
        step("docker", "tag", image_id, ref)
    step("docker", "compose", "--project-name", name, "up", "--detach", "--no-color", "--no-build")
    port = API_PORT + SERVERS.index(name)
    deadline = time.monotonic() + 120
    while health_commit(port) != commit:
        if time.monotonic() > deadline:
            raise SystemExit("%s: /health never reported %s" % (name, commit[:12]))
        time.sleep(0.1)


def runbook(servers, commit, tags):
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        list(pool.map(lambda name: runbook_switch(name, commit, tags[name]), servers))


def timed(action):
    busy, started = cpu_busy(), time.monotonic()
    action()
    elapsed = time.monotonic() - started
    return elapsed, cpu_busy() - busy


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one-host", type=float, help="the collection's 1-host time from bench/fleet.py")
    args = parser.parse_args()
    env = FleetEnv()
    playbook = Path(tempfile.mkdtemp(prefix="mr-floor-")) / "floor.yml"
    playbook.write_text(FLOOR)
    targets = {"v1": sha("v1"), "v2": sha("v2")}
    tags = {release: kept_tags(SERVERS, commit) for release, commit in targets.items()}

    def extra(size, release):
        return json.dumps({"target": "fleet_%d" % size, "commit": targets[release], "tags": tags[release]})
    ways = {"runbook": lambda size, release: runbook(SERVERS[:size], targets[release], tags[release])}
    for calls in (2, 3, 4):
        ways["floor-%d" % calls] = (lambda size, release, calls=calls: env.playbook(
            str(playbook), "-e", extra(size, release), "-e", "calls=%d" % calls))
    one_host = args.one_host
    if one_host is None:  # the collection's own 1-host rollback, once, for the goal's allowance
        one_host = timed(lambda: env.playbook("playbooks/quick_rollback.yml", "-e", "target=fleet_1",
                                              "-e", "commit=" + targets["v1"]))[0]
    results, release = {}, "v2"
    print("load average at start %s" % load(), flush=True)
    for round_ in range(args.rounds):
        for way, action in ways.items():
            for size in (1, 8):
                # Every server on the current release first (the runbook's commands, not timed): a host
                # already on the target would not switch.
                runbook(SERVERS, targets[release], tags[release])
                release = "v1" if release == "v2" else "v2"
                results.setdefault((way, size), []).append(timed(lambda: action(size, release)))
        print("round %d: %s" % (round_ + 1, {"%s/%d" % k: "%.1f s" % v[-1][0] for k, v in results.items()}), flush=True)
    allowance = 0.5 * one_host / 7
    print()
    print("fleet floor (kept images, v1 <-> v2), %d round(s), medians; %d CPU(s)" % (args.rounds, os.cpu_count()))
    print("the collection's 1-host rollback: %.1f s; the goal allows %.2f s per added host" % (one_host, allowance))
    print("| way | 1 host | 8 hosts | per added host | CPU s, 1 host | CPU s, 8 hosts | CPU s per added host |")
    print("|---|---|---|---|---|---|---|")
    for way in ways:
        one = [statistics.median(x) for x in zip(*results[way, 1])]
        eight = [statistics.median(x) for x in zip(*results[way, 8])]
        print("| %s | %.1f s | %.1f s | %.2f s | %.1f | %.1f | %.2f |" % (
            way, one[0], eight[0], (eight[0] - one[0]) / 7, one[1], eight[1], (eight[1] - one[1]) / 7))


if __name__ == "__main__":
    main()
