#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_restore
short_description: Verify a PostgreSQL backup and restore it with a scratch database and a name swap
version_added: 0.1.0
description:
  - One step of a restore per call, so a role can stop the API only for the swap -
    C(verified) (nothing changes), then C(restored_scratch) (API up), stop the API,
    C(swapped), start the API, health gate; on failure after the swap C(swapped_back).
    C(in_place) drops and restores the live database (for hosts short of disk); C(dropped)
    removes a scratch or pre-restore database.
  - The format is detected from the content, not the name - custom (starts with C(PGDMP)),
    directory (has C(toc.dat)), tar, gzip (gunzipped as a stream, then detected) or plain
    SQL. A missing, 0-byte, truncated or corrupt backup fails verification before anything
    changes - a sidecar manifest C(<path>.json) (from M(maverick.rollback.pg_backup)) must
    match in size and sha256; archives must be readable by C(pg_restore --list), and without
    a manifest every data block is read (C(pg_restore -f /dev/null)); a gzip stream is read
    to its trailer; a plain pg_dump script must end with pg_dump's completion line, must
    not create or connect to its own database and must not contain any psql meta-command
    (C(\!), C(\o), C(\copy), C(\connect), ...) but the C(\restrict <key>) / C(\unrestrict <key>)
    guards current pg_dump versions write; psql would run them on the server as the restoring user.
  - Plain SQL is restored with C(psql --single-transaction -v ON_ERROR_STOP=1) fed on stdin
    (all or nothing); custom, tar and directory archives with C(pg_restore --exit-on-error
    --no-owner), with C(-j) when the tool can open the file itself (see O(jobs)).
  - Database-level statements (CREATE, ALTER ... RENAME, DROP DATABASE) run in
    O(maintenance_db). Passwords go only through the environment or a 0600 pgpass file,
    never on a command line or into the results.
