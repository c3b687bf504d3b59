#!/usr/bin/env python3
"""A/B benchmark: db_restore.yml and db_backup.yml of another checkout ("before") against this one ("after").

One bench server (bench/backup_restore.py's mr-bench-db, set up once, one database size), rounds
alternating which side goes first, so a slow or loaded machine affects both sides alike. Per side,
medians of: db_restore.yml's orchestration (wall - verify - scratch restore - safety backup, the
modules' own durations; issue 18's goal <= 5 s), its wall, the api downtime polled from outside,
and db_backup.yml's overhead (wall - the dump module; goal <= 2 s); then the tasks each ran.

  git worktree add /tmp/before <commit> && ln -s "$PWD/.venv" /tmp/before/.venv
  .venv/bin/python bench/db_restore_ab.py --before /tmp/before --rounds 4 --size-mb 100
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import time
from pathlib import Path


def load(root, tag):
    spec = importlib.util.spec_from_file_location("backup_restore_" + tag, Path(root) / "bench" / "backup_restore.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def task_duration(bench, report, *names):
    """The module's own duration_s of the first task that ran whose name holds one of names."""
    for name in names:
        result = bench.task_result(report, name)
        if result:
            return result.get("duration_s", 0)
    return 0


def restore(bench, env, path):
    """One db_restore.yml run: (orchestration, wall, api downtime, tasks ran, skipped)."""
    poller = bench.Poller()
    poller.start()
    time.sleep(0.5)
    wall, report = env.playbook("playbooks/db_restore.yml", "-e", "db_restore_backup=" + path, "-e", "db_restore_confirm=yes",
                                "-e", "db_restore_force=true", json_out=True)
    time.sleep(0.5)
    poller.stop.set()
    poller.join()
    # The safety backup: a background job's wait task carried it in older checkouts.
    data = (task_duration(bench, report, "Verify /") + task_duration(bench, report, "Restore into ")
            + task_duration(bench, report, "Wait for the background dump", "Dump, verify"))
    record = json.loads(bench.sh("tail -n 1 /var/lib/maverick-rollback/lifetracker/ledger.jsonl"))
    assert record["action"] == "restore" and record["outcome"] == "restored", record
    bench.psql("DROP DATABASE %s WITH (FORCE)" % record["pre_restore_database"], db="postgres")
    bench.sh("rm -rf /var/lib/maverick-rollback/backups/pre-restore")
    return (wall - data, wall, poller.downtime()) + bench.task_counts(report)


def backup(bench, env):
    """One db_backup.yml run: (overhead, tasks ran, skipped)."""
    wall, report = env.playbook("playbooks/db_backup.yml", "-e", "db_backup_keep=0", json_out=True)
    return (wall - task_duration(bench, report, "Dump, verify"),) + bench.task_counts(report)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--before", required=True, help="checkout of the other commit (with .venv)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--size-mb", type=int, default=100, help="database size (default 100)")
    args = parser.parse_args()
    after, before = load(Path(__file__).resolve().parents[1], "after"), load(args.before, "before")
    sides = {"before": (before, before.Env()), "after": (after, after.Env())}
    runs = {name: [] for name in sides}
    backups = {name: [] for name in sides}
    try:
        after.start_server(sides["after"][1])
        after.grow_to(args.size_mb)
        wall, report = sides["after"][1].playbook("playbooks/db_backup.yml", json_out=True)
        path = after.task_result(report, "Dump, verify")["path"]
        print("load average at start %.1f; database %d MB, backup %s" % (
            os.getloadavg()[0], int(after.psql("SELECT pg_database_size('lifetracker')")) // 1048576, path), flush=True)
        for round_ in range(args.rounds):
            order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
            for name in order:
                bench, env = sides[name]
                runs[name].append(restore(bench, env, path))
                backups[name].append(backup(bench, env))
            print("round %d: %s" % (round_ + 1, {name: "restore orchestration %.1f s, wall %.1f s, down %.1f s; backup overhead %.1f s"
                                                 % (runs[name][-1][:3] + backups[name][-1][:1]) for name in order}), flush=True)
    finally:
        after.cleanup()
        for _bench, env in sides.values():
            shutil.rmtree(env.dir, ignore_errors=True)
    for name in sides:
        median = [statistics.median(r[i] for r in runs[name]) for i in range(3)]
        print("%s: db_restore.yml orchestration %.1f s (goal <= 5 s), wall %.1f s, api down %.1f s; %d tasks ran, %d skipped"
              % ((name,) + tuple(median) + runs[name][-1][3:]))
        print("%s: db_backup.yml overhead %.1f s (goal <= 2 s); %d tasks ran, %d skipped"
              % ((name, statistics.median(b[0] for b in backups[name])) + backups[name][-1][1:]))
    print("load average at the end %.1f" % os.getloadavg()[0])


if __name__ == "__main__":
    main()
