"""pg_restore: a backup the chosen connection cannot read is refused as such, not as damage.

A directory-format dump verified through `docker compose exec` (the db_restore role's
via=compose) used to be reported as "not readable (truncated or corrupt?)".
"""

import json
import shutil
from pathlib import Path

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.maverick.rollback.plugins.modules import pg_restore

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pg"
pytestmark = pytest.mark.skipif(not shutil.which("pg_restore"), reason="pg_restore (PostgreSQL client) not installed")


def test_directory_backup_through_compose_is_a_via_problem_not_damage(tmp_path, capsys, monkeypatch):
    app = tmp_path / "lifetracker"
    app.mkdir()
    (app / ".env").write_text("POSTGRES_USER=lifetracker\nPOSTGRES_DB=lifetracker\nPOSTGRES_PASSWORD=pw\n")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    docker = bindir / "docker"  # must never run: the refusal comes before any tool
    docker.write_text("#!/bin/sh\necho docker ran >&2\nexit 99\n")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, "/usr/bin:/bin"))
    with patch_module_args({"path": str(FIX / "dir.dump"), "project_dir": str(app), "via": "compose"}):
        with pytest.raises(SystemExit):
            pg_restore.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"]
    assert "directory-format dump can only be restored with via: host" in result["msg"]
    assert "truncated or corrupt" not in result["msg"]
    assert "docker ran" not in result["msg"]
