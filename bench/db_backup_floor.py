#!/usr/bin/env python3
"""Benchmark: the floor under issue 18's db_backup.yml goal (wall <= the dump module's own time + 2 s).

On bench/backup_restore.py's server (mr-bench-db, one database size), alternating which goes
first, medians of:

  runbook:    the runbook's own `pg_dump > file` (docker compose exec), for scale;
  floor:      a playbook of one pg_backup call with db_backup.yml's options (server check in the
              call, verify list, the ledger read for retention) and no controller task, no lock
              and no ledger record: wall - the module's own duration_s;
  db_backup:  playbooks/db_backup.yml: wall - the module's own duration_s (the goal's overhead).

  .venv/bin/python bench/db_backup_floor.py --rounds 4 --size-mb 100     # about 5 min on 2 cores
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import backup_restore as bench  # noqa: E402  (its server, database and playbook runner)

FLOOR = """- name: db_backup floor - the dump call only, no controller task
  hosts: %(server)s
  gather_facts: false
  tasks:
    - name: Dump, verify, write the manifest and apply retention
      maverick.rollback.pg_backup:
        backup_dir: /var/lib/maverick-rollback/backups
        app: lifetracker
        format: custom
        verify: list
        keep: 0
        ledger_path: /var/lib/maverick-rollback/lifetracker/ledger.jsonl
        via: auto
        project_dir: %(app)s
        compose_service: postgres
        compose_project: %(project)s
        check_server: true
        prisma_dir: packages/core
"""


def overhead(env, playbook):
    """(wall - the dump module's own duration_s, wall) of one run."""
    wall, report = env.playbook(playbook, "-e", "db_backup_keep=0", json_out=True)
    return wall - bench.task_result(report, "Dump, verify")["duration_s"], wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--size-mb", type=int, default=100)
    args = parser.parse_args()
    env = bench.Env()
    floor = Path(tempfile.mkdtemp(prefix="mr-bfloor-")) / "floor.yml"
    floor.write_text(FLOOR % {"server": bench.SERVER, "app": bench.APP, "project": bench.PROJECT})
    ways = {"floor": str(floor), "db_backup": "playbooks/db_backup.yml"}
    results = {"runbook": [], "floor": [], "db_backup": []}
    try:
        bench.start_server(env)
        bench.grow_to(args.size_mb)
        print("load average at start %.1f" % os.getloadavg()[0], flush=True)
        for round_ in range(args.rounds):
            results["runbook"].append((bench.timed_sh("%s exec -T postgres pg_dump -U lifetracker lifetracker "
                                                      "> /root/plain.sql" % bench.COMPOSE), 0))
            for way in list(ways) if round_ % 2 == 0 else list(ways)[::-1]:
                results[way].append(overhead(env, ways[way]))
            print("round %d: %s" % (round_ + 1, {way: [round(x, 2) for x in runs[-1]] for way, runs in results.items()}),
                  flush=True)
    finally:
        bench.cleanup()
        shutil.rmtree(env.dir, ignore_errors=True)
        shutil.rmtree(floor.parent, ignore_errors=True)
    print()
    print("db_backup floor, %d MB, %d round(s), medians; %d CPU(s); load average at the end %.1f"
          % (args.size_mb, args.rounds, os.cpu_count(), os.getloadavg()[0]))
    print("| | wall | wall - the dump module's own time |")
    print("|---|---|---|")
    print("| runbook `pg_dump > file` | %.2f s | |" % statistics.median(r[0] for r in results["runbook"]))
    for way in ways:
        walls, overheads = [r[1] for r in results[way]], [r[0] for r in results[way]]
        print("| %s | %.2f s | %.2f s |" % (way, statistics.median(walls), statistics.median(overheads)))
    print("goal: db_backup.yml wall - the dump module's own time <= 2 s")


if __name__ == "__main__":
    main()
