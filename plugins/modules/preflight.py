#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: preflight
short_description: Check in one call that the app server has what the rollback needs
version_added: 0.1.0
description:
  - Read-only checks of the managed server, in one remote call - git, the docker CLI, Docker
    Compose v2 (C(docker compose version)), the docker daemon answering, the Python running the
    module (3.9 or newer), the app checkout (exists, is a git work tree), a Compose file in it
    that loads (C(docker compose config --quiet)), and the env file readable when one is given.
  - Resolves the app's database settings that are not secret (RV(database)) with the rule the
    database modules apply - an explicit option, else the app's env file under O(env_keys), else
    the default - so a playbook knows them without reading the env file itself. The password is
    never read into the result.
  - Reported, never required unless named in O(require) - the PostgreSQL client tools
    (C(pg_dump), C(pg_restore), C(psql), C(pg_isready)) with their major versions.
  - With O(prisma_dir) - whether the Prisma CLI can run without a download - the program of
    O(prisma_command) is on PATH and, when that program is a package runner (C(bunx), C(npx),
    ...), C(node_modules/.bin/prisma) exists in C(<project_dir>/<prisma_dir>) or in
    O(project_dir). Nothing is installed or downloaded.
  - Fails with one line per missing piece, each saying how to install or fix it (Debian
    package names), for example C(git - not found - apt-get install git).
  - Needs only the Python standard library on the server.
options:
  project_dir:
    description: The app checkout (git work tree and Compose project directory).
    type: path
    required: true
  compose_project:
    description: Compose project name (C(docker compose --project-name)) for the read-only C(docker compose config --quiet) that checks the Compose file loads.
    type: str
  env_file:
    description:
      - The app's env file; when given it must exist and be readable. Without it, RV(app.env_file)
        reports C(<project_dir>/.env) when that exists.
    type: path
  login_host:
    description: The database host, when the app sets it explicitly.
    type: str
    default: 127.0.0.1
  login_port:
    description: The database port, when set explicitly; else the env file's port key, else 5433.
    type: int
  login_user:
    description: The database user, when set explicitly; else the env file's user key.
    type: str
  database:
    description: The database name, when set explicitly; else the env file's database key.
    type: str
  env_keys:
    description:
      - The app's env file keys for the settings (as for M(maverick.rollback.pg_backup)); defaults
        are the official postgres image's C(POSTGRES_DB), C(POSTGRES_USER), C(POSTGRES_PASSWORD),
        C(POSTGRES_PORT).
    type: dict
    suboptions:
      database:
        description: Key of the database name.
        type: str
        default: POSTGRES_DB
      user:
        description: Key of the user.
        type: str
        default: POSTGRES_USER
      password:
        description: Key of the password (named only; its value is never returned).
        type: str
        default: POSTGRES_PASSWORD
      port:
        description: Key of the port.
        type: str
        default: POSTGRES_PORT
extends_documentation_fragment:
  - maverick.rollback.attributes
  - maverick.rollback.server_check
attributes:
  check_mode:
    support: full
    description: Every check only reads; the module runs the same in check mode.
notes:
  - Git runs with C(GIT_OPTIONAL_LOCKS=0), so checking the work tree never writes to C(.git).
  - The Compose file is looked up as Compose does without C(-f) - C(compose.yaml), C(compose.yml),
    C(docker-compose.yaml), C(docker-compose.yml).
seealso:
  - module: maverick.rollback.pg_backup
  - module: maverick.rollback.prisma_migrate
author:
  - Maverick Applications SRE (@maverickapplications)
"""

EXAMPLES = r"""
- name: Check the app server before anything changes
  maverick.rollback.preflight:
    project_dir: /opt/lifetracker
    prisma_dir: packages/core
  register: preflight

- name: The database of an app whose env file uses its own keys
  maverick.rollback.preflight:
    project_dir: /srv/ledgerly
    env_keys: {database: APP_DB_NAME, user: APP_DB_USER, password: APP_DB_PASS, port: APP_DB_PORT}
  register: preflight  # preflight.database.port, .name, .user

