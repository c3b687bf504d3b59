# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One connection vocabulary for the database modules.

pg_backup, pg_restore, prisma_migrate and release_facts take the same options
(CONNECTION_ARGUMENT_SPEC, documented once in the doc fragment
maverick.rollback.pg_connection) and resolve them with one precedence rule:
an explicit option, else the app's env file (keys named by env_keys), else the
default. There is one default port.
"""

from __future__ import annotations

import os

from ansible_collections.maverick.rollback.plugins.module_utils._dotenv import parse_env_file

# The published port of the runbook's database (LifeTracker's compose file).
DEFAULT_PORT = 5433
DEFAULT_HOST = "127.0.0.1"
DEFAULT_SERVICE = "postgres"
DEFAULT_MAINTENANCE_DB = "postgres"

# Which keys of the app's env file hold the settings (the official postgres image's names).
ENV_KEYS = {
    "database": "POSTGRES_DB",
    "user": "POSTGRES_USER",
    "password": "POSTGRES_PASSWORD",
    "port": "POSTGRES_PORT",
}

VIA_CHOICES = ["auto", "compose", "host"]

CONNECTION_ARGUMENT_SPEC = dict(
    project_dir=dict(type="path", required=True),
    compose_project=dict(type="str"),
    compose_service=dict(type="str", default=DEFAULT_SERVICE),
    env_file=dict(type="path"),
    # Names of .env keys, not secrets (no_log=False says so to the sanity tests).
    env_keys=dict(type="dict", apply_defaults=True, no_log=False, options=dict(
        (name, dict(type="str", default=key, no_log=False)) for name, key in ENV_KEYS.items())),
    login_host=dict(type="str", default=DEFAULT_HOST),
    login_port=dict(type="int"),
    login_user=dict(type="str"),
    login_password=dict(type="str", no_log=True),
    database=dict(type="str"),
    via=dict(type="str", default="auto", choices=VIA_CHOICES),
)


def connection_spec(**overrides):
    """A copy of CONNECTION_ARGUMENT_SPEC with module-specific additions (never shared dicts)."""
    spec = dict((name, dict(value)) for name, value in CONNECTION_ARGUMENT_SPEC.items())
    spec.update(overrides)
    return spec


def env_keys(given=None):
    """The env file keys: the defaults, overridden by the ones given."""
    keys = dict(ENV_KEYS)
    keys.update(dict((k, v) for k, v in (given or {}).items() if v))
    return keys


def resolve_connection(params, env):
    """Merge options with the app's env file: explicit option > env file > default.

    Returns dict: via, user, password, database, host, port, project_dir, service,
    project, maintenance_db, env_keys, sources ({setting: 'option', 'env_file:<KEY>'
    or 'default'}; None when unset).
    """
    keys = env_keys(params.get("env_keys"))
    sources = {}

    def pick(setting, option):
        if params.get(option) not in (None, ""):
            sources[setting] = "option"
            return params[option]
        value = env.get(keys[setting])
        if value not in (None, ""):
            sources[setting] = "env_file:" + keys[setting]
            return value
        sources[setting] = None
        return None

    port = params.get("login_port")
    if port is not None:
        sources["port"] = "option"
    else:
        raw = (env.get(keys["port"]) or "").strip()
        if raw.isdigit():
            port, sources["port"] = int(raw), "env_file:" + keys["port"]
        else:
            port, sources["port"] = DEFAULT_PORT, "default"
    return {
        "via": params.get("via") or "auto",
        "user": pick("user", "login_user"),
        "password": pick("password", "login_password"),
        "database": pick("database", "database"),
        "host": params.get("login_host") or DEFAULT_HOST,
        "port": port,
        "project_dir": params.get("project_dir"),
        "service": params.get("compose_service") or DEFAULT_SERVICE,
        "project": params.get("compose_project") or None,
        "maintenance_db": params.get("maintenance_db") or DEFAULT_MAINTENANCE_DB,
        "env_keys": keys,
        "sources": sources,
    }


def database_settings(params, env):
    """The app's database as the modules will reach it, without the password (safe to print).

    Returns dict: host, port (int), name, user ('' when unknown), sources (as resolve_connection).
    """
    conn = resolve_connection(params, env)
    sources = dict((k, v) for k, v in conn["sources"].items() if k != "password")
    return {"host": conn["host"], "port": conn["port"], "name": conn["database"] or "", "user": conn["user"] or "",
            "sources": sources}


class EnvFileError(Exception):
    """The env file cannot be used (named, readable message)."""


def env_file_path(params):
    """(path of the env file to read or None, whether it was given explicitly)."""
    if params.get("env_file"):
        return params["env_file"], True
    if params.get("project_dir"):
        default = os.path.join(params["project_dir"], ".env")
        if os.path.isfile(default):
            return default, False
    return None, False


def read_env(params):
    """The parsed env file ({} when there is none). Raises EnvFileError when a given one is unusable."""
    path, explicit = env_file_path(params)
    if not path:
        return None, {}
    if explicit and not os.path.exists(path):
        raise EnvFileError("env_file %s does not exist" % path)
    try:
        with open(path, "r", errors="replace") as handle:
            return path, parse_env_file(handle.read())
    except (IOError, OSError) as exc:
        raise EnvFileError("env_file %s is not readable: %s" % (path, exc.strerror or exc))


def module_connection(module):
    """The connection of a module run: options first, then the app's env file.

    Returns (connection, env file path or None). Fails the module when a given env
    file is missing or unreadable. The password becomes a no_log value, so Ansible
    masks it wherever it appears.
    """
    try:
        path, env = read_env(module.params)
    except EnvFileError as exc:
        module.fail_json(msg=str(exc))
    conn = resolve_connection(module.params, env)
    if conn["password"]:
        module.no_log_values.add(conn["password"])
    return conn, path


def missing_setting(conn, setting, option, env_path):
    """'no database user: set login_user or POSTGRES_USER in /opt/app/.env' (names the real keys)."""
    what = {"user": "database user", "database": "database name", "password": "password"}[setting]
    where = env_path or "the env file (none found: %s)" % os.path.join(conn.get("project_dir") or "<project_dir>", ".env")
    return "no %s: set %s or %s in %s" % (what, option, conn["env_keys"][setting], where)
