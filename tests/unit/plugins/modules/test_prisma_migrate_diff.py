"""prisma_migrate state=diff with run_command answered by real captured CLI output."""

import json
import os
from pathlib import Path

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.maverick.rollback.plugins.modules import prisma_migrate

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "prisma_diff"
PW = "pw/with@special:chars"


class Done(Exception):
    pass


def case(name):
    rc = int((FIXTURES / (name + ".rc")).read_text().strip())
    return rc, (FIXTURES / (name + ".stdout")).read_text(), (FIXTURES / (name + ".stderr")).read_text()


@pytest.fixture
def project(tmp_path):
    core = tmp_path / "core"
    (core / "prisma" / "migrations" / "20250101000000_init").mkdir(parents=True)
    (core / "node_modules" / ".bin").mkdir(parents=True)  # the project's installed CLI
    (core / "node_modules" / ".bin" / "prisma").write_text("")
    env = tmp_path / ".env"
    env.write_text("POSTGRES_USER=lifetracker\nPOSTGRES_PASSWORD=%s\nPOSTGRES_DB=lifetracker\n"
                   "POSTGRES_PORT=25610\n" % PW)
    schema = tmp_path / "v1.prisma"
    schema.write_text('datasource db {\n  provider = "postgresql"\n}\n')
    return {"core": str(core), "env": str(env), "schema": str(schema)}


def run(monkeypatch, args, answer, check_mode=False):
    calls = []

    def run_command(self, argv, cwd=None, environ_update=None, **_kw):
        calls.append({"argv": list(argv), "env": dict(environ_update or {}), "cwd": cwd})
        return case(answer)

    def finish(failed):
        def _finish(self, **kw):
            kw["_failed"] = failed
            raise Done(kw)
        return _finish

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", finish(False))
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", finish(True))
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **kw: "/usr/bin/" + name if name in ("bunx", "timeout") else None)
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(Done) as info:
            prisma_migrate.main()
    return info.value.args[0], calls


def args(project, **kw):
    out = {"state": "diff", "project_dir": project["core"], "env_file": project["env"], "via": "host",
           "to_schema": project["schema"]}
    out.update(kw)
    return out


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_diff_returns_the_script_read_only(monkeypatch, project, check_mode):
    result, calls = run(monkeypatch, args(project), "sandbox_v2_db_to_v1_schema", check_mode)
    assert not result["_failed"] and result["failed"] is False
    assert result["changed"] is False
    assert result["empty_diff"] is False and result["statements"] == 2
    assert 'DROP TABLE "Tag";' in result["script"]
    assert result["msg"] == "2 statements from the database to %s" % project["schema"]
    (call,) = calls  # one command, also in check mode (diff only reads)
    assert call["argv"][-6:] == ["migrate", "diff", "--from-config-datasource", "--to-schema",
                                 project["schema"], "--script"]
    assert call["env"]["DATABASE_URL"].startswith("postgresql://lifetracker:")
    assert not any(PW in a or "pw%2F" in a for a in call["argv"])


def test_diff_empty(monkeypatch, project):
    result, _calls = run(monkeypatch, args(project), "sandbox_v2_db_to_v2_schema")
    assert result["empty_diff"] is True and result["statements"] == 0
    assert "already matches" in result["msg"]


@pytest.mark.parametrize("answer,code,text", [
    ("sandbox_diff_auth_failed", "P1000", "authentication failed for database user 'lifetracker'"),
    ("sandbox_diff_bad_schema", "P1012", "Prisma error P1012"),
])
def test_diff_errors_are_explained(monkeypatch, project, answer, code, text):
    result, _calls = run(monkeypatch, args(project), answer)
    assert result["_failed"] and result["error_code"] == code
    assert result["msg"].startswith("prisma migrate diff failed (exit 1, %s)" % code)
    assert text in result["msg"]
    assert PW not in json.dumps({k: v for k, v in result.items() if k != "_failed"})


def test_diff_needs_an_existing_schema_file(monkeypatch, project):
    result, calls = run(monkeypatch, args(project, to_schema=project["schema"] + ".missing"), "diff_empty")
    assert result["_failed"] and "does not exist" in result["msg"] and calls == []


def test_diff_from_schema_content_uses_a_private_file(monkeypatch, project, tmp_path):
    content = 'datasource db {\n  provider = "postgresql"\n}\n// v1\n'
    seen = {}

    def remember(self, argv, cwd=None, environ_update=None, **_kw):
        path = argv[argv.index("--to-schema") + 1]
        seen.update(path=path, content=open(path).read(), mode=os.stat(path).st_mode & 0o777)
        return case("sandbox_v2_db_to_v1_schema")

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", lambda self, **kw: (_ for _ in ()).throw(Done(kw)))
    monkeypatch.setattr(basic.AnsibleModule, "run_command", remember)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **kw: "/usr/bin/" + name if name in ("bunx", "timeout") else None)
    a = args(project, to_schema_content=content, _ansible_remote_tmp=str(tmp_path / "remote"),
             _ansible_keep_remote_files=False)
    del a["to_schema"]
    with patch_module_args(a):
        with pytest.raises(Done) as info:
            prisma_migrate.main()
    result = info.value.args[0]
    assert seen["content"] == content and seen["mode"] == 0o600
    assert seen["path"].endswith(".prisma") and seen["path"] != project["schema"]
    assert result["msg"] == "2 statements from the database to the given schema"


def test_diff_needs_one_schema(monkeypatch, project):
    both, _calls = run(monkeypatch, args(project, to_schema_content="x"), "sandbox_v2_db_to_v1_schema")
    assert both["_failed"] and "mutually exclusive" in both["msg"]
    none_given = args(project)
    del none_given["to_schema"]
    neither, _calls = run(monkeypatch, none_given, "sandbox_v2_db_to_v1_schema")
    assert neither["_failed"] and "to_schema" in neither["msg"]
