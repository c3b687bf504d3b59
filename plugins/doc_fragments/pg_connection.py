# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options shared by pg_backup and pg_restore."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  project_dir:
    description: The Compose project directory (the app checkout, with its C(.env)).
    type: path
    default: /opt/lifetracker
  compose_service:
    description: Compose service of the database.
    type: str
    default: postgres
  compose_project:
    description: Compose project name (C(docker compose -p)); default what Compose derives (C(.env)).
    type: str
  env_file:
    description:
      - The app's env file, read for C(POSTGRES_USER), C(POSTGRES_PASSWORD), C(POSTGRES_DB) and
        C(POSTGRES_PORT) when the matching option is not set. Default C(<project_dir>/.env)
        when it exists.
    type: path
  login_host:
    description: Database host for O(via=host).
    type: str
    default: 127.0.0.1
  login_port:
    description: Database port for O(via=host). Default C(POSTGRES_PORT) from O(env_file), else 5432.
    type: int
  login_password:
    description:
      - Password. Default C(POSTGRES_PASSWORD) from O(env_file). Passed through a 0600 pgpass
        file (host) or the environment (compose); never on a command line; masked in output.
    type: str
"""
