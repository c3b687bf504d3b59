#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: release_facts
short_description: Read-only facts a rollback decides on, in one pass
version_added: 0.1.0
description:
  - Resolves the current commit and a target ref with git (one call, argument list,
    revisions ended with C(--)), lists modified tracked files, lists the target's Prisma
    migrations from git without checking out, reads C(docker compose config) (keeping
    only service and image names, because the configuration holds the app's secrets), and the
    running containers and release images of the compose project.
  - Derives the plan, that is whether every built service has an image kept for the target
    (C(<repository>:<full sha>)), which services would change, whether nothing is to do.
  - Changes nothing; one task instead of many keeps a 3 a.m. rollback fast.
options:
  project_dir:
    description: The git work tree, also the compose project directory.
    type: path
    required: true
  target:
    description:
      - Ref to resolve (hex SHA, tag, branch). Must match C(^[A-Za-z0-9][A-Za-z0-9._/-]*$)
        without C(..); the caller validates intent, the module refuses anything else.
      - Defaults to C(HEAD) (facts about the current release only).
    type: str
    default: HEAD
  compose_project:
    description: Compose project name; empty lets compose derive it.
    type: str
    default: ""
  migrations_dir:
    description: Path of the Prisma migrations directory inside the repository; empty skips it.
    type: str
    default: ""
  read_applied:
    description:
      - Also read the migrations the database has applied (C(_prisma_migrations), finished and not
        rolled back), for the migration gate. Read only when the target differs from the current
        commit and O(migrations_dir) is set; needs C(psycopg2) on the host.
      - Connection settings left empty come from O(db_env_file) (C(POSTGRES_USER),
        C(POSTGRES_PASSWORD), C(POSTGRES_DB)); the password stays inside the module.
    type: bool
    default: false
  db_host:
    description: Database host, as reached from the managed host.
    type: str
    default: 127.0.0.1
  db_port:
    description: Database port.
    type: int
    default: 5432
  db_name:
    description: Database name; empty takes C(POSTGRES_DB) from O(db_env_file).
    type: str
    default: ""
  db_user:
    description: Database user; empty takes C(POSTGRES_USER) from O(db_env_file).
    type: str
    default: ""
  db_password:
    description: Database password; empty takes C(POSTGRES_PASSWORD) from O(db_env_file).
    type: str
    default: ""
  db_env_file:
    description: The app's C(.env) with the database settings; a missing file is skipped.
    type: path
  lock_path:
    description:
      - The app lock (M(maverick.rollback.app_lock)) of a caller that takes it after these reads.
      - When another run holds it (a lock younger than its TTL) the module fails first, before reading
        anything, with that run in RV(lock_holder) - that run's checkout and container recreation would
        change what is read here, and the lock is what the caller needs to hear about.
      - A stale lock is not checked here; M(maverick.rollback.app_lock) reports or breaks it.
    type: path
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
extends_documentation_fragment:
  - maverick.rollback.attributes
author:
  - Maverick Applications SRE (@maverickapplications)
"""

EXAMPLES = r"""
- name: Plan a rollback to v1
  maverick.rollback.release_facts:
    project_dir: /opt/lifetracker
    target: v1
    migrations_dir: packages/core/prisma/migrations
  register: release
"""

RETURN = r"""
from:
  description: Current commit (C(sha), C(subject)).
  type: dict
  returned: success
target:
  description: Resolved target commit (C(sha), C(subject)).
  type: dict
  returned: success
dirty_files:
  description: C(git status --porcelain) lines of modified tracked files.
  type: list
  elements: str
  returned: success
target_migrations:
  description: Migration directory names at the target; null when not read (same commit or no O(migrations_dir)).
  type: list
  elements: str
  returned: success
from_migrations:
  description: Migration directory names at the current commit; null when not read (as RV(target_migrations)).
  type: list
  elements: str
  returned: success
project:
  description: Compose project name.
  type: str
  returned: success
built:
  description: Service to C({ref, repository, tag}) for services built from the checkout.
  type: dict
  returned: success
running:
  description: Service to image id of its running container.
  type: dict
  returned: success
target_images:
  description: Service to image id kept for the target commit.
  type: dict
  returned: success
from_images:
  description: Service to image id kept for the current commit.
  type: dict
  returned: success
ref_images:
  description: Service to image id the compose reference (e.g. C(app-api:latest)) points at.
  type: dict
  returned: success
kept_commits:
  description: Full SHAs that have images kept.
  type: list
  elements: str
  returned: success
reuse:
  description: Every built service has a kept image for the target (no build needed).
  type: bool
  returned: success
changing:
  description: Built services whose image would change.
  type: list
  elements: str
  returned: success
up_services:
  description:
    - The changing services, for a targeted C(docker compose up --no-deps <services>), when that does what a
      full C(up) would - every service of the project runs and the compose files its containers were started
      from are the same at both commits; empty means a full C(up).
  type: list
  elements: str
  returned: success
noop:
  description: Already on the target, running its kept images.
  type: bool
  returned: success
applied_migrations:
  description: Migrations the database has applied; null when not read (see O(read_applied)) or unreadable.
  type: list
  elements: str
  returned: success
applied_migrations_error:
  description: Why RV(applied_migrations) could not be read (password masked); empty when read or not asked.
  type: str
  returned: success
lock_holder:
  description: The lock record of the run holding O(lock_path) (owner, controller, run id, AWX job, start, TTL).
  type: dict
  returned: failure because another run holds the lock
recent:
  description: C(git log --oneline -10 --all) when the target does not resolve.
  type: list
  elements: str
  returned: failure to resolve
"""

import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maverick.rollback.plugins.module_utils._cli import Cli
from ansible_collections.maverick.rollback.plugins.module_utils._dotenv import parse_env_file
from ansible_collections.maverick.rollback.plugins.module_utils._lock import fresh_holder, held_message
from ansible_collections.maverick.rollback.plugins.module_utils._connection import resolve_connection
from ansible_collections.maverick.rollback.plugins.module_utils._pg import mask
from ansible_collections.maverick.rollback.plugins.module_utils._release import ReleaseError, applied_migrations, gather

try:
    import psycopg2
except ImportError:
    psycopg2 = None

REF_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._/-]{0,199}\Z")


def db_connection(params):
    """psycopg2.connect keywords: explicit params win over the app's .env (the
    precedence pg_backup and pg_restore use, from resolve_connection)."""
    env = {}
    if params["db_env_file"] and os.path.isfile(params["db_env_file"]):
        with open(params["db_env_file"], encoding="utf-8") as env_file:
            env = parse_env_file(env_file.read())
    conn = resolve_connection({"login_host": params["db_host"], "login_port": params["db_port"],
                               "login_user": params["db_user"], "login_password": params["db_password"],
                               "database": params["db_name"]}, env)
    return {
        "host": conn["host"],
        "port": conn["port"],
        "dbname": conn["database"] or "",
        "user": conn["user"] or "",
        "password": conn["password"] or "",
        "connect_timeout": 5,
        "application_name": "maverick.rollback release_facts",
    }


def read_applied(params):
    """(applied migration names or None, error text)."""
    if psycopg2 is None:
        return None, "psycopg2 is not installed on the host (Debian: python3-psycopg2)"
    conn = db_connection(params)
    try:
        return applied_migrations(psycopg2.connect, conn), ""
    except psycopg2.Error as exc:
        return None, mask(str(exc).strip(), [conn["password"]])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project_dir=dict(type="path", required=True),
            target=dict(type="str", default="HEAD"),
            compose_project=dict(type="str", default=""),
            migrations_dir=dict(type="str", default=""),
            read_applied=dict(type="bool", default=False),
            db_host=dict(type="str", default="127.0.0.1"),
            db_port=dict(type="int", default=5432),
            db_name=dict(type="str", default=""),
            db_user=dict(type="str", default=""),
            db_password=dict(type="str", default="", no_log=True),
            db_env_file=dict(type="path"),
            lock_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not REF_PATTERN.match(params["target"]) or ".." in params["target"]:
        module.fail_json(msg="refusing target %r: not a SHA, tag or branch name" % params["target"])
    holder = fresh_holder(params["lock_path"]) if params["lock_path"] else None
    if holder:
        module.fail_json(msg=held_message(holder, time.time(), params["lock_path"]), lock_holder=holder)

    try:
        facts = gather(Cli(module, readonly=True), params["project_dir"], params["target"], params["compose_project"], params["migrations_dir"])
    except ReleaseError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    except ValueError as exc:  # unreadable JSON from docker
        module.fail_json(msg="cannot parse docker output: %s" % exc)
    facts["applied_migrations"], facts["applied_migrations_error"] = None, ""
    # Same condition as the target's migrations: the gate compares the two.
    if params["read_applied"] and facts["target_migrations"] is not None:
        facts["applied_migrations"], facts["applied_migrations_error"] = read_applied(params)
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
