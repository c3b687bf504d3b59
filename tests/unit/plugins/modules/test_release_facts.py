"""release_facts: the migration gate's database read (settings from the app's .env,
password masked in errors, no psycopg2 reported plainly)."""

import pytest

from ansible_collections.maverick.rollback.plugins.modules import release_facts

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
