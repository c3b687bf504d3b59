#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: Prisma Migrate status, resolve and deploy."""

from __future__ import annotations

DOCUMENTATION = r"""
module: prisma_migrate
short_description: Read and change Prisma Migrate state (status, resolve, deploy, diff)
version_added: 0.1.0
description:
  - Wraps the Prisma CLI (C(prisma migrate status|resolve|deploy|diff)) on the app server and
    returns parsed, structured facts instead of raw output.
  - O(state=status) is read-only. Prisma 7 exits 1 for pending or failed migrations; that
    is reported (RV(pending), RV(failed_migrations), RV(up_to_date)), not treated as a failure.
  - O(state=rolled_back) and O(state=applied) run C(prisma migrate resolve). The module
    first reads C(migrate status) and, when C(psql) is available, the C(_prisma_migrations)
    table, so a migration already in the wanted state is reported as C(ok) without running
    anything, and names Prisma would refuse (P3011, P3012) are refused before anything runs.
  - O(state=deployed) runs C(prisma migrate deploy) and reports which migrations it applied.
  - O(state=diff) runs C(prisma migrate diff --from-config-datasource --to-schema <file>
    --script) and returns the SQL that would bring the live database to the schema in
    O(to_schema) or O(to_schema_content) (RV(script)); read-only, also in check mode.
  - The migration name is checked against Prisma's directory pattern and must exist in the
    migrations directory before any command runs.
  - The CLI runs in C(<project_dir>/<prisma_dir>). Its C(DATABASE_URL) is O(database_url) when
    given, else built from the shared connection options (O(login_user), O(login_password),
    O(login_host), O(login_port), O(database), each defaulting to the key of the app's env file
    that O(env_keys) names); only when the connection has no user or database is the env
    file's own C(DATABASE_URL) used.
  - The database password never appears in argv. C(DATABASE_URL) is passed to Prisma through
    the environment, and C(PGPASSWORD) to C(psql) (to C(docker compose exec) by name only).
    Passwords are masked in every returned output and message.
  - Error codes P1000, P1001, P1003, P3005, P3008, P3009, P3011, P3012, P3017 and P3018 are
    turned into messages that say what to do next.
extends_documentation_fragment:
  - maverick.rollback.attributes
  - maverick.rollback.pg_connection
author:
  - Maverick Applications SRE (@maverickapplications)
requirements:
  - The Prisma CLI (7.x) runnable as O(command) in C(<project_dir>/<prisma_dir>).
  - For O(read_table) - C(psql) on the managed host, or C(docker compose) with C(psql) in the
    database's container (see O(via)).
options:
  state:
    description:
      - V(status) reads the migration status (read-only, also in check mode).
      - V(rolled_back) marks a failed migration as rolled back (C(migrate resolve --rolled-back)).
      - V(applied) marks a migration as applied (C(migrate resolve --applied)).
      - V(deployed) applies all pending migrations (C(migrate deploy)).
      - V(diff) returns the SQL from the live database to O(to_schema) or O(to_schema_content) (read-only).
    type: str
    choices: [status, rolled_back, applied, deployed, diff]
    default: status
  migration:
    description:
      - Migration directory name, e.g. C(20250301000000_entry_mood_required).
      - Required for O(state=rolled_back) and O(state=applied).
      - Must match C(^\d{14}_[A-Za-z0-9_]+$) and exist as a directory in O(migrations_dir).
    type: str
  to_schema:
    description:
      - A C(schema.prisma) file to compare the live database with (O(state=diff)).
      - O(state=diff) needs this or O(to_schema_content).
    type: path
  to_schema_content:
    description:
      - The text of a C(schema.prisma) to compare the live database with (O(state=diff)), for
        example an older commit's schema from C(git show <commit>:<path>). It is written to a
        0600 file in the module's private temporary directory, removed when the module ends.
      - Mutually exclusive with O(to_schema).
    type: str
  prisma_dir:
    description:
      - The Prisma project (with C(prisma.config.ts) or C(prisma/schema.prisma)) relative to
        O(project_dir), for example C(packages/core). The CLI runs there; relative O(schema),
        O(config) and O(migrations_dir) are taken from there.
    type: str
    default: .
  command:
    description:
      - The Prisma CLI as an argument list (C([npx, prisma]) works the same), or the path of an installed C(prisma).
      - Prisma is never downloaded at run time - a package runner (C(bunx), C(npx), C(bun x), ...) runs only the
        project's installed CLI (C(node_modules/.bin/prisma) in O(prisma_dir) or a directory above it up to
        O(project_dir)) and gets C(--no-install); without one the module fails before running anything and says
        how to install it.
    type: list
    elements: str
    default: [bunx, --bun, prisma]
  schema:
    description: Path to C(schema.prisma), passed as C(--schema). Default is Prisma's own lookup.
    type: path
  config:
    description: Path to the Prisma config file, passed as C(--config).
    type: path
  migrations_dir:
    description:
      - Migrations directory, used to validate O(migration), list local migrations and
        compute checksums.
      - Default C(migrations) beside O(schema), or C(prisma/migrations) in O(prisma_dir).
    type: path
  database_url:
    description:
      - PostgreSQL URL for Prisma (C(DATABASE_URL)) and C(psql), instead of the one built from the
        connection options. O(database), when set, replaces its database (same server and
        credentials), for example a scratch copy restored to rehearse the migrations.
      - Without it and without a user and database from the options or the env file, Prisma's
        own config decides and O(read_table) cannot work.
    type: str
  read_table:
    description:
      - Also read the C(_prisma_migrations) table with C(psql) and return it as
        RV(migrations_table), with RV(checksum_drift) and the failed rows' logs.
      - The resolve states read it anyway when C(psql) is available, to decide idempotence.
      - Read with the host's C(psql) against the URL's server, or - O(via=compose), or O(via=auto)
        without C(psql) on the host - with C(docker compose exec -T <compose_service> psql) on the
        container's socket as the URL's user and database.
    type: bool
    default: false
  timeout:
    description: Seconds each command may run (coreutils C(timeout)); V(0) for no limit.
    type: int
    default: 600
notes:
  - Check mode is truthful. O(state=status) runs as usual. For O(state=rolled_back),
    O(state=applied) and O(state=deployed) only C(migrate status) (and the table) are read,
    and the result says what would change (RV(planned_cmd), RV(deployed_migrations)).
    O(state=deployed) in check mode fails like the real run would when a failed migration
    blocks deploy (P3009). O(state=diff) only reads, so it runs as usual.
  - Runs with C(LC_ALL=C), C(CHECKPOINT_DISABLE=1) and C(NO_COLOR=1).
  - O(via) only decides where C(psql) runs for the table; the Prisma CLI always runs on the host.
    O(via=auto) takes the host's C(psql) whenever it is on PATH (it reaches the server at the
    address Prisma uses), else C(docker compose exec).
seealso:
  - name: Prisma Migrate in production
    description: Resolving migration issues.
    link: https://www.prisma.io/docs/orm/prisma-migrate/workflows/patching-and-hotfixing
  - name: Prisma error reference
    description: The P1xxx and P3xxx codes.
    link: https://www.prisma.io/docs/orm/reference/error-reference
attributes:
  check_mode:
    support: full
    description: Read-only probes run; resolve and deploy are predicted from status.
"""

