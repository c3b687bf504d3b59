"""Shared by the pg_backup and pg_restore module tests: the fake client tools and a
real module run (exit_json/fail_json and their no_log masking included)."""

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

from ansible.module_utils.testing import patch_module_args

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pg"
PW = "s3cret-Canary:pw"
needs_pg_restore = pytest.mark.skipif(not shutil.which("pg_restore"), reason="pg_restore (PostgreSQL client) not installed")

_spec = importlib.util.spec_from_file_location("fakepg", FIX / "fakepg.py")
fakepg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fakepg)


def start_fake_server(tmp_path, monkeypatch, dbs=None):
    """fakepg's tools first on PATH, their state under tmp_path."""
    srv = fakepg.Server(str(tmp_path), dbs=dbs) if dbs is not None else fakepg.Server(str(tmp_path))
    for key, value in srv.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", srv.bindir + os.pathsep + os.environ["PATH"])
    return srv


def run_module(main, args, capsys, check=False):
    """Run a module's main() for real; the result dict with the exit code as _rc."""
    args = dict(args)
    if check:
        args["_ansible_check_mode"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            main()
    out = capsys.readouterr().out
    assert PW not in out, "password leaked into the module output"
    result = json.loads(out)
    result["_rc"] = exc.value.code
    return result
