# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run PostgreSQL client tools for pg_backup and pg_restore.

One place builds the full argument list (host tools, or `docker compose exec -T` into
the database service), the environment (LC_ALL=C, passwords through a 0600 pgpass
file or an environment variable passed to docker by name only) and runs the tool:
captured for small outputs, streamed for dumps (to a file while hashing it, or from a
file, gunzipping on the way) so memory stays flat whatever the database size.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import zlib

from ansible_collections.maverick.rollback.plugins.module_utils._pg import (
    CHUNK, START_CAUSES, PgError, allow_connections_sql, compose_prefix,
    refusing_connections_sql, count_command_tags, create_database_sql, database_info_full_sql,
    database_listing_sql, failure_cause, parse_database_listing,
    drop_database_sql, existing_sql, list_databases_sql, parse_row_counts, parse_swap_output,
    parse_table_stats, table_stats_sql, parse_toc,
    major_version, parse_tool_version, pg_restore_argv, pg_restore_list_argv, pg_restore_read_argv, psql_argv,
    restore_plan, swap_script, terminate_sql, tool_failure, tool_judged_input, ROW_COUNTS_SQL, SERVER_VERSION_SQL,
    TABLE_COUNT_SQL)

F_SETPIPE_SZ = 1031  # Linux; fcntl.F_SETPIPE_SZ exists from Python 3.10 only


def _grow_pipe(fd):
    """Ask for a 1 MiB pipe buffer (fewer wake-ups); harmless when refused."""
    try:
        import fcntl
        fcntl.fcntl(fd, F_SETPIPE_SZ, CHUNK)
    except (ImportError, OSError):
        pass


def _read_tail(handle, size=16384):
    handle.flush()
    handle.seek(0, os.SEEK_END)
    end = handle.tell()
    handle.seek(max(0, end - size))
    return handle.read().decode("utf-8", "replace")


def pgpass_line(password):
    """A ~/.pgpass line matching any host, port, database and user."""
    return "*:*:*:*:%s\n" % password.replace("\\", "\\\\").replace(":", "\\:")


TMP_PREFIX = "maverick-pg-"  # + <pid>-: the 0700 directory of a run's pgpass file and captured output
_TMP_DIR = re.compile(r"\A%s(?P<pid>[0-9]+)-" % re.escape(TMP_PREFIX))


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def remove_stale_tmpdirs(alive=pid_alive):
    """Remove the temporary directories (with their 0600 pgpass file) of runs that are gone.

    Only a SIGKILL leaves one behind (every other exit removes it); the pid in the name
    says whose it is. Our own user's directories only. Returns the paths removed."""
    base = tempfile.gettempdir()
    removed = []
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return removed
    for entry in entries:
        match = _TMP_DIR.match(entry)
        path = os.path.join(base, entry)
        if not match or int(match.group("pid")) == os.getpid() or alive(int(match.group("pid"))):
            continue
        try:
            if os.lstat(path).st_uid != os.getuid() or os.path.islink(path):
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


