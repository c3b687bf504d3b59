#!/usr/bin/env python3
"""A/B benchmark: the quick rollback of another checkout ("before") against this one ("after").

Same bench server (bench/quick_rollback.py's mr-bench, set up once), rounds alternating which
side goes first, and the runbook's own commands in each round, so a slow or loaded machine
affects both sides alike. Case (b) (kept images, warm cache: time until /health reports the
target) and (e) (a no-op run), medians; then each side's task count (and tasks before the
switch) from profile_tasks.

  git worktree add /tmp/before <commit> && ln -s "$PWD/.venv" /tmp/before/.venv
  .venv/bin/python bench/quick_rollback_ab.py --before /tmp/before --rounds 4
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time
from pathlib import Path


def load(root, tag):
    spec = importlib.util.spec_from_file_location("quick_rollback_" + tag, Path(root) / "bench" / "quick_rollback.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--before", required=True, help="checkout of the other commit (with .venv)")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    after, before = load(Path(__file__).resolve().parents[1], "after"), load(args.before, "before")
    inventory = after.setup()
    v1, v2 = after.sha("v1"), after.sha("v2")
    after.playbook(v1, inventory)  # both releases' images kept
    after.playbook(v2, inventory)
    times = {"before": [], "after": [], "runbook": [], "noop_before": [], "noop_after": []}
    print("load average at start %.1f" % os.getloadavg()[0], flush=True)
    for round_ in range(args.rounds):
        sides = [("before", before), ("after", after)]
        for name, side in sides if round_ % 2 == 0 else sides[::-1]:
            times[name].append(side.playbook(v1, inventory)[0])
            side.playbook(v2, inventory)
            started = time.monotonic()
            side.playbook(v2, inventory)
            times["noop_" + name].append(time.monotonic() - started)
        times["runbook"].append(after.runbook(v1)[0])
        after.runbook(v2)
        print("round %d: %s" % (round_ + 1, {k: round(v[-1], 2) for k, v in times.items()}), flush=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    print("(b) warm, until /health reports the target: runbook %.2f s, before %.2f s (%+.2f s), after %.2f s (%+.2f s)"
          % (median["runbook"], median["before"], median["before"] - median["runbook"],
             median["after"], median["after"] - median["runbook"]))
    print("(e) no-op run: before %.2f s, after %.2f s" % (median["noop_before"], median["noop_after"]))
    after.playbook(v1, inventory)
    for name, side, target in (("before", before, v2), ("after", after, v1)):
        count, before_switch, _slowest = side.profile(target, inventory)
        print("%s: %d tasks, %d before the switch" % (name, count, before_switch))
    print("load average at the end %.1f" % os.getloadavg()[0])
    after.run("docker", "exec", after.SERVER, "docker", "compose", "--project-directory", after.APP, "down", "-v", check=False)
    after.run("docker", "rm", "-f", after.SERVER, check=False)


if __name__ == "__main__":
    main()