- name: A backup from the host needs the host's pg_dump
  maverick.rollback.preflight:
    project_dir: /opt/lifetracker
    require: [pg_dump, pg_restore]

- name: Only report (never fail), then decide
  maverick.rollback.preflight:
    project_dir: /opt/lifetracker
  register: preflight
  failed_when: false

- name: Show what is missing
  ansible.builtin.debug:
    msg: "{{ preflight.missing | map(attribute='fix') | list }}"
  when: preflight.missing | length > 0
"""

RETURN = r"""
ansible_facts:
  description: C(effective_user_id), the user the modules run as (what C(setup) gives with C(gather_subset=user)).
  returned: success
  type: dict
  sample: {effective_user_id: 0}
ok:
  description: Nothing required is missing.
  type: bool
  returned: always
tools:
  description:
    - Versions found - C(git), C(docker) (the CLI), C(compose) (v2), C(docker_server) (the daemon),
      C(python) as strings; C(pg_dump), C(pg_restore), C(psql), C(pg_isready) as major versions
      (int); C(prisma) the path of the local Prisma CLI. Null when not found.
  type: dict
  returned: always
  sample: {git: "2.39.5", docker: "28.2.2", compose: "2.40.3", docker_server: "20.10.24", python: "3.11.2",
           pg_dump: 15, pg_restore: 15, psql: 15, pg_isready: null, prisma: null}
app:
  description: The checkout.
  type: dict
  returned: always
  contains:
    project_dir:
      description: O(project_dir).
      type: str
    exists:
      description: O(project_dir) is a directory.
      type: bool
    work_tree:
      description: It is a git work tree.
      type: bool
    commit:
      description: Its C(HEAD), null when not a work tree.
      type: str
    compose_file:
      description: The Compose file found, null when none.
      type: str
    env_file:
      description: O(env_file), else C(<project_dir>/.env) when it exists, else null.
      type: str
    env_readable:
      description: Whether RV(app.env_file) can be read; null when there is none.
      type: bool
database:
  description:
    - The app's database settings without the password - C(host), C(port) (int), C(name) and
      C(user) (empty when unknown), C(sources) (per setting C(option), C(env_file:<KEY>),
      C(default) or null).
  type: dict
  returned: always
  sample: {host: 127.0.0.1, port: 5433, name: lifetracker, user: lifetracker,
           sources: {port: "env_file:POSTGRES_PORT", database: "env_file:POSTGRES_DB", user: "env_file:POSTGRES_USER"}}
prisma:
  description:
    - With O(prisma_dir) - C(dir), C(command), C(command_path) (where its program is, or null),
      C(local_cli) (C(node_modules/.bin/prisma) found, or null).
  type: dict
  returned: when O(prisma_dir) is set
missing:
  description: Each missing piece - C(what), C(problem), C(fix) (how to install or fix it); empty when all is there.
  type: list
  elements: dict
  returned: always
  sample: [{what: git, problem: not found, fix: apt-get install git}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maverick.rollback.plugins.module_utils._connection import CONNECTION_ARGUMENT_SPEC
from ansible_collections.maverick.rollback.plugins.module_utils._preflight import (
    SERVER_ARGUMENT_SPEC, Probe, server_result, user_facts)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project_dir=dict(type="path", required=True),
            compose_project=dict(type="str"),
            env_file=dict(type="path"),
            **dict((name, dict(CONNECTION_ARGUMENT_SPEC[name]))
                   for name in ("login_host", "login_port", "login_user", "database", "env_keys")),
            **SERVER_ARGUMENT_SPEC
        ),
        supports_check_mode=True,
    )
    params = module.params
    result, missing = server_result(Probe(module, params["timeout"]), params)
    if result is None:
        module.fail_json(msg=missing)
    if missing:
        module.fail_json(msg=missing, changed=False, **result)
    module.exit_json(msg="the server has everything the rollback needs", changed=False, ansible_facts=user_facts(),
                     **result)


if __name__ == "__main__":
    main()