class Runner:
    """Runs one client tool at a time for a resolved connection (see _pg.resolve_connection).

    conn: dict from resolve_connection. docker: path of the docker CLI (compose mode).
    which: callable name -> path or None for host tools. secrets: strings masked in
    every message.
    """

    def __init__(self, conn, docker=None, which=shutil.which, secrets=(), note=""):
        self.conn = conn
        self.note = note  # why via=auto chose this path, said first in its failures
        self.docker = docker
        self.which = which
        self.secrets = [s for s in secrets if s]
        self.tmpdir = None
        if conn["via"] != "host" and not docker:
            raise PgError("via: compose needs the docker CLI (with the compose plugin) on the host "
                          "(apt-get install docker.io docker-compose-plugin)", cause="no_docker")
        self.tmpdir = tempfile.mkdtemp(prefix="%s%d-" % (TMP_PREFIX, os.getpid()))  # 0700
        self.env = dict(os.environ)
        self.env.update({"LC_ALL": "C", "LANG": "C", "PGCONNECT_TIMEOUT": "10",
                         "PGAPPNAME": "maverick.rollback"})
        self.container_env = {}
        self.env_names = []
        password = conn.get("password")
        if conn["via"] == "host":
            if password:
                passfile = os.path.join(self.tmpdir, "pgpass")
                fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(pgpass_line(password))
                self.env["PGPASSFILE"] = passfile
                self.env.pop("PGPASSWORD", None)
        else:
            self.container_env = {"LC_ALL": "C", "PGCONNECT_TIMEOUT": "10", "PGAPPNAME": "maverick.rollback"}
            if password:
                # Local socket auth is usually trust in the container; when it is not,
                # docker passes the value from its own environment (-e NAME, no value).
                self.env["PGPASSWORD"] = password
                self.env_names = ["PGPASSWORD"]

    def close(self):
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    # ------------------------------------------------------------------ argv

    def label(self, tool_argv, started=True):
        """'psql (host, 127.0.0.1:5433)'; without the address when the tool never started."""
        if self.conn["via"] == "host":
            if not started:
                return "%s (host)" % tool_argv[0]
            return "%s (host, %s:%s)" % (tool_argv[0], self.conn["host"], self.conn["port"])
        return "%s (docker compose exec %s)" % (tool_argv[0], self.conn["service"])

    def full_argv(self, tool_argv):
        if self.conn["via"] == "host":
            path = self.which(tool_argv[0])
            if not path:
                raise PgError("%s not found on the host: install the PostgreSQL client tools (apt-get install "
                              "postgresql-client) or use via: compose" % tool_argv[0], cause="no_tool")
            return [path] + list(tool_argv[1:])
        return compose_prefix(self.docker, self.conn, self.env_names, self.container_env) + list(tool_argv)

    def failure(self, tool_argv, rc, stderr, suffix=""):
        """PgError for a failed tool: exit code, real cause, last stderr lines (and why this path).

        details: rc, cause (see _pg.FAILURE_CAUSES), judged (the tool ran and rejected its input)."""
        cause = failure_cause(stderr)[0]
        label = self.label(tool_argv, started=cause not in START_CAUSES)
        msg = tool_failure(label, rc, stderr, self.secrets) + suffix
        if self.note:
            msg = "%s, and %s" % (self.note, msg)
        return PgError(msg, rc=rc, cause=cause, judged=tool_judged_input(tool_argv[0], stderr))

    def fail(self, tool_argv, rc, stderr):
        return self.failure(tool_argv, rc, stderr)

    # ------------------------------------------------------------------ running

    def run(self, tool_argv, data=None):
        """Run to completion with small input/output. Returns (rc, stdout, stderr) as text."""
        try:
            proc = subprocess.run(self.full_argv(tool_argv), input=data.encode() if data is not None else None,
                                  stdin=None if data is not None else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env, check=False)
        except OSError as exc:
            raise PgError("cannot start %s: %s" % (self.label(tool_argv), exc), cause="cannot_start")
        return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")

    def check(self, tool_argv, data=None):
        rc, out, err = self.run(tool_argv, data)
        if rc != 0:
            raise self.fail(tool_argv, rc, err)
        return out

    def stream_out(self, tool_argv, dest):
        """Run the tool with stdout written to dest (created 0600, must not exist).

        sha256 is computed while writing; memory stays at one block. The file is
        fsynced. On any failure (tool exit code, write error such as ENOSPC, signal)
        the tool is killed, dest is removed and PgError raised. Returns (size, sha256).
        """
        digest = hashlib.sha256()
        size = 0
        done = False
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        err = tempfile.TemporaryFile(dir=self.tmpdir)
        proc = None
        try:
            try:
                proc = subprocess.Popen(self.full_argv(tool_argv), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=err, env=self.env)
            except OSError as exc:
                raise PgError("cannot start %s: %s" % (self.label(tool_argv), exc), cause="cannot_start")
            src = proc.stdout.fileno()
            _grow_pipe(src)
            while True:
                block = os.read(src, CHUNK)
                if not block:
                    break
                digest.update(block)
                view = memoryview(block)
                try:
                    while view:
                        view = view[os.write(fd, view):]
                    size += len(block)
                except OSError as exc:
                    raise PgError("writing %s failed after %d bytes: %s; stopped %s and removed the partial file"
                                  % (dest, size, exc.strerror or exc, self.label(tool_argv)))
            rc = proc.wait()
            if rc != 0:
                raise self.failure(tool_argv, rc, _read_tail(err), " (partial file removed)")
            try:
                os.fsync(fd)
            except OSError as exc:
                raise PgError("fsync of %s failed: %s" % (dest, exc.strerror or exc))
            done = True
            return size, digest.hexdigest()
        finally:
            if proc is not None:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
            os.close(fd)
            err.close()
            if not done and os.path.exists(dest):
                os.unlink(dest)

    def stream_in(self, tool_argv, src, gunzip=False):
        """Run the tool with src streamed on its stdin (gunzipped when asked).

        If the source cannot be read to its end the tool is killed first, so a
        `psql --single-transaction` never commits a partial script. Returns the
        tool's stdout as an open temporary file (caller closes it).
        """
        out = tempfile.TemporaryFile(dir=self.tmpdir)
        err = tempfile.TemporaryFile(dir=self.tmpdir)
        proc = None
        finished = False
        try:
            try:
                proc = subprocess.Popen(self.full_argv(tool_argv), stdin=subprocess.PIPE, stdout=out,
                                        stderr=err, env=self.env)
            except OSError as exc:
                raise PgError("cannot start %s: %s" % (self.label(tool_argv), exc), cause="cannot_start")
            _grow_pipe(proc.stdin.fileno())
            opener = gzip.open if gunzip else open
            try:
                with opener(src, "rb") as handle:
                    while True:
                        block = handle.read(CHUNK)
                        if not block:
                            break
                        try:
                            proc.stdin.write(block)
                        except BrokenPipeError:
                            break  # the tool stopped reading: its exit code says why
            except (OSError, EOFError, zlib.error) as exc:
                proc.kill()
                proc.wait()
                raise PgError("reading %s failed: %s; stopped %s before it could commit anything"
                              % (src, exc or type(exc).__name__, self.label(tool_argv)), judged=True)
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
            rc = proc.wait()
            if rc != 0:
                raise self.failure(tool_argv, rc, _read_tail(err))
            finished = True
            out.seek(0)
            return out
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            err.close()
            if not finished:
                out.close()


