"""_connection: one vocabulary, one precedence rule (option > env file > default), one default port."""

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.maverick.rollback.plugins.module_utils._connection import (
    CONNECTION_ARGUMENT_SPEC, DEFAULT_PORT, ENV_KEYS, EnvFileError, connection_spec, env_keys, missing_setting,
    read_env, resolve_connection)
from ansible_collections.maverick.rollback.plugins.module_utils import _prisma

ENV = {"POSTGRES_USER": "lt", "POSTGRES_PASSWORD": "envpw", "POSTGRES_DB": "ltdb", "POSTGRES_PORT": "25720"}
APP_ENV = {"APP_DB_USER": "shop", "APP_DB_PASS": "shoppw", "APP_DB_NAME": "shopdb", "APP_DB_PORT": "6543",
           "POSTGRES_USER": "wrong"}
APP_KEYS = {"database": "APP_DB_NAME", "user": "APP_DB_USER", "password": "APP_DB_PASS", "port": "APP_DB_PORT"}

CONN_CASES = [
    # (id, params, env, expected subset)
    ("env-fills-all", {}, ENV, {"user": "lt", "password": "envpw", "database": "ltdb", "port": 25720}),
    ("params-win", {"login_user": "u", "login_password": "p", "database": "d", "login_port": 1},
     ENV, {"user": "u", "password": "p", "database": "d", "port": 1}),
    ("no-env-one-default-port", {}, {}, {"user": None, "password": None, "database": None, "port": 5433}),
    ("bad-port-in-env", {}, {"POSTGRES_PORT": "x"}, {"port": 5433}),
    ("empty-option-is-unset", {"login_user": "", "database": ""}, ENV, {"user": "lt", "database": "ltdb"}),
    ("app-keys", {"env_keys": APP_KEYS}, APP_ENV,
     {"user": "shop", "password": "shoppw", "database": "shopdb", "port": 6543}),
    ("partial-keys", {"env_keys": {"password": "APP_DB_PASS"}}, dict(ENV, APP_DB_PASS="apppw"),
     {"user": "lt", "password": "apppw", "database": "ltdb"}),
    ("defaults", {}, {}, {"via": "auto", "host": "127.0.0.1", "service": "postgres", "project": None,
                          "maintenance_db": "postgres"}),
    ("compose-names", {"compose_service": "db", "compose_project": "shop"}, {}, {"service": "db", "project": "shop"}),
]


@pytest.mark.parametrize("params,env,expected", [c[1:] for c in CONN_CASES], ids=[c[0] for c in CONN_CASES])
def test_resolve_connection(params, env, expected):
    conn = resolve_connection(dict({"project_dir": "/opt/x"}, **params), env)
    assert {k: conn[k] for k in expected} == expected


def test_sources_say_where_each_setting_came_from():
    conn = resolve_connection({"login_user": "u", "env_keys": {"password": "APP_DB_PASS"}},
                              {"APP_DB_PASS": "x", "POSTGRES_DB": "d"})
    assert conn["sources"] == {"user": "option", "password": "env_file:APP_DB_PASS", "database": "env_file:POSTGRES_DB",
                               "port": "default"}


def test_one_default_port_everywhere():
    assert DEFAULT_PORT == 5433
    conn = resolve_connection({}, {"POSTGRES_USER": "u", "POSTGRES_PASSWORD": "p", "POSTGRES_DB": "d"})
    assert conn["port"] == 5433
    assert _prisma.database_url_from_connection(conn)[0] == "postgresql://u:p@127.0.0.1:5433/d"
    # A URL without a port means libpq's 5432 to Prisma too: that is the URL's meaning, not our default.
    assert _prisma.parse_database_url("postgresql://u:p@h/d")["port"] == 5432


def test_env_keys_override_only_the_keys_given():
    assert env_keys() == ENV_KEYS
    assert env_keys({"password": "APP_DB_PASS", "user": None}) == dict(ENV_KEYS, password="APP_DB_PASS")


def validate(params):
    return ArgumentSpecValidator(CONNECTION_ARGUMENT_SPEC).validate(params)


def test_argument_spec_fills_env_keys_and_requires_project_dir():
    result = validate({"project_dir": "/opt/x", "env_keys": {"password": "APP_DB_PASS"}})
    assert not result.error_messages
    assert result.validated_parameters["env_keys"] == dict(ENV_KEYS, password="APP_DB_PASS")
    assert result.validated_parameters["via"] == "auto" and result.validated_parameters["login_port"] is None
    assert validate({"project_dir": "/opt/x"}).validated_parameters["env_keys"] == ENV_KEYS
    assert "missing required arguments: project_dir" in " ".join(validate({}).error_messages)
    assert validate({"project_dir": "/x", "env_keys": {"pasword": "X"}}).error_messages
    assert CONNECTION_ARGUMENT_SPEC["login_password"]["no_log"] is True


def test_connection_spec_is_a_copy():
    spec = connection_spec(extra=dict(type="str"))
    spec["via"]["default"] = "host"
    assert CONNECTION_ARGUMENT_SPEC["via"]["default"] == "auto" and "extra" in spec


def test_read_env(tmp_path):
    (tmp_path / ".env").write_text("POSTGRES_DB=d\n")
    assert read_env({"project_dir": str(tmp_path)}) == (str(tmp_path / ".env"), {"POSTGRES_DB": "d"})
    assert read_env({"project_dir": str(tmp_path / "none")}) == (None, {})
    with pytest.raises(EnvFileError, match="env_file /nope does not exist"):
        read_env({"project_dir": str(tmp_path), "env_file": "/nope"})


def test_unreadable_env_file_is_named(tmp_path, monkeypatch):
    path = tmp_path / "env"
    path.write_text("A=1\n")

    def denied(*_args, **_kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", denied)
    with pytest.raises(EnvFileError, match="env_file .*/env is not readable: Permission denied"):
        read_env({"project_dir": str(tmp_path), "env_file": str(path)})


def test_missing_setting_names_the_real_key():
    conn = resolve_connection({"project_dir": "/srv/shop", "env_keys": APP_KEYS}, {})
    assert missing_setting(conn, "user", "login_user", "/srv/shop/.env") == (
        "no database user: set login_user or APP_DB_USER in /srv/shop/.env")
    assert missing_setting(conn, "database", "database", None) == (
        "no database name: set database or APP_DB_NAME in the env file (none found: /srv/shop/.env)")
