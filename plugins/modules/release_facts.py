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
  target:
    description:
      - Ref to resolve (hex SHA, tag, branch) - letters, digits, C(.), C(_), C(/) and C(-), starting
        with a letter or digit, at most 200 characters, without C(..) (the C(ref) rule of the
        C(maverick.rollback.rule) filter); the caller validates intent, the module refuses anything else.
      - Defaults to C(HEAD) (facts about the current release only).
    type: str
    default: HEAD
  migrations_dir:
    description: Path of the Prisma migrations directory inside the repository; empty skips it.
    type: str
    default: ""
  read_applied:
    description:
      - Also read the migrations the database has applied (C(_prisma_migrations), finished and not
        rolled back), for the migration gate. Read only when the target differs from the current
        commit and O(migrations_dir) is set.
      - With them, the SQL of the applied migrations the target does not know (RV(ahead_sql)), so the
        gate can judge them without another task on the server.
      - Read with C(psql) - the host's when it has one and reaches the server (O(via=auto)), else
        C(docker compose exec -T <compose_service> psql); no Python database library is needed
        on the server. The connection comes from the options or the app's env file (see
        O(env_keys)); the password stays inside the module (0600 pgpass file or passed to docker
        by name), never in an argument list.
      - A database without the table has applied nothing (an empty list). Any other failure is
        reported in RV(applied_migrations_error), naming its cause - for example that there is no
        psql on the host and the compose service postgres is not running, or that authentication
        failed for user lifetracker.
    type: bool
    default: false
  table_stats:
    description:
      - Also read every table's rows, size and primary key of the app's database (RV(table_stats)), for the migration
        lint's sizes of the tables each new migration touches (a deploy's plan, before anything changes). Read only when
        the target has migrations the current commit does not (RV(new_sql)).
      - The same statistics, read the same way, as M(maverick.rollback.pg_backup) records in its manifest and
        M(maverick.rollback.pg_restore) O(maverick.rollback.pg_restore#module:state=inspected) returns; read through
        the same C(psql) runner as O(read_applied), in the same session when both are asked.
    type: bool
    default: false
  exact_count_limit_mb:
    description:
      - With O(table_stats), tables up to this size (MiB) are counted exactly, bigger ones get PostgreSQL's estimate
        (no full scan of a big table at plan time).
    type: int
    default: 64
  lock_path:
    description:
      - The app lock (M(maverick.rollback.app_lock)) of a caller that takes it after these reads.
      - When another run holds it (a lock younger than its TTL) the module fails first, before reading
        anything, with that run in RV(lock_holder) - that run's checkout and container recreation would
        change what is read here, and the lock is what the caller needs to hear about.
      - A stale lock is not checked here; M(maverick.rollback.app_lock) reports or breaks it.
    type: path
  run_id:
    description:
      - The run id of the caller (the run protocol's C(__app_run_id)). A lock at O(lock_path) held by
        this run id is the caller's own (a playbook that holds the lock and calls a role) and is not
        reported.
    type: str
  check_server:
    description:
      - Also run M(maverick.rollback.preflight)'s checks of the server (the same code, the same options)
        and return them as RV(server) - the quick rollback's one planning call on the 3 a.m. path. They run
        alongside the plan's git and docker reads (all read-only), so they add little wall time.
      - What is missing fails the module with preflight's message (one line per piece, with its fix),
        also when the plan's reads failed for the same reason (no docker, no checkout).
      - Two of preflight's probes are left out. The plan's own C(docker compose config) loads the
        compose file, and its failure fails the module. The PostgreSQL tools' versions are read only
        for O(require).
    type: bool
    default: false
notes:
  - O(project_dir) is the git work tree and the Compose project directory; O(compose_project)
    is also the project whose containers and images are read. The other connection options
    are used only by O(read_applied) and O(table_stats).
  - Git runs with C(GIT_OPTIONAL_LOCKS=0), so C(git status) never rewrites C(.git/index).
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
extends_documentation_fragment:
  - maverick.rollback.attributes
  - maverick.rollback.pg_connection
  - maverick.rollback.server_check
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

- name: Plan it with the migration gate's read of the database (settings from the app's .env)
  maverick.rollback.release_facts:
    project_dir: /opt/lifetracker
    target: v1
    migrations_dir: packages/core/prisma/migrations
    read_applied: true
  register: release

- name: Refuse when the target lacks migrations the database has applied
  ansible.builtin.assert:
    that: release.applied_migrations | difference(release.target_migrations) | length == 0
    fail_msg: "{{ release.applied_migrations_error or 'the database is ahead of the target' }}"
  when: release.applied_migrations is not none or release.applied_migrations_error | length > 0
"""

RETURN = r"""
server:
  description:
    - With O(check_server), what M(maverick.rollback.preflight) returns (C(ok), C(tools), C(app), C(missing), C(database), C(prisma)).
    - C(tools) has only the O(require)d PostgreSQL tools' versions.
  type: dict
  returned: when O(check_server)
ansible_facts:
  description: With O(check_server), C(effective_user_id) as M(maverick.rollback.preflight) returns it.
  type: dict
  returned: when O(check_server)
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
  description: Why RV(applied_migrations) could not be read, naming the cause (password masked); empty when read or not asked.
  type: str
  returned: success
  sample: "no psql on the host, and psql (docker compose exec postgres) failed (exit code 1): the compose service postgres is not running ..."
ahead_sql:
  description:
    - Migration name to the text of its C(migration.sql) at the current commit, for every applied migration
      the target does not know (what the database is ahead by), read with one C(git cat-file --batch) call;
      null for a migration whose SQL is not in the current commit. Empty when the applied migrations were not read.
    - The migration gate judges them on the controller (filter C(maverick.rollback.migration_gate)).
  type: dict
  returned: success
  sample: {"20250317000000_rename_tag_name": "ALTER TABLE \"Tag\" RENAME COLUMN \"name\" TO \"label\";\n"}
ahead_sql_error:
  description: Why RV(ahead_sql) could not be read (its values are then null).
  type: str
  returned: when git cat-file failed
new_sql:
  description:
    - Migration name to the text of its C(migration.sql) at the target, for every migration the target has and the
      current commit does not (what a deploy would run), read with one C(git cat-file --batch) call - for the
      migration lint (filter C(maverick.rollback.migration_class)). Empty when there are none or they were not read.
  type: dict
  returned: success
new_sql_error:
  description: Why RV(new_sql) could not be read (its values are then null).
  type: str
  returned: when git cat-file failed
table_stats:
  description:
    - With O(table_stats) and new migrations, per table of the app's database (C(schema.table) as C(format('%I.%I'))) its
      C(rows) (exact, null over O(exact_count_limit_mb)), C(estimate) (C(pg_class.reltuples)), C(bytes) (with indexes
      and TOAST) and C(pk); null when not read or unreadable.
    - The migration lint (filter C(maverick.rollback.migration_lint)) shows the rows and size of the tables each new
      migration touches.
  type: dict
  returned: success
  sample: {"public.\"Entry\"": {"rows": 1204, "estimate": 1204, "bytes": 98304, "pk": ["id"]}}
table_stats_error:
  description: Why RV(table_stats) could not be read, naming the cause (password masked); empty when read or not asked.
  type: str
  returned: success
via:
  description: Where C(psql) ran for RV(applied_migrations) and RV(table_stats), C(host) or C(compose).
  type: str
  returned: when the applied migrations or the table statistics were read
via_reason:
  description: Why O(via=auto) chose C(compose).
  type: str
  returned: when O(via=auto) chose compose for the read
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

import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maverick.rollback.plugins.module_utils._cli import Cli
from ansible_collections.maverick.rollback.plugins.module_utils._connection import (
    EnvFileError, connection_spec, missing_setting, read_env, resolve_connection)
from ansible_collections.maverick.rollback.plugins.module_utils._lock import fresh_holder, held_message
from ansible_collections.maverick.rollback.plugins.module_utils._pg import EXACT_COUNT_LIMIT_MB, PgError
from ansible_collections.maverick.rollback.plugins.module_utils._pg_runner import open_ops
from ansible_collections.maverick.rollback.plugins.module_utils._preflight import (
    SERVER_ARGUMENT_SPEC, check_server, user_facts)
from ansible_collections.maverick.rollback.plugins.module_utils._release import (
    ReleaseError, applied_migrations, gather, migrations_sql, resolve)
from ansible_collections.maverick.rollback.plugins.module_utils._rules import is_valid, mask_text


def read_database(module, conn, env_path, applied=True, stats_limit=None):
    """The plan's reads of the app's database through the collection's runner, in one session: the
    applied migrations (applied) and every table's rows, size and primary key (stats_limit not None:
    exact counts up to that many bytes). Returns (names or None, its error, stats or None, their
    error, facts); a failed statistics query does not void the applied migrations."""
    applied_error = stats_error = ""
    if not conn["database"]:
        error = missing_setting(conn, "database", "database", env_path)
        return None, error if applied else "", None, error if stats_limit is not None else "", {}
    secrets = [conn["password"]]
    # Every query of this read runs in the app's database (its user may not reach others).
    conn = dict(conn, maintenance_db=conn["database"])
    ops = names = stats = None
    try:
        ops, reason = open_ops(module, conn, secrets, tool="psql")
        facts = {"via": ops.conn["via"]}
        if reason:
            facts["via_reason"] = reason
        if applied:
            names = applied_migrations(ops.runner, ops.conn, conn["database"])
    except PgError as exc:  # the server cannot be reached: neither read has an answer
        error = mask_text(exc.msg, secrets)
        if ops:
            ops.runner.close()
        return None, error if applied else "", None, error if stats_limit is not None else "", {}
    try:
        if stats_limit is not None:
            stats = ops.table_stats(conn["database"], stats_limit)
    except PgError as exc:
        stats_error = mask_text(exc.msg, secrets)
    finally:
        ops.runner.close()
    return names, applied_error, stats, stats_error, facts


def database_connection(module, params):
    """(conn, env path, '') for the plan's database reads, or (None, None, why the env file failed)."""
    try:
        env_path, env = read_env(params)
    except EnvFileError as exc:  # reported like every other reason a read failed
        return None, None, str(exc)
    conn = resolve_connection(params, env)
    if conn["password"]:
        module.no_log_values.add(conn["password"])
    return conn, env_path, ""


def read_applied(module, conn, env_path):
    """The applied migrations through the collection's runner: (names or None, error, facts)."""
    names, error, _stats, _stats_error, facts = read_database(module, conn, env_path)
    return names, error, facts


def read_applied_unless_current(module, cli, params, conn, env_path):
    """read_applied's answer, or None when the target is the checkout's commit: a no-op run has nothing
    for the gate to compare (psql through `docker compose exec` costs 0.1-0.2 s of CPU). Read when the
    target does not resolve (gather says why)."""
    try:
        current, target = resolve(cli, params["project_dir"], params["target"])
    except ReleaseError:
        return read_applied(module, conn, env_path)
    return None if current[0] == target[0] else read_applied(module, conn, env_path)


def read_release(cli, params):
    """(gather's facts, None) or (None, what to fail with)."""
    try:
        return gather(cli, params["project_dir"], params["target"], params["compose_project"],
                      params["migrations_dir"]), None
    except ReleaseError as exc:
        return None, dict(exc.details, msg=str(exc))
    except ValueError as exc:  # unreadable JSON from docker
        return None, {"msg": "cannot parse docker output: %s" % exc}


def database_facts(module, params, facts, new, connection, applied):
    """The plan's reads of the database: the applied migrations (the future read alongside gather, when
    there is one) and the sizes of the tables the new migrations touch. connection: database_connection's."""
    conn, env_path, env_error = connection
    out = dict(applied_migrations=None, applied_migrations_error="", table_stats=None, table_stats_error="")
    # Same condition as the target's migrations: the gate compares the two.
    if params["read_applied"] and facts["target_migrations"] is not None:
        answer = applied.result() if applied else None
        if answer is None:  # not read alongside (or skipped as a no-op, and the checkout moved since)
            answer = read_applied(module, conn, env_path) if conn else (None, env_error, {})
        out["applied_migrations"], out["applied_migrations_error"], where = answer
        out.update(where)
    # Only when there are new migrations (a deploy's lint).
    if params["table_stats"] and new and facts.get("from_migrations") is not None:
        if out["applied_migrations_error"] and out["applied_migrations"] is None:
            out["table_stats_error"] = out["applied_migrations_error"]  # no second wait on a server that is not there
        elif conn:
            _names, _error, out["table_stats"], out["table_stats_error"], where = read_database(
                module, conn, env_path, applied=False, stats_limit=params["exact_count_limit_mb"] * 1024 * 1024)
            out.update(where)
        else:
            out["table_stats_error"] = env_error
    return out


def main():
    module = AnsibleModule(
        argument_spec=connection_spec(
            target=dict(type="str", default="HEAD"),
            migrations_dir=dict(type="str", default=""),
            read_applied=dict(type="bool", default=False),
            table_stats=dict(type="bool", default=False),
            exact_count_limit_mb=dict(type="int", default=EXACT_COUNT_LIMIT_MB),
            lock_path=dict(type="path"),
            run_id=dict(type="str"),
            check_server=dict(type="bool", default=False),
            **SERVER_ARGUMENT_SPEC
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not is_valid("ref", params["target"]):
        module.fail_json(msg="refusing target %r: not a SHA, tag or branch name" % params["target"])
    if params["exact_count_limit_mb"] < 0:
        module.fail_json(msg="exact_count_limit_mb must be 0 (estimates only) or more")
    holder = fresh_holder(params["lock_path"]) if params["lock_path"] else None
    if holder and not (params["run_id"] and holder.get("run_id") == params["run_id"]):
        module.fail_json(msg=held_message(holder, time.time(), params["lock_path"]), lock_holder=holder)

    cli = Cli(module, readonly=True)
    # The applied migrations are read alongside when the plan may compare them (a rollback's gate
    # does; a no-op does not); the server check too. All read-only and each waits mostly on docker
    # or the database, so they run at once. What is missing on the server fails first.
    may_read_applied = params["read_applied"] and bool(params["migrations_dir"])
    conn, env_path, env_error = (database_connection(module, params) if params["read_applied"] or params["table_stats"]
                                 else (None, None, ""))
    with ThreadPoolExecutor(max_workers=2) as pool:
        reading = pool.submit(read_release, cli, params)
        applied = (pool.submit(read_applied_unless_current, module, cli, params, conn, env_path)
                   if may_read_applied and conn else None)
        # gather's own `docker compose config` reports a compose file that does not load.
        server = check_server(module, compose_config=False) if params["check_server"] else None
        facts, failure = reading.result()
    if failure:
        module.fail_json(**failure)
    if server is not None:
        facts["server"], facts["ansible_facts"] = server, user_facts()
    # What a deploy runs: the target's migrations the current commit does not have.
    new = set(facts["target_migrations"] or []) - set(facts.get("from_migrations") or [])
    facts.update(database_facts(module, params, facts, new, (conn, env_path, env_error), applied))
    # The SQL of the target's new migrations (what a deploy runs), for the migration lint.
    facts["new_sql"] = {}
    if new and facts.get("from_migrations") is not None:
        try:
            facts["new_sql"] = migrations_sql(cli.run, params["project_dir"], facts["target"]["sha"],
                                              params["migrations_dir"], new)
        except ReleaseError as exc:
            facts["new_sql"] = dict.fromkeys(new)
            facts["new_sql_error"] = str(exc)
    facts["ahead_sql"] = {}
    # The SQL of what the database is ahead by, from the current commit (which deployed it):
    # the gate judges it on the controller, without another task on the server.
    ahead = set(facts["applied_migrations"] or []) - set(facts["target_migrations"] or [])
    if ahead:
        try:
            facts["ahead_sql"] = migrations_sql(cli.run, params["project_dir"], facts["from"]["sha"],
                                                params["migrations_dir"], ahead)
        except ReleaseError as exc:  # unread SQL is judged incompatible by the gate
            facts["ahead_sql"] = dict.fromkeys(ahead)
            facts["ahead_sql_error"] = str(exc)
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