class PgOps:
    """Database-level operations on one server through a Runner."""

    def __init__(self, runner):
        self.runner = runner
        self.conn = runner.conn
        self._version = None

    # ------------------------------------------------------------------ SQL

    def sql(self, sql, database=None, tuples=True):
        argv = psql_argv(self.conn, database or self.conn["maintenance_db"], tuples=tuples)
        return self.runner.check(argv, data=sql)

    def server_version(self):
        if self._version is None:
            out = self.sql(SERVER_VERSION_SQL).strip().split("\t")
            if len(out) != 2 or not out[1].isdigit():
                raise PgError("unexpected answer to SHOW server_version: %r" % "\t".join(out))
            self._version = (out[0], int(out[1]))
        return self._version

    def db_info(self, name):
        out = self.sql(database_info_full_sql(name)).strip()
        return json.loads(out) if out else None

    def existing(self, *names):
        """The subset of names that exist as databases (one query)."""
        return set(line for line in self.sql(existing_sql(names)).splitlines() if line)

    def exists(self, name):
        return name in self.existing(name)

    def list_derived(self, database):
        return [line for line in self.sql(list_databases_sql(database)).splitlines() if line]

    def database_listing(self, database):
        """The live database and every `<database>_*` one (see _pg.database_listing_sql)."""
        return parse_database_listing(self.sql(database_listing_sql(database)), database)

    def create_database(self, name, like=None):
        self.sql(create_database_sql(name, like))

    def drop_database(self, name):
        num = self.server_version()[1]
        self.sql(terminate_sql([name], server_num=num) + drop_database_sql(name, num))

    def table_count(self, database):
        return int(self.sql(TABLE_COUNT_SQL, database).strip() or 0)

    def row_counts(self, database):
        return parse_row_counts(self.sql(ROW_COUNTS_SQL, database))

    def table_stats(self, database, exact_limit):
        """Rows (exact under exact_limit bytes, else estimated), size and primary key of every table."""
        return parse_table_stats(self.sql(table_stats_sql(exact_limit), database))

    def refusing_connections(self, database):
        """The live database and its `<database>_*` copies with datallowconn off."""
        return [line for line in self.sql(refusing_connections_sql(database)).splitlines() if line]

    def allow_connections(self, names):
        if names:
            self.sql(allow_connections_sql(names))

    def allow_again(self, *names):
        """After a swap that did not finish: allow connections again on those of names that refuse
        them. SIGTERM/SIGINT wait until this is done. Returns the names repaired ([] if it failed)."""
        blocked = {signal.SIGTERM, signal.SIGINT}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            stuck = [n for n in self.refusing_connections(names[0]) if n in names]
            self.allow_connections(stuck)
            return stuck
        except PgError:
            return []
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def rename_pair(self, live, replacement, old):
        """live -> old and replacement -> live in one transaction (see _pg.swap_script).

        One psql session: new connections refused, sessions ended, both renames or
        none, connections allowed again. Raises PgError when the names did not end up
        swapped (then nothing was renamed). On every other exit (psql killed, the
        connection lost, a signal) connections are allowed again before it returns.
        """
        argv = psql_argv(self.conn, self.conn["maintenance_db"], tuples=True, stop_on_error=False)
        try:
            rc, out, err = self.runner.run(argv, data=swap_script(live, replacement, old))
        except Exception as exc:  # Interrupted by a signal, psql not started
            repaired = self.allow_again(live, replacement, old)
            raise PgError("%s during the swap of %s and %s%s" % (getattr(exc, "msg", exc), live, replacement,
                                                                 _repaired_note(repaired)))
        exists, failure = parse_swap_output(out, err)
        if rc == 0 and live in exists and replacement not in exists:
            return
        note = _repaired_note(self.allow_again(live, replacement, old))
        if rc != 0 and not failure:
            error = self.runner.fail(argv, rc, err)
            raise PgError(error.msg + note, **error.details)
        raise PgError("could not swap %s and %s: %s; names now: %s%s" % (
            live, replacement, failure or "unknown reason", ", ".join(sorted(exists)) or "none of them", note))

    # ------------------------------------------------------------------ archives

    def _archive_call(self, argv_for, info, path):
        """Run pg_restore (list/read) on an archive: by path on the host, else streamed."""
        plan = restore_plan(self.conn["via"], info["format"], info.get("compression"), 1)
        if plan["feed"] == "path":
            return self.runner.check(argv_for(path))
        with self.runner.stream_in(argv_for(None), path, gunzip=plan["gunzip"]) as out:
            return out.read().decode("utf-8", "replace")

    def archive_list(self, path, info):
        """Parsed `pg_restore --list` of an archive (custom, tar or directory)."""
        return parse_toc(self._archive_call(pg_restore_list_argv, info, path))

    def archive_read(self, path, info):
        """Read every data block of the archive (pg_restore -f /dev/null): catches truncation."""
        self._archive_call(pg_restore_read_argv, info, path)

    def tool_version(self, tool):
        return parse_tool_version(self.runner.check([tool, "--version"]))

    # ------------------------------------------------------------------ restore

    def restore(self, path, info, target, jobs=1, no_owner=True, no_privileges=False):
        """Restore a verified backup into the existing, empty database target.

        Returns dict: tool, jobs, note, objects ({type or command tag: n}),
        objects_total, rows_copied (plain SQL only).
        """
        plan = restore_plan(self.conn["via"], info["format"], info.get("compression"), jobs)
        result = {"tool": plan["tool"], "jobs": plan["jobs"], "note": plan["note"], "rows_copied": None}
        if plan["tool"] == "psql":
            argv = psql_argv(self.conn, target, single_transaction=True)
            with self.runner.stream_in(argv, path, gunzip=plan["gunzip"]) as out:
                objects, rows = count_command_tags(line.decode("utf-8", "replace") for line in out)
            result.update(objects=objects, rows_copied=rows)
        else:
            toc = info.get("toc") or self.archive_list(path, info)
            if plan["feed"] == "path":
                argv = pg_restore_argv(self.conn, target, plan["jobs"], no_owner, no_privileges, src=path)
                self.runner.check(argv)
            else:
                argv = pg_restore_argv(self.conn, target, 1, no_owner, no_privileges)
                self.runner.stream_in(argv, path, gunzip=plan["gunzip"]).close()
            result["objects"] = dict(toc["types"])
        result["objects_total"] = sum(result["objects"].values())
        return result