options:
  state:
    description:
      - C(verified) - verify O(path) only and report its format, size, age and contents.
      - C(restored_scratch) - verify, create O(scratch_database) (default
        C(<db>_restore_<YYYYmmddHHMMSS>)) with the live database's owner, encoding and
        locale, restore into it; on failure drop it again. The live database is not touched.
      - C(swapped) - refuse new connections to the live and scratch databases, end their
        sessions, then in one transaction rename the live database to
        O(pre_restore_database) (default C(<db>_pre_restore_<YYYYmmddHHMMSS>)) and
        O(scratch_database) to the live name; connections are allowed again afterwards
        (also when the rename fails, which then changes nothing). Stop the API first.
      - C(swapped_back) - undo a swap - the live database becomes O(scratch_database)
        (default C(<db>_restore_<YYYYmmddHHMMSS>)) again and O(pre_restore_database) becomes
        the live one. Nothing is dropped.
      - C(in_place) - verify, drop the live database (ending its sessions), recreate it
        empty with the same owner, encoding and locale and restore into it. A failure
        leaves it partly restored - take a safety backup first and stop the API.
      - C(dropped) - drop O(drop_database), which must be a C(<db>_restore_*),
        C(<db>_pre_restore_*) or C(<db>_verify_*) database of O(database) (never the live one).
      - C(inspected) - read-only - the live database and every C(<db>_*) database with oid, size and
        whether it accepts connections, and the server version (RV(databases), RV(live),
        RV(server_version_num)); with O(table_stats) also rows, size and primary key per table (RV(tables));
        needs no Python database library, runs in check mode too.
    type: str
    choices: [verified, restored_scratch, swapped, swapped_back, in_place, dropped, inspected]
    default: verified
  path:
    description:
      - The backup - a file (custom, tar, plain SQL, any of them gzipped) or a directory-format
        dump. Required for C(verified), C(restored_scratch) and C(in_place).
    type: path
  scratch_database:
    description:
      - C(restored_scratch) - name of the database to create (must not exist).
      - C(swapped) - the restored database to put in place (required).
      - C(swapped_back) - the name the displaced restored database gets.
      - C(swapped) and C(swapped_back) accept only a C(<db>_restore_<ts>), C(<db>_pre_restore_<ts>) or
        C(<db>_verify_<ts>) database of O(database), never another one (refused before any SQL runs).
    type: str
  pre_restore_database:
    description:
      - C(swapped) - the name the old live database gets. When it exists already and
        O(scratch_database) is gone, the swap is reported as done (no change).
      - C(swapped_back) - the old live database to put back (required).
      - Like O(scratch_database), only a C(<db>_restore_<ts>), C(<db>_pre_restore_<ts>) or C(<db>_verify_<ts>)
        database of O(database).
    type: str
  drop_database:
    description: The database C(state=dropped) removes.
    type: str
  sha256:
    description: Expected sha256 of the backup (for example from the release ledger); checked in addition to the manifest.
    type: str
  require_manifest:
    description: Refuse a backup that has no sidecar manifest.
    type: bool
    default: false
  jobs:
    description:
      - Parallel jobs of C(pg_restore -j) (default 2 where it applies). Used only where
        pg_restore can open the archive itself - O(via=host) with an uncompressed custom or
        directory dump. With O(via=compose) the archive is streamed on the container's stdin
        and pg_restore cannot run parallel jobs from stdin, so one job runs there (a warning
        says so when O(jobs) was set); plain SQL always runs in one psql session.
    type: int
  no_owner:
    description: C(pg_restore --no-owner) - objects belong to the restoring user (plain SQL keeps its ALTER ... OWNER statements).
    type: bool
    default: true
  no_privileges:
    description: C(pg_restore --no-privileges) - skip GRANT/REVOKE (for a server without the dump's roles).
    type: bool
    default: false
  count_rows:
    description: After a restore, count the rows of every table of the restored database (exact counts, reads every table).
    type: bool
    default: false
  maintenance_db:
    description: Database to connect to for CREATE, ALTER and DROP DATABASE.
    type: str
    default: postgres
  table_stats:
    description:
      - O(state=inspected) - also read every table's rows, size and primary key in these databases
        (RV(tables)), each the live O(database) or one of its C(<db>_restore_<ts>), C(<db>_pre_restore_<ts>)
        or C(<db>_verify_<ts>) databases; one that does not exist is left out of RV(tables).
      - O(state=restored_scratch) - the same, after the restore, for the live and the scratch database among them.
      - A failed read is reported in RV(tables_error); the step does not fail for it.
      - For comparing the live database with a backup's manifest or a restored scratch database before a restore.
    type: list
    elements: str
    default: []
  live_table_stats:
    description:
      - O(state=inspected) - also read the live database's tables, as if it were named in O(table_stats), for a
        caller that leaves its name to the env file (O(check_server)).
    type: bool
    default: false
  exact_count_limit_mb:
    description:
      - With O(table_stats), tables up to this size (MiB) are counted exactly, bigger ones get PostgreSQL's estimate.
    type: int
    default: 64
  backup_dirs:
    description:
      - O(state=inspected) - also read the owner and mode of these directories (symlinks followed), RV(backup_dirs),
        for the controller's trust check (M(maverick.rollback.backup_dir_check)) - one call reads all a restore needs.
    type: list
    elements: path
    default: []
  backups_dir:
    description:
      - O(state=inspected) - also list the backups of O(app) and O(database) in this directory and read their
        manifests (RV(backups)), for M(maverick.rollback.backup_pick). Not recursive; links are not followed.
    type: path
  app:
    description: The app name in the backup file names O(backups_dir) lists (required with it).
    type: str
  ledger_path:
    description: O(state=inspected) - also read the release ledger (RV(ledger)), as M(maverick.rollback.release_ledger) reads it.
    type: path
  ledger_keep:
    description: With O(ledger_path), how many releases the C(keep_commits) of RV(ledger) keeps (the backups of those are protected).
    type: int
    default: 5
  services:
    description:
      - O(state=swapped), O(state=swapped_back), O(state=in_place) - the Compose services that use the database;
        C(docker compose stop) them right before the change and C(docker compose up --detach --no-deps --no-recreate
        --no-build) them right after it (O(start_services)), in the same call, so the downtime holds no extra round trip.
      - RV(stopped), RV(started) and on a failure RV(failed_step) say how far it got; the caller goes back from there.
    type: list
    elements: str
    default: []
  start_services:
    description: With O(services), start them again after the change (false - the caller starts them).
    type: bool
    default: true
  lock_path:
    description:
      - The app lock (M(maverick.rollback.app_lock)) of the run this restore step belongs to, with O(run_id).
      - While the step works the lock names this process as the run's worker and its heartbeat is refreshed
        every quarter of its TTL, so a run working longer than the TTL is not declared stale
        (docs/run_protocol.md).
      - Fails without starting when O(run_id) does not hold the lock, and stops when another run took it meanwhile.
    type: path
  run_id:
    description: The run id holding O(lock_path) (the run protocol's C(__app_run_id)).
    type: str
  check_server:
    description:
      - O(state=inspected) - first run M(maverick.rollback.preflight)'s checks of the server (the same code, the
        same options) and return them as RV(server) - C(playbooks/db_restore.yml)'s first read, so the check is
        not a remote call of its own.
      - What is missing fails the module with preflight's message (one line per piece, with its fix), before
        anything is read.
    type: bool
    default: false
extends_documentation_fragment:
  - maverick.rollback.attributes
  - maverick.rollback.pg_connection
  - maverick.rollback.server_check
attributes:
  check_mode:
    support: full
    description:
      - Verification and O(state=inspected) run fully (they only read); every other step reports what it would do
        (database names, plan) after read-only checks of the server, and changes nothing.
notes:
  - O(database) is the live database. O(login_user) needs CREATEDB and ownership of the
    databases it renames or drops.
  - With O(via=compose) the backup is streamed into the container's tools on stdin. O(via=auto)
    decides per call (C(pg_restore) for the verify and restore states, C(psql) for the others);
    pin the RV(via) of the first call when the steps must agree.
  - Database-level settings (C(ALTER DATABASE ... SET)) and grants on the database itself
    are not part of a dump without C(--create); a swapped-in database has the owner,
    encoding and locale of the live one but not those settings.
  - A plain SQL dump restores with its C(ALTER ... OWNER TO) statements, so its roles must
    exist; a dump made with C(--clean) or C(--create) is refused or fails on an empty database.
seealso:
  - module: maverick.rollback.pg_backup
author:
  - Maverick Applications SRE (@maverickapplications)
"""

EXAMPLES = r"""
- name: Verify the backup while the API is still up
  maverick.rollback.pg_restore:
    path: "{{ backup_path }}"
  register: checked

- name: Restore into a scratch database (API keeps serving)
  maverick.rollback.pg_restore:
    state: restored_scratch
    path: "{{ backup_path }}"
  register: scratch

- name: Swap it in (the API is stopped around this task)
  maverick.rollback.pg_restore:
    state: swapped
    scratch_database: "{{ scratch.scratch_database }}"
  register: swap

- name: Undo the swap when the health gate fails
  maverick.rollback.pg_restore:
    state: swapped_back
    pre_restore_database: "{{ swap.old_database }}"
    scratch_database: "{{ scratch.scratch_database }}"

- name: Restore the runbook's plain dump with the host's client tools
  maverick.rollback.pg_restore:
    state: restored_scratch
    path: /root/backup_20260105_031500.sql
    via: host
    login_port: 5433

- name: What is on the server (read-only, also in check mode) - the live database and its copies
  maverick.rollback.pg_restore:
    project_dir: /opt/lifetracker
    state: inspected
  register: dbinfo
  check_mode: false

- name: Show them
  ansible.builtin.debug:
    msg: >-
      live oid {{ dbinfo.live.oid | default('none') }}, PostgreSQL {{ dbinfo.server_version_num }},
      copies {{ dbinfo.databases | rejectattr('datname', 'eq', dbinfo.database) | map(attribute='datname') | list }}

- name: Remove an old pre-restore database on request
  maverick.rollback.pg_restore:
    state: dropped
    drop_database: lifetracker_pre_restore_20260105031500
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
state:
  description: The state asked for.
  type: str
  returned: always
database:
  description: The live database.
  type: str
  returned: always
format:
  description: Detected format - C(custom), C(directory), C(tar) or C(plain).
  type: str
  returned: when a backup was verified
compression:
  description: C(gzip) when the file is gzipped, else null.
  type: str
  returned: when a backup was verified
size:
  description: Bytes on disk.
  type: int
  returned: when a backup was verified
sha256:
  description: sha256 of the backup (directory - of its sorted sha256sum listing).
  type: str
  returned: when a backup was verified
manifest:
  description: Path of the sidecar manifest, null when there is none.
  type: str
  returned: when a backup was verified
manifest_checked:
  description: Whether a manifest's size and sha256 matched the file.
  type: bool
  returned: when a backup was verified
age_s:
  description: Seconds since the backup was taken (manifest C(created_at), else the file's mtime).
  type: int
  returned: when a backup was verified
backup_commit:
  description: Commit recorded in the manifest.
  type: str
  returned: when the backup has a manifest
backup_tables:
  description:
    - Rows, size and primary key per table when the backup was taken, from its manifest (see
      M(maverick.rollback.pg_backup) RV(maverick.rollback.pg_backup#module:tables)); null when the manifest has none
      (taken by an older version, or with table_stats off).
  type: dict
  returned: when the backup has a manifest
toc_entries:
  description: Entries in the archive's table of contents (not for plain SQL).
  type: int
  returned: when an archive was verified
table_count:
  description: Tables in the archive (TABLE entries; not for plain SQL).
  type: int
  returned: when an archive was verified
scratch_database:
  description: The scratch database created (restored_scratch), swapped in (swapped) or displaced (swapped_back).
  type: str
  returned: restored_scratch, swapped, swapped_back
old_database:
  description: Name the previous live database now has (swapped), or the one put back (swapped_back). Null when there was no live database.
  type: str
  returned: swapped, swapped_back
objects:
  description:
    - What was restored - archive TOC entries per type (custom, directory, tar) or psql command
      tags per tag (plain SQL, for example C(CREATE TABLE), C(COPY)).
  type: dict
  returned: after a restore
objects_total:
  description: Sum of RV(objects).
  type: int
  returned: after a restore
rows_copied:
  description: Rows loaded by COPY (plain SQL only).
  type: int
  returned: after a plain SQL restore
restored_table_count:
  description: Tables in the database after the restore.
  type: int
  returned: after a restore
row_counts:
  description: Rows per table after the restore.
  type: dict
  returned: count_rows=true after a restore
jobs:
  description: Parallel jobs actually used.
  type: int
  returned: after a restore
actions:
  description: What changed, one line each (what would change, in check mode).
  type: list
  elements: str
  returned: always
databases:
  description:
    - O(state=inspected) - the live database and every database whose name starts with C(<database>_),
      ordered by name; C(oid) is text (as in C(oid::text)); C(size) is bytes, null when the user may
      not connect to it; C(derived) says it is a C(<db>_restore_<ts>), C(<db>_pre_restore_<ts>) or
      C(<db>_verify_<ts>) database.
  type: list
  elements: dict
  returned: state is inspected, swapped or swapped_back
  sample: [{datname: lifetracker, oid: "16384", size: 7471619, datallowconn: true, derived: false},
           {datname: lifetracker_pre_restore_20260105031500, oid: "16390", size: 7471619, datallowconn: true,
            derived: true}]
tables:
  description:
    - O(state=inspected) with O(table_stats) - per database, per table (C(schema.table) as C(format('%I.%I')))
      C(rows) (exact, null over O(exact_count_limit_mb)), C(estimate) (C(pg_class.reltuples), -1 or 0 when never
      analyzed), C(bytes) and C(pk) (primary key columns, null without one).
  type: dict
  returned: state is inspected; state is restored_scratch with table_stats (the live and the scratch database)
  sample: {lifetracker: {"public.\"Entry\"": {rows: 12410, estimate: 12400, bytes: 1753088, pk: [id]}}}
live:
  description:
    - The row of RV(databases) for the live database; null when it does not exist.
    - After O(state=swapped) or O(state=swapped_back) - the live database as it is now (C(oid), C(size), ...).
  type: dict
  returned: state is inspected, swapped or swapped_back
server_version:
  description: The server's version string.
  type: str
  returned: state is inspected, swapped or swapped_back
  sample: "15.18 (Debian 15.18-0+deb12u1)"
server_version_num:
  description: The server's C(server_version_num), for example V(150018) (major = value // 10000).
  type: int
  returned: state is inspected, swapped or swapped_back
backup_dirs:
  description: The O(backup_dirs) with C(path), C(exists), C(uid), C(pw_name), C(mode) (octal text), as M(ansible.builtin.stat) names them.
  type: list
  elements: dict
  returned: state is inspected and backup_dirs given
backups:
  description:
    - The backups of O(backups_dir) - C(manifests) and C(backups) (entries like M(ansible.builtin.find)'s - C(path),
      C(uid), C(pw_name), C(mode), C(size), C(mtime)) and C(manifest_contents) (like M(ansible.builtin.slurp)'s -
      C(source), base64 C(content); C(failed) and C(msg) for one that cannot be read).
  type: dict
  returned: state is inspected and backups_dir given
ledger:
  description: The release ledger - C(records) (oldest first) and C(keep_commits) (O(ledger_keep) releases).
  type: dict
  returned: state is inspected and ledger_path given
tables_error:
  description: Why RV(tables) is incomplete (the comparison only; the step itself did not fail).
  type: str
  returned: when a table_stats read failed
stopped:
  description: The O(services) stopped by this call.
  type: list
  elements: str
  returned: with services
started:
  description: The O(services) started again by this call.
  type: list
  elements: str
  returned: with services
failed_step:
  description: Where a call with O(services) failed - C(stop), C(swap), C(swap back), C(in-place restore) or C(start).
  type: str
  returned: on failure with services
step_done:
  description:
    - True once the state's own step (swap, swap back, in-place restore) is done. A failure after it (at the
      start) leaves that change in place, and the caller goes back from there.
  type: bool
  returned: with services, not in check mode
repaired_connections:
  description:
    - The live database and its copies that refused new connections (C(datallowconn) off, as only an interrupted
      swap leaves them) and were allowed connections again by this run (would be, in check mode).
  type: list
  elements: str
  returned: the states that change databases (not verified, not inspected)
restore_databases:
  description: Scratch, pre-restore and verify databases of O(database) that exist afterwards.
  type: list
  elements: str
  returned: when the server was contacted
via:
  description: Where the client tools ran, C(host) or C(compose) (what O(via=auto) chose).
  type: str
  returned: when the tools were set up
  sample: compose
via_reason:
  description: Why O(via=auto) chose C(compose) (no host tool, too old, or the server did not answer over TCP).
  type: str
  returned: when O(via=auto) chose compose
duration_s:
  description: Seconds the step took, verification included.
  type: float
  returned: always
max_rss_mb:
  description: Peak resident memory of the module process in MiB (stays flat with backup size).
  type: float
  returned: always
"""

import datetime
import os
import resource
import signal
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maverick.rollback.plugins.module_utils._backup_files import directory_entries, read_backups
from ansible_collections.maverick.rollback.plugins.module_utils._cli import Cli
from ansible_collections.maverick.rollback.plugins.module_utils._connection import (
    connection_spec, missing_setting, module_connection)
from ansible_collections.maverick.rollback.plugins.module_utils._pg import (
    EXACT_COUNT_LIMIT_MB, INFRASTRUCTURE_CAUSES, PgError, check_db_name, derived_db_name, detect_format,
    parse_iso, read_manifest, restore_plan, sha256_path)
from ansible_collections.maverick.rollback.plugins.module_utils._ledger import LedgerError, commits_to_keep, read_records
from ansible_collections.maverick.rollback.plugins.module_utils._lock import RunLockLost, held_while
from ansible_collections.maverick.rollback.plugins.module_utils._pg_runner import open_ops
from ansible_collections.maverick.rollback.plugins.module_utils._preflight import SERVER_ARGUMENT_SPEC, check_server, user_facts
from ansible_collections.maverick.rollback.plugins.module_utils._rules import is_derived_db, is_valid, mask_text


class Interrupted(Exception):
    pass


def _on_signal(signum, _frame):
    raise Interrupted("interrupted by signal %d" % signum)


# The databases a state renames or drops: only the live one's own copies, never another app's.
DERIVED_ONLY = {
    "swapped": ("scratch_database", "pre_restore_database"),
    "swapped_back": ("scratch_database", "pre_restore_database"),
    "dropped": ("drop_database",),
}


def not_derived(key, name, db):
    """'' when name is a scratch, pre-restore or verify database of db (the _rules rule), else why not."""
    if is_derived_db(name, db):
        return ""
    return ("%s %s is not a scratch, pre-restore or verify database of %s "
            "(<db>_restore_<ts>, <db>_pre_restore_<ts>, <db>_verify_<ts>)" % (key, name, db))


def repair_connections(module, ops, db, result):
    """Allow connections again on the live database and its copies where an interrupted swap
    left them refused (reported in RV(repaired_connections); check mode only reports)."""
    stuck = ops.refusing_connections(db)
    result["repaired_connections"] = stuck
    if not stuck:
        return
    result["changed"] = True
    if module.check_mode:
        result["actions"].append("would allow connections again on %s" % ", ".join(stuck))
        return
    ops.allow_connections(stuck)
    result["actions"].append("allowed connections again on %s (refused since an interrupted swap)" % ", ".join(stuck))


def verify_backup(ops, path, expected_sha256=None, require_manifest=False):
    """Everything the module checks before it changes anything. Returns facts; PgError when bad."""
    info = detect_format(path)
    manifest = read_manifest(path)
    if manifest is None and require_manifest:
        raise PgError("backup %s has no manifest (%s.json) and require_manifest is set" % (path, path))
    digest = sha256_path(path)
    facts = {"format": info["format"], "compression": info["compression"], "size": info["size"],
             "sha256": digest, "manifest": path.rstrip("/") + ".json" if manifest else None,
             "manifest_checked": False}
    if manifest:
        if manifest.get("size") is not None and int(manifest["size"]) != info["size"]:
            raise PgError("backup %s is %d bytes but its manifest says %s: truncated or changed since the backup"
                          % (path, info["size"], manifest["size"]))
        if manifest["sha256"] != digest:
            raise PgError("backup %s: sha256 %s does not match its manifest (%s): corrupt or changed since the backup"
                          % (path, digest, manifest["sha256"]))
        facts["manifest_checked"] = True
        facts["backup_commit"] = manifest.get("commit")
        facts["backup_tables"] = manifest.get("tables")
    if expected_sha256 and expected_sha256.lower() != digest:
        raise PgError("backup %s: sha256 %s is not the expected %s" % (path, digest, expected_sha256.lower()))
    created = parse_iso(manifest.get("created_at")) if manifest else None
    stamp = created.timestamp() if created else os.path.getmtime(path)
    facts["age_s"] = max(0, int(time.time() - stamp))
    if info["format"] != "plain":
        # A backup this connection cannot read (a directory through compose) is not damaged:
        # say so before reading it, not as "truncated or corrupt".
        restore_plan(ops.conn["via"], info["format"], info["compression"], 1)
        try:
            toc = ops.archive_list(path, info)
            if not facts["manifest_checked"]:
                ops.archive_read(path, info)  # no checksum vouches for the data blocks: read them all
        except PgError as exc:
            cause = exc.details.get("cause")
            if cause in INFRASTRUCTURE_CAUSES or not exc.details.get("judged"):
                # docker, the container or the tool failed, not the backup: say that.
                raise PgError("cannot check backup %s (the backup itself was not judged): %s" % (path, exc.msg),
                              cause=cause)
            raise PgError("backup %s is not readable (truncated or corrupt?): %s" % (path, exc.msg))
        facts.update(toc_entries=toc["toc_entries"], table_count=toc["table_count"])
        info["toc"] = toc
    return info, facts


def main():
    argument_spec = connection_spec(
        state=dict(type="str", default="verified",
                   choices=["verified", "restored_scratch", "swapped", "swapped_back", "in_place", "dropped", "inspected"]),
        path=dict(type="path"),
        scratch_database=dict(type="str"),
        pre_restore_database=dict(type="str"),
        drop_database=dict(type="str"),
        sha256=dict(type="str"),
        require_manifest=dict(type="bool", default=False),
        jobs=dict(type="int"),
        no_owner=dict(type="bool", default=True),
        no_privileges=dict(type="bool", default=False),
        count_rows=dict(type="bool", default=False),
        maintenance_db=dict(type="str", default="postgres"),
        table_stats=dict(type="list", elements="str", default=[]),
        exact_count_limit_mb=dict(type="int", default=EXACT_COUNT_LIMIT_MB),
        backup_dirs=dict(type="list", elements="path", default=[]),
        backups_dir=dict(type="path"),
        app=dict(type="str"),
        ledger_path=dict(type="path"),
        ledger_keep=dict(type="int", default=5),
        services=dict(type="list", elements="str", default=[]),
        start_services=dict(type="bool", default=True),
        lock_path=dict(type="path"),
        run_id=dict(type="str"),
        live_table_stats=dict(type="bool", default=False),
        check_server=dict(type="bool", default=False),
        **SERVER_ARGUMENT_SPEC
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_together=[("lock_path", "run_id"), ("backups_dir", "app")],
        required_if=[
            ("state", "verified", ["path"]),
            ("state", "restored_scratch", ["path"]),
            ("state", "in_place", ["path"]),
            ("state", "swapped", ["scratch_database"]),
            ("state", "swapped_back", ["pre_restore_database"]),
            ("state", "dropped", ["drop_database"]),
        ],
    )
    p = module.params
    state = p["state"]
    if p["check_server"] and state != "inspected":
        module.fail_json(msg="check_server applies to state=inspected only")
    server = check_server(module) if p["check_server"] else None
    os.umask(0o077)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    conn, env_file = module_connection(module)
    secrets = [conn["password"]]
    db = conn["database"]
    if p["live_table_stats"] and db and db not in p["table_stats"]:
        p["table_stats"] = [db] + p["table_stats"]

    problems = [check_db_name(db) if db else missing_setting(conn, "database", "database", env_file)]
    for key in ("scratch_database", "pre_restore_database", "drop_database"):
        if p[key]:
            problems.append(check_db_name(p[key], key.replace("_", " ")))
            if p[key] == db:
                problems.append("%s must not be the live database %s" % (key, db))
    if db and db == conn["maintenance_db"]:
        problems.append("the live database must not be the maintenance database %s" % db)
    problems += [not_derived(key, p[key], db) for key in DERIVED_ONLY.get(state, ()) if p[key] and db]
    problems += [check_db_name(name, "table_stats database") or (not_derived("table_stats", name, db) if name != db else "")
                 for name in p["table_stats"] if db]
    problems += ["service name %r is not a plain name" % name for name in p["services"] if not is_valid("service_name", name)]
    if p["services"] and state not in STEP_NAMES:
        problems.append("services applies to the states %s only (they stop the database's clients)" % ", ".join(STEP_NAMES))
    if p["exact_count_limit_mb"] < 0:
        problems.append("exact_count_limit_mb must be 0 (estimates only) or more")
    if not conn["user"]:
        problems.append(missing_setting(conn, "user", "login_user", env_file))
    if p["jobs"] is not None and p["jobs"] < 1:
        problems.append("jobs must be at least 1")
    jobs = p["jobs"] or 2
    if p["sha256"] and not (len(p["sha256"]) == 64 and all(c in "0123456789abcdefABCDEF" for c in p["sha256"])):
        problems.append("sha256 must be 64 hex digits")
    problems = [x for x in problems if x]
    if problems:
        module.fail_json(msg="; ".join(problems))

    result = dict(changed=False, state=state, database=db, actions=[])
    if server is not None:
        result.update(server=server, ansible_facts=user_facts())
    started = time.monotonic()
    now = datetime.datetime.now(datetime.timezone.utc)
    runner = None
    try:
        tool = "pg_restore" if state in ("verified", "restored_scratch", "in_place") else "psql"
        ops, reason = open_ops(module, conn, secrets, tool=tool, need_version=tool == "pg_restore")
        runner, conn = ops.runner, ops.conn
        result["via"] = conn["via"]
        if reason:
            result["via_reason"] = reason
        info = None
        if state in ("verified", "restored_scratch", "in_place"):
            info, facts = verify_backup(ops, p["path"], p["sha256"], p["require_manifest"])
            result.update(facts)
            plan = restore_plan(conn["via"], info["format"], info["compression"], jobs)
            if plan["note"] and state != "verified" and p["jobs"] is not None:
                module.warn(plan["note"])
        if state == "inspected":
            do_info(ops, db, result)
            read_tables(ops, p, [r["datname"] for r in result["databases"]], result)
            read_files(module, p, db, result)
        elif state != "verified":
            repair_connections(module, ops, db, result)  # after verification: a bad backup changes nothing
            handler = STATES[state]
            # The run holding the app lock stays alive while a long step works (heartbeat, worker).
            with held_while(None if module.check_mode else p["lock_path"], p["run_id"]):
                with_services_stopped(module, p, result,
                                      lambda: handler(module, ops, dict(p, jobs=jobs), db, now, info, result))
            if state in ("swapped", "swapped_back") and not module.check_mode:
                do_info(ops, db, result)  # the record names the live database's oid after the swap
            else:
                result["restore_databases"] = ops.list_derived(db)
            if state == "restored_scratch" and not module.check_mode:
                read_tables(ops, p, [db, result["scratch_database"]], result)
    except (PgError, Interrupted, OSError, RunLockLost) as exc:
        msg = exc.msg if isinstance(exc, PgError) else str(exc)
        if not result["changed"] and state not in ("verified", "inspected"):
            msg += " (nothing was changed)"
        result["duration_s"] = round(time.monotonic() - started, 3)
        module.fail_json(msg=mask_text(msg, secrets), **result)
    finally:
        if runner:
            runner.close()
    result["duration_s"] = round(time.monotonic() - started, 3)
    result["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    module.exit_json(**result)


def _restore_into(module, ops, p, target, info, result):
    restored = ops.restore(p["path"], info, target, jobs=p["jobs"], no_owner=p["no_owner"],
                           no_privileges=p["no_privileges"])
    result.update(objects=restored["objects"], objects_total=restored["objects_total"], jobs=restored["jobs"])
    if restored["rows_copied"] is not None:
        result["rows_copied"] = restored["rows_copied"]
    result["restored_table_count"] = ops.table_count(target)
    if p["count_rows"]:
        result["row_counts"] = ops.row_counts(target)
    result["actions"].append("restored %s (%s%s) into %s" % (
        p["path"], info["format"], ", gzip" if info["compression"] else "", target))


def do_restored_scratch(module, ops, p, db, now, info, result):
    scratch = p["scratch_database"] or derived_db_name(db, "restore", now)
    result["scratch_database"] = scratch
    if ops.exists(scratch):
        raise PgError("scratch database %s exists already: drop it (state=dropped) or choose another name" % scratch)
    live = ops.db_info(db)
    if module.check_mode:
        result["changed"] = True
        result["actions"].append("would create database %s%s and restore %s into it" % (
            scratch, " like %s" % db if live else "", p["path"]))
        return
    ops.create_database(scratch, live)
    result["changed"] = True
    result["actions"].append("created database %s" % scratch)
    try:
        _restore_into(module, ops, p, scratch, info, result)
    except BaseException as exc:
        cleanup = "dropped the scratch database %s again" % scratch
        try:
            ops.drop_database(scratch)
            result["actions"].append("dropped database %s" % scratch)
        except PgError as drop_exc:
            cleanup = "could not drop the scratch database %s (%s)" % (scratch, drop_exc.msg)
        msg = exc.msg if isinstance(exc, PgError) else str(exc)
        raise PgError("restore into the scratch database failed: %s; %s; the live database %s was not touched"
                      % (msg, cleanup, db))


def do_swapped(module, ops, p, db, now, info, result):
    scratch = p["scratch_database"]
    old = p["pre_restore_database"] or derived_db_name(db, "pre_restore", now)
    result.update(scratch_database=scratch, old_database=old)
    found = ops.existing(db, scratch, old)
    live_exists = db in found
    if scratch not in found:
        if p["pre_restore_database"] and old in found and live_exists:
            result["actions"].append("already swapped: %s is live, the previous one is %s" % (db, old))
            return
        raise PgError("scratch database %s does not exist: nothing to swap in" % scratch)
    if old in found:
        raise PgError("database %s exists already: choose another pre_restore_database" % old)
    if not live_exists:
        result["old_database"] = None
    if module.check_mode:
        result["changed"] = True
        result["actions"].append("would end sessions on %s and %s, rename %s to %s and %s to %s"
                                 % (db, scratch, db, old, scratch, db) if live_exists else
                                 "would rename %s to %s (there is no live database)" % (scratch, db))
        return
    ops.rename_pair(db, scratch, old)
    result["changed"] = True
    if live_exists:
        result["actions"] += ["renamed %s to %s" % (db, old), "renamed %s to %s" % (scratch, db)]
    else:
        result["actions"].append("renamed %s to %s" % (scratch, db))


def do_swapped_back(module, ops, p, db, now, info, result):
    old = p["pre_restore_database"]
    displaced = p["scratch_database"] or derived_db_name(db, "restore", now)
    result.update(scratch_database=displaced, old_database=old)
    found = ops.existing(db, old, displaced)
    if old not in found:
        if p["scratch_database"] and displaced in found and db in found:
            result["actions"].append("already swapped back: %s is live again, the restored one is %s"
                                     % (db, displaced))
            return
        raise PgError("pre-restore database %s does not exist: nothing to swap back" % old)
    if displaced in found:
        raise PgError("database %s exists already: choose another scratch_database" % displaced)
    if module.check_mode:
        result["changed"] = True
        result["actions"].append("would rename %s to %s and %s to %s" % (db, displaced, old, db))
        return
    ops.rename_pair(db, old, displaced)
    result["changed"] = True
    result["actions"] += ["renamed %s to %s" % (db, displaced), "renamed %s to %s" % (old, db)]


def do_in_place(module, ops, p, db, now, info, result):
    live = ops.db_info(db)
    if module.check_mode:
        result["changed"] = True
        result["actions"].append("would %srecreate database %s and restore %s into it"
                                 % ("drop and " if live else "", db, p["path"]))
        return
    if live:
        ops.drop_database(db)
        result["actions"].append("dropped database %s" % db)
    result["changed"] = True
    ops.create_database(db, live)
    result["actions"].append("created database %s" % db)
    try:
        _restore_into(module, ops, p, db, info, result)
    except (PgError, Interrupted) as exc:
        msg = exc.msg if isinstance(exc, PgError) else str(exc)
        raise PgError("in-place restore failed: %s; database %s is now partly restored: restore the safety "
                      "backup" % (msg, db))


def do_dropped(module, ops, p, db, now, info, result):
    name = p["drop_database"]
    if not ops.exists(name):
        result["actions"].append("database %s does not exist" % name)
        return
    result["changed"] = True
    if module.check_mode:
        result["actions"].append("would drop database %s" % name)
        return
    ops.drop_database(name)
    result["actions"].append("dropped database %s" % name)


def read_tables(ops, p, present, result):
    """Rows, size and primary key per table of the O(table_stats) databases that exist (RV(tables)).
    Read-only and only for the plan's comparison: a failure is reported (RV(tables_error)), not raised."""
    result["tables"] = {}
    try:
        for name in p["table_stats"]:
            if name in present:
                result["tables"][name] = ops.table_stats(name, p["exact_count_limit_mb"] * 1024 * 1024)
    except PgError as exc:
        result["tables_error"] = exc.msg


def read_files(module, p, db, result):
    """The restore's other reads, in the same call: backup directories, backups, ledger."""
    if p["backup_dirs"]:
        result["backup_dirs"] = directory_entries(p["backup_dirs"])
    if p["backups_dir"]:
        result["backups"] = read_backups(p["backups_dir"], p["app"], db)
    if p["ledger_path"]:
        warnings = []
        try:
            records = read_records(p["ledger_path"], warnings)
        except LedgerError as exc:
            raise PgError(str(exc))
        for warning in warnings[:5]:
            module.warn(warning)
        result["ledger"] = {"records": records, "keep_commits": commits_to_keep(records, p["ledger_keep"])}


def _compose(module, p, *args):
    rc, out, err = Cli(module, readonly=False).compose(p["project_dir"], p["compose_project"], *args)
    if rc != 0:
        raise PgError("docker compose %s failed (rc %d): %s" % (args[0], rc, (err or out).strip()[-400:]))


# What RV(failed_step) calls the state's own step.
STEP_NAMES = {"swapped": "swap", "swapped_back": "swap back", "in_place": "in-place restore"}


def with_services_stopped(module, p, result, change):
    """Stop O(services), make the change, start them again (when O(start_services)): one call
    for the downtime. RV(stopped) and RV(started) say how far it got; on a failure
    RV(failed_step) says where (stop, the state's own step, start) and the caller goes back."""
    services = p["services"]
    if not services:
        change()
        return
    if module.check_mode:
        result["actions"].append("would stop %s first and start %s again after" % (", ".join(services), "them"
                                 if p["start_services"] else "nothing"))
        change()
        return
    result.update(stopped=[], started=[], failed_step="stop", step_done=False)
    _compose(module, p, "stop", *services)
    result.update(stopped=services, failed_step=STEP_NAMES.get(p["state"], p["state"]))
    result["actions"].append("stopped %s" % ", ".join(services))
    change()
    result["step_done"] = True
    if p["start_services"]:
        result["failed_step"] = "start"
        _compose(module, p, "up", "--detach", "--no-deps", "--no-recreate", "--no-build", *services)
        result["started"] = services
        result["actions"].append("started %s" % ", ".join(services))
    del result["failed_step"]


def do_info(ops, db, result):
    """Read-only: the live database, its `<db>_*` copies, the server version."""
    rows = ops.database_listing(db)
    version, version_num = ops.server_version()
    result.update(databases=rows, live=next((r for r in rows if r["datname"] == db), None),
                  server_version=version, server_version_num=version_num,
                  restore_databases=[r["datname"] for r in rows if r["derived"]])


STATES = {
    "restored_scratch": do_restored_scratch,
    "swapped": do_swapped,
    "swapped_back": do_swapped_back,
    "in_place": do_in_place,
    "dropped": do_dropped,
}


if __name__ == "__main__":
    main()