EXAMPLES = r"""
- name: Read the migration status (exit 1 from Prisma for pending/failed is not a failure)
  maverick.rollback.prisma_migrate:
    project_dir: /opt/lifetracker
    prisma_dir: packages/core
    read_table: true
  register: prisma

- name: Show failed migrations
  ansible.builtin.debug:
    msg: "failed: {{ prisma.failed_migrations }}, pending: {{ prisma.pending }}"

- name: Mark a failed migration as rolled back (no change when it already is)
  maverick.rollback.prisma_migrate:
    project_dir: /opt/lifetracker
    prisma_dir: packages/core
    state: rolled_back
    migration: 20250301000000_entry_mood_required

- name: Read v1's schema from git
  ansible.builtin.command:
    argv: [git, -C, /opt/lifetracker, show, "v1:packages/core/prisma/schema.prisma"]
  register: v1_schema
  changed_when: false

- name: SQL that takes the live database back to v1's schema (read-only)
  maverick.rollback.prisma_migrate:
    project_dir: /opt/lifetracker
    prisma_dir: packages/core
    state: diff
    to_schema_content: "{{ v1_schema.stdout }}"
  register: revert

- name: Rehearse the migrations on a restored scratch copy
  maverick.rollback.prisma_migrate:
    project_dir: /opt/lifetracker
    prisma_dir: packages/core
    state: deployed
    database: lifetracker_verify_20260105031500

- name: Apply pending migrations with an explicit URL
  maverick.rollback.prisma_migrate:
    project_dir: /opt/lifetracker
    prisma_dir: packages/core
    state: deployed
    database_url: "{{ vault_database_url }}"
    command: [npx, prisma]
"""