def _repaired_note(names):
    return "; allowed connections again on %s" % ", ".join(names) if names else ""


def open_ops(module, conn, secrets, tool="psql", need_version=False):
    """PgOps on a Runner for conn. via=auto takes the host's tool when it fits, else compose.

    The host's tool fits when it is on PATH, (need_version) its major version is at
    least the server's, and the server answers at login_host:login_port. Returns (ops,
    reason compose was chosen or None); the reason also leads every failure of the
    compose path ("no psql on the host, and psql (docker compose exec postgres) failed:
    the compose service postgres is not running"). The ops returned keep the server
    version read here (no second query).
    """
    which = module.get_bin_path
    if not getattr(module, "check_mode", False):
        remove_stale_tmpdirs()
    if conn["via"] != "auto":
        docker = which("docker") if conn["via"] == "compose" else None
        return PgOps(Runner(conn, docker=docker, which=which, secrets=secrets)), None
    reason = "no %s on the host" % tool
    if which(tool):
        host = Runner(dict(conn, via="host"), which=which, secrets=secrets)
        fits = False
        try:
            ops = PgOps(host)
            fits, reason = _host_fits(ops, tool, need_version)
            if fits:
                return ops, None
        finally:
            if not fits:
                host.close()  # also on an unexpected error: its pgpass file goes with it
    docker = which("docker")
    if not docker:
        raise PgError("%s, and no docker CLI for docker compose exec (apt-get install docker.io "
                      "docker-compose-plugin)" % reason, cause="no_docker")
    return PgOps(Runner(dict(conn, via="compose"), docker=docker, which=which, secrets=secrets, note=reason)), reason


def _host_fits(ops, tool, need_version):
    """(True, None) when the host's tool reaches the server and (need_version) is at least its major
    version, else (False, why not)."""
    try:
        client = parse_tool_version(ops.runner.check([tool, "--version"])) if need_version else None
        server, server_num = ops.server_version()
    except PgError as exc:
        trouble = "cannot start" if exc.details.get("cause") in START_CAUSES else "cannot reach the server"
        return False, "the host's %s %s: %s" % (tool, trouble, exc.msg)
    if not need_version:
        return True, None
    major = major_version(client)
    if major is None:
        return False, "cannot read the version of the host's %s (%r)" % (tool, client)
    if major >= server_num // 10000:
        return True, None
    return False, "%s %s on the host is older than the server (%s)" % (tool, client, server.split(" ")[0])
