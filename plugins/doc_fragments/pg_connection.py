# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options of pg_backup, pg_restore, prisma_migrate and release_facts."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  project_dir:
    description:
      - The app checkout - its git work tree, the Compose project directory, and where its
        env file (C(.env)) is looked for.
    type: path
    required: true
  compose_project:
    description:
      - Compose project name (C(docker compose --project-name)); default what Compose derives
        (C(COMPOSE_PROJECT_NAME) in the C(.env), else the directory name).
    type: str
  compose_service:
    description: The database's Compose service, for C(docker compose exec -T <service>).
    type: str
    default: postgres
  env_file:
    description:
      - The app's env file (Compose syntax), read for the settings named in O(env_keys) that
        are not given as options. Default C(<project_dir>/.env) when it exists; a file given
        here must exist and be readable.
    type: path
  env_keys:
    description:
      - >-
        Which keys of O(env_file) hold the database settings. A partial dict overrides only
        the keys given, for example C({password: APP_DB_PASS, user: APP_DB_USER}) for an app
        whose C(.env) says C(APP_DB_PASS=...).
    type: dict
    suboptions:
      database:
        description: Key of the database name.
        type: str
        default: POSTGRES_DB
      user:
        description: Key of the database user.
        type: str
        default: POSTGRES_USER
      password:
        description: Key of the password.
        type: str
        default: POSTGRES_PASSWORD
      port:
        description: Key of the port published on the host.
        type: str
        default: POSTGRES_PORT
  login_host:
    description: Database host, as reached from the managed host (host tools, Prisma).
    type: str
    default: 127.0.0.1
  login_port:
    description:
      - Database port, as reached from the managed host. Default the port key of O(env_file)
        (C(POSTGRES_PORT)), else 5433 (the runbook's published port).
    type: int
  login_user:
    description: Database user. Default the user key of O(env_file) (C(POSTGRES_USER)).
    type: str
  login_password:
    description:
      - Password. Default the password key of O(env_file) (C(POSTGRES_PASSWORD)).
      - Passed through a 0600 pgpass file (host tools) or the environment (C(docker compose
        exec -e PGPASSWORD), by name only; Prisma's C(DATABASE_URL)); never on a command line;
        masked in every result and message.
    type: str
  database:
    description: The app's database. Default the database key of O(env_file) (C(POSTGRES_DB)).
    type: str
  via:
    description:
      - Where the PostgreSQL client tools run.
      - C(host) - the host's tools against O(login_host):O(login_port).
      - C(compose) - inside the database's container, C(docker compose --project-directory
        <project_dir> exec -T <compose_service>) (its local socket; the server's own tool versions).
      - C(auto) - C(host) when the host has the tool the step needs (C(pg_dump) or
        C(pg_restore) of at least the server's major version; any C(psql) for queries) and the
        server answers at O(login_host):O(login_port); else C(compose). The result's C(via)
        says which, C(via_reason) why compose.
    type: str
    choices: [auto, compose, host]
    default: auto
"""