RETURN = r"""
msg:
  description: One-line summary of the outcome.
  returned: always
  type: str
  sample: "1 failed migration: 20250301000000_entry_mood_required"
rc:
  description: Exit code of the last Prisma command run (V(1) for pending/failed in status).
  returned: when a command ran
  type: int
  sample: 1
cmd:
  description: Argument list of the last Prisma command run (never holds a secret).
  returned: when a command ran
  type: list
  elements: str
  sample: [timeout, --kill-after=10, "600", bunx, --bun, prisma, migrate, status]
planned_cmd:
  description: The resolve/deploy command check mode did not run.
  returned: check mode, when a change would be made
  type: list
  elements: str
stdout:
  description: Standard output of the last Prisma command, passwords masked.
  returned: when a command ran
  type: str
stderr:
  description: Standard error of the last Prisma command, passwords masked.
  returned: when a command ran
  type: str
up_to_date:
  description: True when every local migration is applied and none failed.
  returned: always
  type: bool
diagnostic:
  description: >-
    What C(migrate status) said: V(up_to_date), V(pending), V(failed), V(diverged) (local
    history and the table differ), V(not_managed) (no migrations table), V(error), V(unknown).
  returned: always
  type: str
  sample: failed
pending:
  description: Migrations not yet applied (includes rolled-back ones), after this run.
  returned: always
  type: list
  elements: str
  sample: [20250301000000_entry_mood_required]
failed_migrations:
  description:
    - Migrations recorded as failed (started, not finished, not rolled back), after this run.
    - Not called C(failed), which Ansible reserves for the task's own outcome.
  returned: always
  type: list
  elements: str
applied:
  description: >-
    Migrations applied, after this run: from the table when read, else derived from status
    and the migrations directory; V(null) when not derivable (histories diverge, error).
  returned: always
  type: list
  elements: str
missing_locally:
  description: Migrations applied in the database but absent from the migrations directory.
  returned: always
  type: list
  elements: str
local_migrations:
  description: Migration directories found in RV(migrations_dir).
  returned: always
  type: list
  elements: str
migrations_dir:
  description: The migrations directory used.
  returned: always
  type: str
migration_state:
  description: >-
    State of O(migration) before this run: V(failed), V(applied), V(rolled_back),
    V(unapplied), V(pending) (rolled back or never applied; table not readable) or V(unknown).
  returned: state is rolled_back or applied
  type: str
deployed_migrations:
  description: Migrations this run applied (check mode, would apply).
  returned: state is deployed
  type: list
  elements: str
database_created:
  description: True when C(migrate deploy) created the database (or would, in check mode).
  returned: state is deployed
  type: bool
error_code:
  description: Prisma error code (e.g. V(P3009)) when a command failed or would fail.
  returned: always
  type: str
  sample: P3018
error:
  description: Parsed Prisma error (code, message, migration, db_error_code, db_error).
  returned: on Prisma errors
  type: dict
migrations_table:
  description: >-
    Rows of C(_prisma_migrations) (migration_name, checksum, started_at, finished_at,
    rolled_back_at, applied_steps_count, logs), oldest first. Empty when the table does not exist.
  returned: when the table was read (O(read_table), or internally for resolve)
  type: list
  elements: dict
checksum_drift:
  description: Applied or failed migrations whose migration.sql no longer matches the table's sha256.
  returned: when the table was read
  type: list
  elements: dict
  sample: [{migration: 20250101000000_init, table_checksum: "4b8c...", file_checksum: "9f00..."}]
database:
  description: The database used, as user@host:port/dbname (no password).
  returned: when a database URL is known
  type: str
database_url_source:
  description: >-
    Where the URL came from - V(option) (O(database_url)), V(connection) (built from the connection
    options and the env file), V(env_file:DATABASE_URL) (the env file's own URL, when the connection
    has no user or database) or V(none).
  returned: always
  type: str
prisma_dir:
  description: The directory the Prisma CLI ran in (C(<project_dir>/<prisma_dir>)).
  returned: when it exists
  type: str
via:
  description: Where C(psql) ran to read the table, C(host) or C(compose).
  returned: when the table was read
  type: str
script:
  description: >-
    The SQL script from C(migrate diff) (ends with a newline); C(-- This is an empty migration.)
    when the database already matches the schema.
  returned: state is diff
  type: str
  sample: "-- DropTable\nDROP TABLE \"Tag\";\n"
empty_diff:
  description: True when the database already matches the schema (nothing to run).
  returned: state is diff
  type: bool
statements:
  description: Number of SQL statements in RV(script).
  returned: state is diff
  type: int
duration_s:
  description: Seconds spent in commands (Prisma and psql).
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maverick.rollback.plugins.module_utils._connection import connection_spec
from ansible_collections.maverick.rollback.plugins.module_utils._prisma import PrismaMigrate

ARGUMENT_SPEC = connection_spec(
    state=dict(type="str", default="status", choices=["status", "rolled_back", "applied", "deployed", "diff"]),
    migration=dict(type="str"),
    to_schema=dict(type="path"),
    to_schema_content=dict(type="str"),
    prisma_dir=dict(type="str", default="."),
    command=dict(type="list", elements="str", default=["bunx", "--bun", "prisma"]),
    schema=dict(type="path"),
    config=dict(type="path"),
    migrations_dir=dict(type="path"),
    database_url=dict(type="str", no_log=True),
    read_table=dict(type="bool", default=False),
    timeout=dict(type="int", default=600),
)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[("state", "rolled_back", ["migration"]), ("state", "applied", ["migration"]),
                     ("state", "diff", ["to_schema", "to_schema_content"], True)],
        mutually_exclusive=[("to_schema", "to_schema_content")],
        supports_check_mode=True,
    )
    PrismaMigrate(module).run()


if __name__ == "__main__":
    main()
