"""Database access shared by the app and the worker.

Connection settings come from the environment (LEDGERLY_DB_*, see docker-compose.yml).
The schema is plain SQL under schema/, NNN_name.sql, applied in order by apply_schema()
and recorded in the table schema_version.
"""

import os
import re
from pathlib import Path

import psycopg2

BUILD_SHA = os.environ.get("LEDGERLY_BUILD_SHA", "unknown")
CONNECT_TIMEOUT = 2  # seconds: /status must answer quickly while the database is down
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
SCHEMA_FILE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
SCHEMA_LOCK = 7_405_301  # pg_advisory_xact_lock key: one schema writer at a time


def connect(application_name):
    """A new connection; application_name shows up in pg_stat_activity."""
    return psycopg2.connect(
        host=os.environ.get("LEDGERLY_DB_HOST", "pg"),
        port=int(os.environ.get("LEDGERLY_DB_PORT", "5432")),
        user=os.environ["LEDGERLY_DB_USER"],
        password=os.environ["LEDGERLY_DB_PASS"],
        dbname=os.environ["LEDGERLY_DB_NAME"],
        connect_timeout=CONNECT_TIMEOUT,
        application_name=application_name,
    )


def first_line(exc):
    """The first line of an error message, for one-line logs."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def schema_files():
    """[(version, file name, path)] of this release's schema files, in order."""
    found = []
    for path in sorted(SCHEMA_DIR.iterdir()):
        match = SCHEMA_FILE.match(path.name)
        if match:
            found.append((int(match.group(1)), path.name, path))
    return found


def apply_schema(conn):
    """Apply the schema files the database has not recorded yet, one transaction each.

    Idempotent. Versions recorded by a newer release are left alone, so an older release
    runs on a newer (compatible) schema. Returns the names of the files applied.
    """
    applied = []
    for version, name, path in schema_files():
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version integer PRIMARY KEY,"
                " name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur.execute("SELECT 1 FROM schema_version WHERE version = %s", (version,))
            if cur.fetchone():
                continue
            cur.execute(path.read_text())
            cur.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)", (version, name))
            applied.append(name)
    return applied


def schema_version(cur):
    """Highest schema version recorded in the database (None before the first)."""
    cur.execute("SELECT max(version) FROM schema_version")
    return cur.fetchone()[0]
