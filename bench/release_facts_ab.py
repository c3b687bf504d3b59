#!/usr/bin/env python3
"""A/B benchmark of the plan's one read: release_facts from another checkout ("before") against this one.

Ad hoc calls (`ansible -m maverick.rollback.release_facts`) with the quick rollback's options and
target HEAD (a no-op), alternating which side goes first, on bench/quick_rollback.py's server (set
up once here). Each call is timed from start to exit (ansible's own start included), and the server
container's CPU is read from its cgroup before and after. Prints the medians. A whole-playbook bench
cannot see a change of a few tenths of a second on this machine (docs/performance.md).

  git worktree add /tmp/before <commit> && ln -s "$PWD/.venv" /tmp/before/.venv
  .venv/bin/python bench/release_facts_ab.py --before /tmp/before --calls 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quick_rollback as bench  # noqa: E402  (its server and inventory)

ARGS = {"project_dir": bench.APP, "target": "HEAD", "compose_project": bench.PROJECT, "check_server": True,
        "read_applied": True, "migrations_dir": "packages/core/prisma/migrations", "compose_service": "postgres",
        "prisma_dir": "packages/core", "lock_path": "/var/lib/maverick-rollback/lifetracker/lock", "run_id": "ab"}


def server_cpu():
    """CPU seconds the server container has used (cgroup v1 cpuacct or v2 cpu.stat)."""
    cid = bench.run("docker", "inspect", "-f", "{{.Id}}", bench.SERVER).stdout.strip()
    v1 = Path("/sys/fs/cgroup/cpuacct/docker/%s/cpuacct.usage" % cid)
    if v1.exists():
        return int(v1.read_text()) / 1e9
    for v2 in (Path("/sys/fs/cgroup/system.slice/docker-%s.scope/cpu.stat" % cid),
               Path("/sys/fs/cgroup/docker/%s/cpu.stat" % cid)):
        if v2.exists():
            fields = dict(line.split() for line in v2.read_text().splitlines())
            return int(fields["usage_usec"]) / 1e6
    raise SystemExit("no cgroup CPU counter for %s" % bench.SERVER)


def call(root, inventory):
    """(seconds, server CPU seconds) of one ad hoc call with root's collection."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(Path(root) / "ansible.cfg"),
               PATH="%s:%s" % (Path(root) / ".venv/bin", os.environ["PATH"]))
    cpu, started = server_cpu(), time.monotonic()
    out = bench.run("ansible", "-i", inventory, bench.SERVER, "-m", "maverick.rollback.release_facts",
                    "-a", json.dumps(ARGS), check=False, env=env)
    elapsed, used = time.monotonic() - started, server_cpu() - cpu
    if out.returncode != 0:
        sys.exit("release_facts failed (%s):\n%s" % (root, out.stdout[-2000:]))
    return elapsed, used


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--before", required=True, help="checkout of the other commit (with .venv)")
    parser.add_argument("--calls", type=int, default=10, help="calls per side")
    args = parser.parse_args()
    inventory = bench.setup()
    sides = {"before": args.before, "after": str(bench.ROOT)}
    results = {side: [] for side in sides}
    for index in range(args.calls):
        for side in list(sides) if index % 2 == 0 else list(sides)[::-1]:
            results[side].append(call(sides[side], inventory))
    for side, calls in results.items():
        print("%s: wall %.3f s, the server's CPU %.3f s (medians of %d calls)" % (
            side, statistics.median(c[0] for c in calls), statistics.median(c[1] for c in calls), len(calls)))
    bench.run("docker", "exec", bench.SERVER, "docker", "compose", "--project-directory", bench.APP, "down", "-v", check=False)
    bench.run("docker", "rm", "-f", bench.SERVER, check=False)


if __name__ == "__main__":
    main()
