#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_backup
short_description: Dump a PostgreSQL database to a verified, checksummed backup file
version_added: 0.1.0
description:
  - Runs C(pg_dump) either inside the Compose database service (C(docker compose exec -T),
    as the runbook does) or with the client tools on the host, and streams the dump to a
    file while computing its sha256, so memory stays flat whatever the database size.
  - The dump is written under a temporary dot-name in O(backup_dir), fsynced, verified
    (non-empty, C(pg_restore --list) reads it) and only then renamed to
    C(<app>_<db>_<YYYYmmddTHHMMSSZ>_<commit>.dump). A failed, killed or disk-full dump
    never leaves a file under a good name; the error names the tool, its exit code and
    the last lines of its stderr, secrets masked.
  - Writes a sidecar manifest C(<backup>.json) (mode 0600) and then applies retention.
  - Passwords go only through the environment (C(docker compose exec -e PGPASSWORD), name
    only) or a 0600 pgpass file; never through the argument list or into the results.
options:
  source_database:
    description:
      - Dump this database instead, but name the backup and its manifest after O(database)
        (retention counts it with the backups of O(database)); the manifest records it as
        C(source_database). For a copy of O(database) under another name, such as the
        C(<db>_pre_restore_<ts>) database a restore put aside.
    type: str
  backup_dir:
    description:
      - Directory of the backups. Created mode 0700 when missing (an existing directory
        keeps its mode; a warning is given when others can read it).
    type: path
    default: /var/lib/maverick-rollback/backups
  app:
    description:
      - App name at the start of the file name. Default the last part of O(project_dir).
      - Letters, digits, C(.) and C(-) (C(_) separates the name's fields).
    type: str
  commit:
    description:
      - Commit deployed when the backup is taken (4-40 hex digits), part of the name and
        of the manifest. Default C(git rev-parse HEAD) in O(project_dir), else C(unknown).
    type: str
  format:
    description:
      - C(custom) (C(pg_dump -Fc), streamed to one file) or C(directory) (C(pg_dump -Fd -j
        N), parallel; the backup is a directory; O(via=host) only, because pg_dump in the
        container would write the directory inside the container).
    type: str
    choices: [custom, directory]
    default: custom
  compress:
    description:
      - C(pg_dump -Z) level, 0-9. 0 (no compression) is the default because the default
        compression makes a dump several times slower (4.7x measured on 1.6 GB).
    type: int
    default: 0
  jobs:
    description: Parallel jobs of C(pg_dump -j) for O(format=directory).
    type: int
    default: 2
  verify:
    description:
      - C(list) checks the dump is non-empty and that C(pg_restore --list) reads it.
      - C(full) also restores it into a scratch database C(<db>_verify_<ts>) and compares
        the row count of every table with the live counts taken just before and after the
        dump (a count between the two passes, so writes during the dump are tolerated),
        then drops the scratch database. Needs the right to create databases.
    type: str
    choices: [list, full]
    default: list
  keep:
    description:
      - Keep the newest N backups of this app and database in O(backup_dir), remove older
        ones with their manifests. 0 keeps everything. The newest verified backup and every
        path in O(protect) are never removed.
    type: int
    default: 0
  protect:
    description:
      - Backup paths retention must never remove, besides what O(ledger_path) protects.
    type: list
    elements: path
    default: []
  ledger_path:
    description:
      - The app's release ledger (M(maverick.rollback.release_ledger)), read before the dump. Retention never
        removes a backup it still points at - (1) the newest verified backup in O(backup_dir) taken while one of
        the newest O(protect_releases) healthy releases ran (what C(db_restore_backup=before=<commit>) picks),
        (2) a backup a deploy or rollback record of one of those releases names, (3) the backup and the safety
        backup of the newest restore (the rule of the filter M(maverick.rollback.backup_protect)).
      - A ledger that does not exist yet protects nothing; one that cannot be read (a symbolic link, no
        permission) fails the module before anything is written (RV(refused)). Unreadable lines are skipped with
        a warning.
    type: path
  protect_releases:
    description: How many of the newest healthy releases of O(ledger_path) keep their backups (rules 1 and 2).
    type: int
    default: 5
  allow_shared_backup_dir:
    description:
      - Write into a O(backup_dir) that group or others can write to, or that a user other than root and the
        user the module runs as owns, with a warning.
      - Refused by default, before anything is read or written (RV(refused)) - whoever can write there can
        plant a backup (or replace one) that a restore would take (the rule of the filter
        M(maverick.rollback.backup_dir_check)). A O(backup_dir) that does not exist yet is created 0700.
    type: bool
    default: false
  allow_shared_option:
    description:
      - The name the refusal and the warning give to O(allow_shared_backup_dir), so the message names what
        its reader sets (a role passes its own variable, for example C(db_backup_allow_shared_backup_dir)).
    type: str
    default: allow_shared_backup_dir
  maintenance_db:
    description: Database to connect to for CREATE/DROP DATABASE (O(verify=full)).
    type: str
    default: postgres
  table_stats:
    description:
      - Record every table's rows, size and primary key in the manifest (key C(tables)), read just before
        the dump in the same way the module reaches the database (one C(psql) query). A restore compares
        them with the live database to say what it would set aside (M(maverick.rollback.pg_restore)
        RV(maverick.rollback.pg_restore#module:backup_tables)).
      - Rows are exact for tables of at most O(exact_count_limit_mb) and PostgreSQL's own estimate
        (C(pg_class.reltuples)) above it. A failure to read them is a warning, not a failed backup.
    type: bool
    default: true
  exact_count_limit_mb:
    description:
      - Tables up to this size (MiB, indexes and TOAST included) are counted exactly (C(count(*)) reads
        the table); bigger ones get the estimate. 0 records estimates only.
    type: int
    default: 64
  lock_path:
    description:
      - The app lock (M(maverick.rollback.app_lock)) of the run this backup belongs to, with O(run_id).
      - While the dump works the lock names this process as the run's worker and its heartbeat is refreshed
        every quarter of its TTL, so a run working longer than the TTL is not declared stale
        (docs/run_protocol.md).
      - Fails without starting when O(run_id) does not hold the lock, and publishes no backup when another run took it meanwhile.
      - Mutually exclusive with O(lock), which takes the lock in this call and then holds it the same way.
    type: path
  run_id:
    description: The run id holding O(lock_path) (the run protocol's C(__app_run_id)).
    type: str
  check_server:
    description:
      - First run M(maverick.rollback.preflight)'s checks of the server (the same code, the same options) and
        return them as RV(server) - C(playbooks/db_backup.yml)'s dump call, so the check is not a remote call
        of its own.
      - What is missing fails the module with preflight's message (one line per piece, with its fix) and
        RV(refused), before anything is read or written.
    type: bool
    default: false
extends_documentation_fragment:
  - maverick.rollback.attributes
  - maverick.rollback.pg_connection
  - maverick.rollback.server_check
  - maverick.rollback.lock_request
attributes:
  check_mode:
    support: full
    description:
      - Reports the would-be backup path and what retention would remove; checks that the
        database answers (read-only query); creates and removes nothing.
notes:
  - O(database) is the database dumped (see O(source_database)).
  - With O(via=compose) the dump travels through C(docker exec)'s output; the host path
    (O(via=host), or what O(via=auto) takes when the host's C(pg_dump) fits) was ~1.7x
    faster on 1.5 GB.
  - Files are created with umask 077 (backups and manifests 0600, directory dumps 0700).
  - The temporary name is C(.<name>.partial-<pid>) in O(backup_dir); only a SIGKILL of the
    module itself can leave one behind, and it never looks like a backup. The next run removes
    those of the same app and database whose process is gone (RV(removed_partials)).
  - With O(via=host) the password is in a 0600 pgpass file in a 0700 directory
    C(maverick-pg-<pid>-*) in the temporary directory, removed on every exit; one a SIGKILL left
    behind is removed by the next pg_backup, pg_restore or release_facts run (not in check mode).
  - The sha256 of a directory-format backup is the sha256 of its sorted C(sha256sum)
    listing (C(<sha256>  <relative path>) lines).
seealso:
  - module: maverick.rollback.pg_restore
author:
  - Maverick Applications SRE (@maverickapplications)
"""

EXAMPLES = r"""
- name: Pre-deploy backup of LifeTracker through the postgres container, keep 10 and what the ledger points at
  maverick.rollback.pg_backup:
    project_dir: /opt/lifetracker
    backup_dir: /var/lib/maverick-rollback/backups
    commit: "{{ deployed_sha }}"
    keep: 10
    ledger_path: /var/lib/maverick-rollback/lifetracker/ledger.jsonl
    protect_releases: 5
  register: backup

- name: Parallel directory-format dump from the host, fully verified
  maverick.rollback.pg_backup:
    project_dir: /opt/lifetracker
    via: host
    login_port: 5433
    format: directory
    jobs: 4
    verify: full
    database: lifetracker
  register: backup

- name: Backup of an app whose .env names its settings APP_DB_*, database service "db"
  maverick.rollback.pg_backup:
    project_dir: /srv/shop
    compose_service: db
    env_keys: {database: APP_DB_NAME, user: APP_DB_USER, password: APP_DB_PASS, port: APP_DB_PORT}

- name: Show where it went
  ansible.builtin.debug:
    msg: "{{ backup.path }} ({{ backup.size }} bytes, sha256 {{ backup.sha256 }})"
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
path:
  description: The backup (would-be path in check mode).
  type: str
  returned: success
  sample: /var/lib/maverick-rollback/backups/lifetracker_lifetracker_20260105T031500Z_b65522e1bab6.dump
manifest:
  description: The sidecar manifest (C(<path>.json)).
  type: str
  returned: success
size:
  description: Bytes (sum of the files for a directory backup).
  type: int
  returned: success and not check mode
sha256:
  description: sha256 of the backup, computed while it was written (directory - see notes).
  type: str
  returned: success and not check mode
format:
  description: C(custom) or C(directory).
  type: str
  returned: always
table_count:
  description: Tables in the dump (TABLE entries of C(pg_restore --list)).
  type: int
  returned: success and not check mode
toc_entries:
  description: Entries of the dump's table of contents.
  type: int
  returned: success and not check mode
server_version:
  description: Version of the database server.
  type: str
  returned: when the database answered
  sample: "15.18 (Debian 15.18-0+deb12u1)"
commit:
  description: Commit recorded in the name and the manifest (C(unknown) when not known).
  type: str
  returned: always
verified:
  description: Whether the dump passed verification (always true on success).
  type: bool
  returned: success and not check mode
verification:
  description: C(list) or C(full).
  type: str
  returned: success and not check mode
tables:
  description:
    - Per table (C(schema.table) as C(format('%I.%I'))) - C(rows) (exact count, null over
      O(exact_count_limit_mb)), C(estimate) (C(pg_class.reltuples), -1 or 0 when never analyzed),
      C(bytes) and C(pk) (primary key columns, null without one), read just before the dump; also in
      the manifest as C(tables) with C(tables_exact_limit) (bytes).
  type: dict
  returned: success and not check mode and O(table_stats) and the statistics could be read
  sample: {"public.\"Entry\"": {rows: 12388, estimate: 12388, bytes: 1753088, pk: [id]}}
row_counts:
  description: Rows per table in the restored copy (O(verify=full)).
  type: dict
  returned: verify=full
duration_s:
  description: Seconds from the start of the dump to the end of verification.
  type: float
  returned: success and not check mode
removed_partials:
  description: Temporary dumps left by a killed earlier run (their process is gone), removed before this dump.
  type: list
  elements: str
  returned: always
repaired_connections:
  description:
    - O(database) and its C(<db>_*) copies that refused new connections (C(datallowconn) off, as only an interrupted
      swap of M(maverick.rollback.pg_restore) leaves them) and were allowed connections again (would be, in check mode).
  type: list
  elements: str
  returned: when the database answered
removed:
  description: Backups removed by retention (would be removed, in check mode), oldest first.
  type: list
  elements: str
  returned: always
protected:
  description:
    - The backups retention kept for the release ledger's sake (O(ledger_path)) and O(protect), sorted.
  type: list
  elements: str
  returned: success
refused:
  description:
    - True when the module stopped before it read the database or wrote anything - O(backup_dir) can be
      written by others (and not O(allow_shared_backup_dir)), O(ledger_path) cannot be read, or another run
      holds the lock O(lock) was to take (RV(lock_refused)). Nothing was changed, and a lock this call took is
      given back; a caller need not record a failed backup.
  type: bool
  returned: failure
lock_taken:
  description:
    - This call took the app lock (O(lock)); the caller gives it back, also after a failed dump. False -
      re-entered, refused, check mode, or no O(lock).
  type: bool
  returned: always
  sample: true
lock_refused:
  description: Another run holds the lock O(lock) was to take (in check mode - would hold it). Nothing was changed.
  type: bool
  returned: failure, with O(lock)
  sample: true
holder:
  description: With RV(lock_refused), the other run's lock record.
  type: dict
  returned: failure, with O(lock)
via:
  description: Where the client tools ran, C(host) or C(compose) (what O(via=auto) chose).
  type: str
  returned: always
  sample: host
via_reason:
  description: Why O(via=auto) chose C(compose) (no host tools, too old, or the server did not answer over TCP).
  type: str
  returned: when O(via=auto) chose compose
  sample: "pg_dump 13.16 on the host is older than the server (15)"
max_rss_mb:
  description: Peak resident memory of the module process in MiB (stays flat with dump size).
  type: float
  returned: success and not check mode
"""

import datetime
import os
import re
import resource
import shutil
import signal
import stat
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maverick.rollback.plugins.module_utils._backups import backup_dir_check, ledger_protect, path_stat
from ansible_collections.maverick.rollback.plugins.module_utils._cli import cli_environ, git_argv
from ansible_collections.maverick.rollback.plugins.module_utils._connection import (
    connection_spec, missing_setting, module_connection)
from ansible_collections.maverick.rollback.plugins.module_utils._pg import (
    EXACT_COUNT_LIMIT_MB, PgError, backup_name, build_manifest, check_app_name, check_db_name,
    compare_row_counts, derived_db_name, detect_format, fsync_dir, fsync_tree, iso, manifest_path,
    parse_iso, parse_tool_version, pg_dump_argv, read_manifest,
    select_for_removal, sha256_path, short_commit, tree_size, utc_stamp, write_manifest)
from ansible_collections.maverick.rollback.plugins.module_utils._ledger import LedgerError, read_records, warn_all
from ansible_collections.maverick.rollback.plugins.module_utils._lock import (
    LOCK_REQUEST_SPEC, RunLockLost, check_held, held_while, release, take_in_call)
from ansible_collections.maverick.rollback.plugins.module_utils._pg_runner import open_ops, pid_alive
from ansible_collections.maverick.rollback.plugins.module_utils._preflight import SERVER_ARGUMENT_SPEC, check_server, user_facts
from ansible_collections.maverick.rollback.plugins.module_utils._rules import mask_text, parse_backup_name


class Interrupted(Exception):
    pass


def _on_signal(signum, _frame):
    raise Interrupted("interrupted by signal %d" % signum)


def existing_backups(backup_dir, app, database):
    """Our backups of this app and database in backup_dir, with their verified flag."""
    found = []
    if not os.path.isdir(backup_dir):
        return found
    for name in os.listdir(backup_dir):
        fields = parse_backup_name(name, app, database)
        if not fields or fields["name"] != name:  # not ours, or a manifest
            continue
        path = os.path.join(backup_dir, name)
        try:
            manifest = read_manifest(path)
        except PgError:
            manifest = None
        fields.update(path=path, verified=bool(manifest and manifest.get("verified")))
        # Age by the time the manifest recorded, as db_restore picks: a file renamed
        # to a later stamp must not push real recent backups out of retention.
        recorded = parse_iso(manifest.get("created_at")) if manifest else None
        if recorded:
            fields["stamp"] = utc_stamp(recorded)
        found.append(fields)
    return found


PARTIAL_RE = re.compile(r"\A\.(?P<name>.+)\.partial-(?P<pid>[0-9]+)\Z")


def stale_partials(backup_dir, app, database, alive=pid_alive):
    """Temporary dumps of this app and database whose writer is gone (a SIGKILLed run)."""
    if not os.path.isdir(backup_dir):
        return []
    stale = []
    for entry in sorted(os.listdir(backup_dir)):
        match = PARTIAL_RE.match(entry)
        name = match.group("name") if match else ""
        if name.endswith(".dump") and parse_backup_name(name, app, database) and not alive(int(match.group("pid"))):
            stale.append(os.path.join(backup_dir, entry))
    return stale


def free_name(backup_dir, app, database, when, commit):
    for seq in range(0, 100):
        name = backup_name(app, database, when, commit, seq)
        path = os.path.join(backup_dir, name)
        if not os.path.lexists(path) and not os.path.lexists(manifest_path(path)):
            return path
    raise PgError("no free backup name in %s for %s" % (backup_dir, backup_name(app, database, when, commit)))


def remove_path(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def git_head(module, project_dir):
    git = module.get_bin_path("git")
    if not git or not project_dir or not os.path.exists(os.path.join(project_dir, ".git")):
        return None
    rc, out, _err = module.run_command(git_argv(project_dir, "rev-parse", "HEAD", git=git),
                                       environ_update=cli_environ(readonly=True))
    return out.strip() if rc == 0 and out.strip() else None


def trusted_backup_dir(module):
    """Refuse a backup_dir others can write to (a restore takes the newest backup it finds there) before
    anything is read or written; accepted with allow_shared_backup_dir, with a warning. True when warned."""
    p = module.params
    verdict = backup_dir_check(path_stat(p["backup_dir"]), os.geteuid(), allow_shared=p["allow_shared_backup_dir"],
                               option=p["allow_shared_option"])
    if not verdict["ok"]:
        module.fail_json(msg=verdict["msg"], refused=True)
    if verdict["warning"]:
        module.warn(verdict["warning"])
    return bool(verdict["warning"])


def take_lock(module):
    """With O(lock): take (or re-enter) the run's lock before anything is read from the ledger or
    written, and hold it as O(lock_path)/O(run_id) would. Returns (taken, refuse): refuse(msg)
    fails before anything changed (RV(refused) unless refused=False), giving back a lock this call took."""
    p, lock = module.params, module.params["lock"]
    taken = False
    if lock:
        taken = take_in_call(module, lock, lambda msg, holder: module.fail_json(
            msg=msg, changed=False, refused=True, lock_refused=True, lock_taken=False, holder=holder))
        p["lock_path"], p["run_id"] = lock["path"], lock["run_id"]

    def refuse(msg, refused=True):
        if taken:
            release(lock["path"], lock["run_id"])
        module.fail_json(msg=msg, changed=False, refused=refused, lock_taken=False)
    return taken, refuse


def protected_backups(module, refuse):
    """O(protect) and what the release ledger still points at (read before anything is written)."""
    p = module.params
    protect = set(p["protect"])
    if p["ledger_path"]:
        warnings = []
        try:
            records = read_records(p["ledger_path"], warnings)
        except LedgerError as exc:
            refuse(str(exc))
        except OSError as exc:
            refuse("cannot read the release ledger %s: %s" % (p["ledger_path"], exc))
        warn_all(module, warnings)
        protect.update(ledger_protect(records, p["protect_releases"], p["backup_dir"]))
    return sorted(protect)


def main():
    argument_spec = connection_spec(
        source_database=dict(type="str"),
        backup_dir=dict(type="path", default="/var/lib/maverick-rollback/backups"),
        app=dict(type="str"),
        commit=dict(type="str"),
        format=dict(type="str", default="custom", choices=["custom", "directory"]),
        compress=dict(type="int", default=0),
        jobs=dict(type="int", default=2),
        verify=dict(type="str", default="list", choices=["list", "full"]),
        keep=dict(type="int", default=0),
        protect=dict(type="list", elements="path", default=[]),
        ledger_path=dict(type="path"),
        protect_releases=dict(type="int", default=5),
        allow_shared_backup_dir=dict(type="bool", default=False),
        allow_shared_option=dict(type="str", default="allow_shared_backup_dir"),
        maintenance_db=dict(type="str", default="postgres"),
        table_stats=dict(type="bool", default=True),
        exact_count_limit_mb=dict(type="int", default=EXACT_COUNT_LIMIT_MB),
        lock_path=dict(type="path"),
        run_id=dict(type="str"),
        lock=dict(type="dict", options=LOCK_REQUEST_SPEC),
        check_server=dict(type="bool", default=False),
        **SERVER_ARGUMENT_SPEC
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=[("lock_path", "run_id")],
                           mutually_exclusive=[("lock", "lock_path"), ("lock", "run_id")])
    # exit_json would add stat() fields of RV(path) and overwrite RV(size) with st_size, which
    # for a directory-format backup is the directory entry's size, not the backup's.
    module.add_path_info = lambda kwargs: kwargs
    p = module.params
    server = check_server(module, refused=True) if p["check_server"] else None
    os.umask(0o077)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    conn, env_file = module_connection(module)
    secrets = [conn["password"]]

    database = conn["database"]
    app = p["app"] or os.path.basename(os.path.normpath(p["project_dir"] or "")) or "app"
    source = p["source_database"] or database
    problems = [check_db_name(database) if database else missing_setting(conn, "database", "database", env_file),
                check_db_name(source or "", "source_database") if source else "", check_app_name(app)]
    if not conn["user"]:
        problems.append(missing_setting(conn, "user", "login_user", env_file))
    if not 0 <= p["compress"] <= 9:
        problems.append("compress must be 0-9, got %d" % p["compress"])
    if p["jobs"] < 1:
        problems.append("jobs must be at least 1")
    if p["keep"] < 0:
        problems.append("keep must be 0 (no pruning) or more")
    if p["protect_releases"] < 0:
        problems.append("protect_releases must be 0 or more")
    if p["exact_count_limit_mb"] < 0:
        problems.append("exact_count_limit_mb must be 0 (estimates only) or more")
    if p["format"] == "directory" and conn["via"] == "compose":
        problems.append("format=directory needs via=host: pg_dump -Fd in the container would write the "
                        "directory inside the container, and a directory cannot be streamed out; use "
                        "via=host (client tools on the host) or format=custom")
    problems = [x for x in problems if x]
    if problems:
        module.fail_json(msg="; ".join(problems))
    shared = trusted_backup_dir(module)
    taken, refuse = take_lock(module)
    protect = protected_backups(module, refuse)

    try:
        commit = short_commit(p["commit"] or git_head(module, p["project_dir"]) or "")
    except PgError as exc:
        refuse(exc.msg, refused=False)
    backup_dir = p["backup_dir"]
    when = datetime.datetime.now(datetime.timezone.utc)
    result = dict(changed=False, format=p["format"], commit=commit, removed=[], removed_partials=[], protected=protect,
                  lock_taken=taken)
    if server is not None:
        result.update(server=server, ansible_facts=user_facts())

    runner = None
    tmp = None
    try:
        ops, reason = open_ops(module, conn, secrets, tool="pg_dump", need_version=True)
        runner, conn = ops.runner, ops.conn
        result["via"] = conn["via"]
        if reason:
            result["via_reason"] = reason
        if p["format"] == "directory" and conn["via"] != "host":
            raise PgError("format=directory needs the host's client tools, and via=auto chose compose: %s" % reason)
        result["server_version"] = ops.server_version()[0]  # also proves the database answers
        result["repaired_connections"] = ops.refusing_connections(database)
        if result["repaired_connections"]:  # an interrupted swap refused them: pg_dump could not connect
            result["changed"] = True
            if not module.check_mode:
                ops.allow_connections(result["repaired_connections"])
        if not ops.exists(source):
            raise PgError("database %r does not exist on the server" % source)

        path = free_name(backup_dir, app, database, when, commit)
        result.update(path=path, manifest=manifest_path(path))
        if module.check_mode:
            pending = existing_backups(backup_dir, app, database)
            pending.append({"path": path, "stamp": "99999999T999999Z", "seq": 0, "verified": True})
            result["removed"] = select_for_removal(pending, p["keep"], protect)
            result["changed"] = True
            module.exit_json(**result)

        if not os.path.isdir(backup_dir):
            os.makedirs(backup_dir, 0o700)
            result["changed"] = True
        elif not shared and os.stat(backup_dir).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            module.warn("backup_dir %s is accessible to group/others (mode %o); backups inside are 0600"
                        % (backup_dir, stat.S_IMODE(os.stat(backup_dir).st_mode)))

        for partial in stale_partials(backup_dir, app, database):
            remove_path(partial)
            result["removed_partials"].append(partial)
            result["changed"] = True

        # The run that took the app lock stays alive while this dump works (heartbeat, worker);
        # if another run took the lock meanwhile, nothing is published under a good name.
        with held_while(p["lock_path"], p["run_id"]):
            before = ops.row_counts(source) if p["verify"] == "full" else None
            exact_limit = p["exact_count_limit_mb"] * 1024 * 1024
            tables = read_table_stats(module, ops, source, exact_limit) if p["table_stats"] else None
            started = time.monotonic()
            tmp = os.path.join(backup_dir, ".%s.partial-%d" % (os.path.basename(path), os.getpid()))
            if p["format"] == "custom":
                size, sha256 = runner.stream_out(pg_dump_argv(conn, source, "custom", p["compress"]), tmp)
            else:
                runner.check(pg_dump_argv(conn, source, "directory", p["compress"], p["jobs"], out=tmp))
                fsync_tree(tmp)
                size, sha256 = tree_size(tmp), sha256_path(tmp)
            if size == 0:
                raise PgError("pg_dump exited 0 but wrote nothing to %s" % tmp)

            info = detect_format(tmp)
            expected = "directory" if p["format"] == "directory" else "custom"
            if info["format"] != expected:
                raise PgError("the dump is %s, expected %s" % (info["format"], expected))
            toc = ops.archive_list(tmp, info)
            row_counts = None
            if p["verify"] == "full":
                after = ops.row_counts(source)
                row_counts = full_verify(ops, tmp, info, source, before, after, p["jobs"])

            if os.path.lexists(path):
                raise PgError("%s appeared while dumping; not overwriting it" % path)
            check_held(p["lock_path"], p["run_id"])
        os.rename(tmp, path)
        tmp = None
        fsync_dir(backup_dir)
        result["changed"] = True
        duration = round(time.monotonic() - started, 3)

        tools = {"pg_dump": parse_tool_version(toc["pg_dump_version"] or "")}
        try:
            tools["pg_restore"] = ops.tool_version("pg_restore")
        except PgError:
            tools["pg_restore"] = None
        manifest = build_manifest(
            app=app, database=database, path=path, format=p["format"], compression=p["compress"] or None,
            size=size, sha256=sha256, table_count=toc["table_count"], toc_entries=toc["toc_entries"],
            server_version=toc["server_version"] or result["server_version"], commit=commit,
            created_at=iso(when), verified=True, verification=p["verify"], row_counts=row_counts,
            tools=tools, via=conn["via"], source_database=source if source != database else None,
            tables=tables, tables_exact_limit=exact_limit)
        write_manifest(manifest_path(path), manifest)

        for old in select_for_removal(existing_backups(backup_dir, app, database), p["keep"], protect):
            remove_path(manifest_path(old))
            remove_path(old)
            result["removed"].append(old)
        if result["removed"]:
            fsync_dir(backup_dir)

        result.update(size=size, sha256=sha256, table_count=toc["table_count"], toc_entries=toc["toc_entries"],
                      verified=True, verification=p["verify"], duration_s=duration,
                      server_version=manifest["server_version"],
                      max_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1))
        if row_counts is not None:
            result["row_counts"] = row_counts
        if tables is not None:
            result["tables"] = tables
    except (PgError, Interrupted, OSError, RunLockLost) as exc:
        msg = exc.msg if isinstance(exc, PgError) else str(exc)
        if tmp:
            if os.path.lexists(tmp):
                remove_path(tmp)
            if "removed" not in msg:
                msg += " (partial backup removed)"
        if not module.check_mode and not os.path.lexists(result.get("path") or ""):
            result.pop("path", None)  # no backup under a good name: do not return one
            result.pop("manifest", None)
        module.fail_json(msg=mask_text(msg, secrets), **result)
    finally:
        if tmp and os.path.lexists(tmp):
            remove_path(tmp)
        if runner:
            runner.close()
    module.exit_json(**result)


def read_table_stats(module, ops, database, exact_limit):
    """Rows, size and primary key per table for the manifest; a warning and None when unreadable
    (the backup itself does not depend on them)."""
    try:
        return ops.table_stats(database, exact_limit)
    except PgError as exc:
        module.warn("per-table row counts were not recorded in the manifest (a restore cannot say what it would "
                    "set aside): %s" % exc.msg)
        return None


def full_verify(ops, path, info, database, before, after, jobs):
    """Restore into <db>_verify_<ts>, compare row counts with the live ones, always drop it."""
    scratch = derived_db_name(database, "verify", datetime.datetime.now(datetime.timezone.utc))
    ops.create_database(scratch, ops.db_info(database))
    try:
        ops.restore(path, info, scratch, jobs=jobs)
        restored = ops.row_counts(scratch)
    finally:
        ops.drop_database(scratch)
    problems = compare_row_counts(before, restored, after)
    if problems:
        raise PgError("full verification failed: the restored copy differs from the live database: %s"
                      % "; ".join(problems[:10]))
    return restored


if __name__ == "__main__":
    main()
