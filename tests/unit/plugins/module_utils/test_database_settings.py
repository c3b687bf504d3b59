"""database_settings: explicit settings > the app's .env (under the app's keys) > default port; no password."""

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils._connection import database_settings

LIFETRACKER_KEYS = {"database": "POSTGRES_DB", "user": "POSTGRES_USER", "password": "POSTGRES_PASSWORD",
                    "port": "POSTGRES_PORT"}
APP2_KEYS = {"database": "APP_DB_NAME", "user": "APP_DB_USER", "password": "APP_DB_PASS", "port": "APP_DB_PORT"}
LT_ENV = {"POSTGRES_DB": "lifetracker", "POSTGRES_USER": "lifetracker", "POSTGRES_PASSWORD": "pw",
          "POSTGRES_PORT": "25520"}
APP2_ENV = {"APP_DB_NAME": "ledgerdb", "APP_DB_USER": "ledger_svc", "APP_DB_PASS": "pw", "APP_DB_PORT": "26432",
            "POSTGRES_PORT": "1"}
UNSET = {"host": "127.0.0.1", "port": 0, "name": "", "user": ""}

CASES = [
    # (id, env, explicit settings, keys, expected)
    ("env-lifetracker", LT_ENV, UNSET, LIFETRACKER_KEYS,
     {"host": "127.0.0.1", "port": 25520, "name": "lifetracker", "user": "lifetracker"}),
    ("env-other-keys", APP2_ENV, UNSET, APP2_KEYS,
     {"host": "127.0.0.1", "port": 26432, "name": "ledgerdb", "user": "ledger_svc"}),
    ("explicit-wins", APP2_ENV, {"host": "db.internal", "port": "7000", "name": "x", "user": "y"}, APP2_KEYS,
     {"host": "db.internal", "port": 7000, "name": "x", "user": "y"}),
    ("partial-keys-merge-over-defaults", LT_ENV, UNSET, {"port": "MISSING_PORT"},
     {"host": "127.0.0.1", "port": 5433, "name": "lifetracker", "user": "lifetracker"}),
    ("no-env-default-port", {}, UNSET, LIFETRACKER_KEYS, {"host": "127.0.0.1", "port": 5433, "name": "", "user": ""}),
    ("unreadable-env-is-none", None, UNSET, LIFETRACKER_KEYS,
     {"host": "127.0.0.1", "port": 5433, "name": "", "user": ""}),
    ("non-numeric-env-port", {"POSTGRES_PORT": "x"}, UNSET, LIFETRACKER_KEYS,
     {"host": "127.0.0.1", "port": 5433, "name": "", "user": ""}),
    ("survey-string-port", LT_ENV, dict(UNSET, port="6543"), LIFETRACKER_KEYS,
     {"host": "127.0.0.1", "port": 6543, "name": "lifetracker", "user": "lifetracker"}),
]


def settings_of(env, settings, keys):
    """The module options the app role passes (explicit values only), resolved against the .env."""
    params = {"login_host": settings["host"] or None, "login_user": settings["user"] or None,
              "database": settings["name"] or None, "env_keys": keys,
              "login_port": int(settings["port"]) if int(settings["port"] or 0) > 0 else None}
    result = database_settings(params, env or {})
    return dict((k, v) for k, v in result.items() if k != "sources")


@pytest.mark.parametrize("env,settings,keys,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_database_settings(env, settings, keys, expected):
    assert settings_of(env, settings, keys) == expected


def test_never_returns_the_password_nor_its_source():
    result = database_settings({"env_keys": LIFETRACKER_KEYS}, LT_ENV)
    assert "pw" not in repr(result) and "password" not in result["sources"]
    assert result["sources"] == {"user": "env_file:POSTGRES_USER", "database": "env_file:POSTGRES_DB",
                                 "port": "env_file:POSTGRES_PORT"}
