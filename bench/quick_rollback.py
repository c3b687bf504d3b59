#!/usr/bin/env python3
"""Benchmark: the runbook's quick rollback against playbooks/quick_rollback.yml.

One run, on the sandbox (sandbox/setup.sh first). Both paths are timed from
start until /health reports the target commit, polled from this machine at
10 Hz; the same poller measures the longest stretch without a 200 answer.

  runbook:  git checkout <sha>; GIT_COMMIT=<sha> docker compose up -d --build
            (curl -f /health is the poller)
  playbook: ansible-playbook playbooks/quick_rollback.yml -e commit=<sha>

Cases (issue 4): (a) target deployed before, build cache pruned; (b) the same
with a warm cache; (c) a never-built target; (d) api unavailability during the
switch; (e) a no-op run. Prints the numbers and the ratios.

Then a task profile (ansible.posix.profile_tasks) of one warm rollback, v1 on kept
images: the task count, the tasks until the switch, and the slowest tasks
(docs/performance.md).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVER = "mr-bench"
PROJECT = "mr-bench"
API_PORT = 23530
APP = "/opt/lifetracker"
HEALTH = "http://127.0.0.1:%d/health" % API_PORT
ENV = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
           PATH="%s:%s" % (ROOT / ".venv/bin", os.environ["PATH"]))


def run(*cmd, check=True, env=None):
    return subprocess.run(cmd, check=check, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env=env or ENV)


def in_server(*cmd, env=None):
    extra = [x for k, v in (env or {}).items() for x in ("-e", "%s=%s" % (k, v))]
    return run("docker", "exec", *extra, "-w", APP, SERVER, *cmd)


def sha(ref):
    return in_server("git", "rev-parse", ref + "^{commit}").stdout.strip()


class HealthPoller:
    """Polls /health at 10 Hz; records when the target commit first answers
    and the longest stretch without a 200."""

    def __init__(self, target):
        self.target, self.reached, self.worst_gap = target, None, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _probe(self):
        try:
            with urllib.request.urlopen(HEALTH, timeout=1) as answer:
                return answer.status, json.loads(answer.read()).get("commit")
        except Exception:  # refused, 5xx, timeout: all "unavailable"
            return 0, None

    def _loop(self):
        gap_start = None
        while not self._stop.is_set():
            now = time.monotonic()
            status, commit = self._probe()
            if status == 200:
                if gap_start is not None:
                    self.worst_gap = max(self.worst_gap, now - gap_start)
                    gap_start = None
                if commit == self.target and self.reached is None:
                    self.reached = now
            elif gap_start is None:
                gap_start = now
            time.sleep(max(0.0, 0.1 - (time.monotonic() - now)))

    def __enter__(self):
        self.started = time.monotonic()
        self._thread.start()
        return self

    def wait(self, deadline=300):
        end = time.monotonic() + deadline
        while self.reached is None and time.monotonic() < end:
            time.sleep(0.05)
        if self.reached is None:
            raise RuntimeError("health never reported %s" % self.target)

    def __exit__(self, *exc):
        time.sleep(0.3)  # let a last gap close
        self._stop.set()
        self._thread.join()


def runbook(target):
    with HealthPoller(target) as poll:
        in_server("git", "checkout", "--quiet", target)
        in_server("docker", "compose", "up", "-d", "--build", env={"GIT_COMMIT": target})
        poll.wait()
    return poll.reached - poll.started, poll.worst_gap


def playbook(target, inventory):
    with HealthPoller(target) as poll:
        out = run("ansible-playbook", "-i", inventory, str(ROOT / "playbooks/quick_rollback.yml"),
                  "-e", "commit=" + target, check=False)
        if out.returncode != 0:
            sys.exit("playbook failed:\n" + out.stdout[-3000:])
        poll.wait()
    return poll.reached - poll.started, poll.worst_gap, out.stdout


def prune_build_cache():
    run("docker", "builder", "prune", "-af")


def setup():
    inventory = ROOT / ".sandbox/bench/inventory.yml"
    inventory.parent.mkdir(parents=True, exist_ok=True)
    inventory.write_text(json.dumps({"lifetracker": {
        "hosts": {SERVER: {"ansible_connection": "community.docker.docker",
                           "ansible_python_interpreter": "/usr/bin/python3"}},
        "vars": {"lifetracker_app_dir": APP, "lifetracker_compose_project": PROJECT,
                 "lifetracker_postgres_port": 25530, "lifetracker_api_port": API_PORT,
                 "lifetracker_web_port": 28530, "app_health_url": HEALTH,
                 "app_db_port": 25530,
                 # v1 predates v2's additive migration: the gate runs and reports, the
                 # bench measures the switch itself.
                 "app_rollback_allow_schema_ahead": True}}}))
    run("bash", str(ROOT / "sandbox/server.sh"), SERVER)
    run("ansible-playbook", "-i", str(inventory), str(ROOT / "sandbox/playbooks/bring_up.yml"),
        "-e", "sandbox_release=v2")
    # Two never-built releases (one per path): a one-line api change on v2.
    for branch in ("bench-a", "bench-b"):
        in_server("git", "checkout", "--quiet", "-B", branch, "v2")
        in_server("sed", "-i", "1a # %s %s" % (branch, time.time()), "apps/api/server.py")
        in_server("git", "-c", "user.name=bench", "-c", "user.email=bench@invalid",
                  "commit", "--quiet", "-am", "bench: " + branch)
    in_server("git", "checkout", "--quiet", "v2")
    return str(inventory)


def profile(target, inventory, top=12):
    """One playbook run under profile_tasks: (task count, tasks before the switch, slowest tasks)."""
    env = dict(ENV, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
               PROFILE_TASKS_TASK_OUTPUT_LIMIT="all", PROFILE_TASKS_SORT_ORDER="none")
    out = run("ansible-playbook", "-i", inventory, str(ROOT / "playbooks/quick_rollback.yml"),
              "-e", "commit=" + target, env=env).stdout
    tasks = []
    for line in out.split("=" * 79)[-1].splitlines():
        name, _sep, seconds = line.rpartition(" ")
        if seconds.endswith("s") and name.endswith("-"):
            tasks.append((name.rstrip(" -"), float(seconds[:-1])))
    before = next((i for i, (name, _s) in enumerate(tasks) if ": Switch to " in name), len(tasks))
    return len(tasks), before, sorted(tasks, key=lambda task: -task[1])[:top]


def main():
    inventory = setup()
    v1, v2 = sha("v1"), sha("v2")
    # The playbook keeps images of v1 and v2 (first run builds v1).
    playbook(v1, inventory)
    playbook(v2, inventory)
    results = {}

    prune_build_cache()
    results["a_runbook"] = runbook(v1)
    runbook(v2)
    prune_build_cache()
    results["a_playbook"] = playbook(v1, inventory)[:2]
    playbook(v2, inventory)

    warm_rb, warm_pb = [], []
    for _ in range(3):
        warm_rb.append(runbook(v1))
        runbook(v2)
        warm_pb.append(playbook(v1, inventory)[:2])
        playbook(v2, inventory)
    results["b_runbook"] = (statistics.median(t for t, _ in warm_rb), max(g for _, g in warm_rb))
    results["b_playbook"] = (statistics.median(t for t, _ in warm_pb), max(g for _, g in warm_pb))

    results["c_runbook"] = runbook(sha("bench-a"))
    runbook(v2)
    results["c_playbook"] = playbook(sha("bench-b"), inventory)[:2]

    started = time.monotonic()
    out = playbook(sha("bench-b"), inventory)[2]
    noop_seconds = time.monotonic() - started
    noop_changed = [line for line in out.splitlines() if SERVER in line and "changed=" in line]

    print("quick rollback benchmark, %s, %s, %d cores" % (time.strftime("%Y-%m-%d"), platform.platform(), os.cpu_count()))
    print("seconds until /health reports the target (longest stretch without 200 in brackets)")
    for case, label in (("a", "(a) deployed before, build cache pruned"), ("b", "(b) deployed before, warm cache (median of 3)"),
                        ("c", "(c) never built")):
        (rb, rb_gap), (pb, pb_gap) = results[case + "_runbook"], results[case + "_playbook"]
        print("%-48s runbook %6.2fs [%4.2fs]  playbook %6.2fs [%4.2fs]  ratio %.2fx  diff %+.2fs"
              % (label, rb, rb_gap, pb, pb_gap, pb / rb, pb - rb))
    print("(d) worst unavailability: runbook %.2fs, playbook %.2fs (warm runs)"
          % (results["b_runbook"][1], results["b_playbook"][1]))
    print("(e) no-op run: %.2fs, %s" % (noop_seconds, noop_changed[0].split(":", 1)[1].strip() if noop_changed else "?"))
    playbook(v1, inventory)  # v1 kept: the profiled run is a warm rollback
    count, before, slowest = profile(v2, inventory)
    print("profile (profile_tasks) of a warm rollback: %d tasks, %d before the switch; slowest:" % (count, before))
    for name, seconds in slowest:
        print("  %5.2fs  %s" % (seconds, name[:100]))
    run("docker", "exec", SERVER, "docker", "compose", "--project-directory", APP, "down", "-v", check=False)
    run("docker", "rm", "-f", SERVER, check=False)


if __name__ == "__main__":
    main()
