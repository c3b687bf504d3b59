"""release_facts: the migration gate's database read (settings from the app's .env,
password masked in errors, no psycopg2 reported plainly)."""

import json
import time

import pytest

from ansible_collections.maverick.rollback.plugins.modules import release_facts

from pg_testlib import run_module

PW = "Canary-pw:release-facts"
PARAMS = {"db_host": "127.0.0.1", "db_port": 25433, "db_name": "", "db_user": "", "db_password": "", "db_env_file": None}


@pytest.fixture
def env_file(tmp_path):
    path = tmp_path / ".env"
    path.write_text('POSTGRES_USER=lifetracker\nPOSTGRES_PASSWORD="%s"\nPOSTGRES_DB=lifetracker\n' % PW)
    return str(path)


def test_connection_from_env_file(env_file):
    conn = release_facts.db_connection(dict(PARAMS, db_env_file=env_file))
    assert (conn["host"], conn["port"], conn["dbname"], conn["user"], conn["password"]) == (
        "127.0.0.1", 25433, "lifetracker", "lifetracker", PW)


def test_explicit_settings_win_and_missing_env_file_is_skipped(env_file, tmp_path):
    conn = release_facts.db_connection(dict(PARAMS, db_env_file=env_file, db_name="other", db_user="ops", db_password="x"))
    assert (conn["dbname"], conn["user"], conn["password"]) == ("other", "ops", "x")
    conn = release_facts.db_connection(dict(PARAMS, db_env_file=str(tmp_path / "missing.env")))
    assert (conn["dbname"], conn["user"], conn["password"]) == ("", "", "")


class FakePsycopg:
    class Error(Exception):
        pass

    def __init__(self, failure):
        self.failure, self.seen = failure, None

    def connect(self, **conn):
        self.seen = conn
        raise self.Error(self.failure)


def test_error_is_masked(env_file, monkeypatch):
    fake = FakePsycopg(failure='connection failed: password authentication failed (password "%s")' % PW)
    monkeypatch.setattr(release_facts, "psycopg2", fake)
    applied, error = release_facts.read_applied(dict(PARAMS, db_env_file=env_file))
    assert applied is None
    assert "password authentication failed" in error and PW not in error
    assert fake.seen["password"] == PW and fake.seen["connect_timeout"] == 5


def test_without_psycopg2_says_what_to_install(monkeypatch):
    monkeypatch.setattr(release_facts, "psycopg2", None)
    assert release_facts.read_applied(PARAMS) == (None, "psycopg2 is not installed on the host (Debian: python3-psycopg2)")


def test_a_run_holding_the_lock_is_reported_before_anything_is_read(tmp_path, capsys):
    """A second operator hears about the run in flight, not about what that run's
    checkout and container recreation did to these reads (git and docker are never run:
    the project dir does not even exist)."""
    lock = tmp_path / "lock"
    lock.write_text(json.dumps({"run_id": "r1", "owner": "alice", "controller": "awx-1", "ttl": 600,
                                "started_epoch": time.time() - 5, "started": "now"}))
    result = run_module(release_facts.main, {"project_dir": str(tmp_path / "missing"), "target": "v1",
                                             "lock_path": str(lock)}, capsys)
    assert result["_rc"] == 1 and result["failed"]
    assert result["msg"].startswith("another run holds the lock %s: alice on awx-1 (run r1)" % lock)
    assert result["lock_holder"]["run_id"] == "r1" and "from" not in result


@pytest.mark.parametrize("lock_text", [None, "", '{"run_id": "gone", "ttl": 60, "started_epoch": 1}'],
                         ids=["free", "half-written", "stale"])
def test_a_free_or_stale_lock_lets_the_reads_go_on(tmp_path, capsys, lock_text):
    """A stale lock is app_lock's to report or break; here the reads run (and fail on
    the missing work tree, which shows they were reached)."""
    lock = tmp_path / "lock"
    if lock_text is not None:
        lock.write_text(lock_text)
    result = run_module(release_facts.main, {"project_dir": str(tmp_path / "missing"), "target": "v1",
                                             "lock_path": str(lock)}, capsys)
    assert result["failed"] and "lock_holder" not in result
    assert result["msg"].startswith("git log failed (git exited 128): fatal: cannot change to")


def test_every_read_runs_without_optional_git_locks(tmp_path, capsys, monkeypatch):
    """`git status` must not rewrite .git/index under a concurrent checkout."""
    from ansible.module_utils import basic
    seen = []

    def run_command(self, argv, **kw):
        seen.append((argv, kw.get("environ_update")))
        return 128, "", "fatal: not a git repository"

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    result = run_module(release_facts.main, {"project_dir": str(tmp_path), "target": "v1"}, capsys)
    assert result["failed"] and seen
    for argv, env in seen:
        assert argv[:3] == ["git", "-C", str(tmp_path)]
        assert env == {"LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
