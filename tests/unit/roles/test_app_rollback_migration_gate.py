"""Role app_rollback, migration_gate.yml: the gate's refusals, run by ansible-playbook on localhost
with the plan release_facts would return (one table; the filter's own rules: test_migration_gate.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GATE = ROOT / "roles" / "app_rollback" / "tasks" / "migration_gate.yml"

A, B = "20260101000000_init", "20260201000000_add_notes"
CASES = [
    # (id, applied (None: unreadable), error, allow, refused with)
    ("target knows every applied migration", [A], "", False, None),
    ("unreadable database refuses", None, "connection refused", False,
     "migration gate: cannot read _prisma_migrations (connection refused). Nothing was changed."),
    ("unreadable database with the override goes on", None, "connection refused", True, None),
    ("schema ahead by an incompatible migration refuses", [A, B], "", False, "migration gate"),
]


def run_gate(tmp_path, applied, error, allow):
    plan = {"applied_migrations": applied, "applied_migrations_error": error, "target_migrations": [A],
            "ahead_sql": {B: 'ALTER TABLE "Entry" DROP COLUMN "note";'}}
    play = [{"hosts": "localhost", "gather_facts": False, "connection": "local",
             "vars": {"__app_rollback_plan": plan, "app_rollback_allow_schema_ahead": allow,
                      "app_rollback_commit": "v1", "__app_rollback_target": "a" * 40},
             "tasks": [{"ansible.builtin.import_tasks": str(GATE)}]}]
    playbook = tmp_path / "gate.yml"
    playbook.write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH="%s:%s" % (Path(sys.executable).parent, os.environ["PATH"]))
    return subprocess.run(["ansible-playbook", "-i", "localhost,", str(playbook)], cwd=ROOT, env=env,
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)


@pytest.mark.parametrize("applied,error,allow,refused", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_gate_refuses_what_it_must_and_nothing_else(tmp_path, applied, error, allow, refused):
    out = run_gate(tmp_path, applied, error, allow)
    if refused is None:
        assert out.returncode == 0, out.stdout[-2000:]
        assert "Show the migration gate's verdict" in out.stdout
    else:
        assert out.returncode == 2, out.stdout[-2000:]
        failed = out.stdout[out.stdout.index("FAILED!"):]
        assert refused in " ".join(failed.split()), failed[:1500]
