# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The app's database settings: explicit settings > the app's .env > default."""

from __future__ import annotations

DOCUMENTATION = r"""
name: app_database
short_description: Resolve the app's database settings from the app contract and its .env
version_added: 0.1.0
description:
  - One precedence rule for every role, the same the database modules apply on the server
    (module_utils/_connection.py resolve_connection) - an explicit setting wins, else the value of
    the matching key of the app's .env, else the default (port 5433).
  - Returns no password, so the result is safe to print.
options:
  _input:
    description: The parsed .env (M(maverick.rollback.dotenv) output); empty when unreadable.
    type: dict
    required: true
  settings:
    description: Explicit settings C(host), C(port) (0 or empty = not set), C(name), C(user).
    type: dict
    required: true
  keys:
    description: The .env keys for C(database), C(user), C(port) (C(app_db_env_keys)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The app's database, without its password
  ansible.builtin.set_fact:
    db: >-
      {{ env | maverick.rollback.app_database({'host': app_db_host, 'port': app_db_port,
         'name': app_db_name, 'user': app_db_user}, app_db_env_keys) }}
"""

RETURN = r"""
_value:
  description: C(host), C(port) (int), C(name), C(user) (empty strings when unknown).
  type: dict
"""

from ansible_collections.maverick.rollback.plugins.module_utils._connection import resolve_connection


def app_database(env, settings, keys):
    env = env or {}
    port = str(settings.get("port") or "").strip()
    params = {
        "login_host": settings.get("host") or None,
        "login_port": int(port) if port.isdigit() and int(port) > 0 else None,
        "login_user": settings.get("user") or None,
        "database": settings.get("name") or None,
        "env_keys": keys,
    }
    conn = resolve_connection(params, env)
    return {"host": conn["host"], "port": conn["port"], "name": conn["database"] or "", "user": conn["user"] or ""}


class FilterModule:
    """maverick.rollback app database filter."""

    def filters(self):
        return {"app_database": app_database}
