"""Ledgerly worker: a background process that writes a heartbeat row every second.

Keeps one database connection open (like a job runner would) and reconnects when it is
lost. Until the app has applied the schema, the heartbeat fails and is retried.
"""

import signal
import socket
import sys
import time

import psycopg2

from ledgerly import db

INTERVAL = 1.0  # seconds between heartbeats
WORKER = socket.gethostname()
BEAT = (
    "INSERT INTO worker_heartbeat (worker, build) VALUES (%s, %s)"
    " ON CONFLICT (worker) DO UPDATE"
    " SET build = EXCLUDED.build, beats = worker_heartbeat.beats + 1, beat_at = now()"
)


def log(message):
    print("ledgerly-worker: %s" % message, flush=True)


def beat(conn):
    with conn, conn.cursor() as cur:
        cur.execute(BEAT, (WORKER, db.BUILD_SHA))


def run():
    conn, last_error = None, None
    while True:
        try:
            if conn is None:
                conn = db.connect("ledgerly-worker")
            beat(conn)
            if last_error:
                log("heartbeat back")
            last_error = None
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            error = "database unreachable: %s" % db.first_line(exc)
            if conn is not None:
                conn.close()
            conn = None
            if error != last_error:
                log(error)
            last_error = error
        except psycopg2.Error as exc:  # e.g. the table does not exist yet
            error = "heartbeat failed: %s" % db.first_line(exc)
            if error != last_error:
                log(error)
            last_error = error
        time.sleep(INTERVAL)


def main():
    def stop(signum, _frame):
        log("signal %d, exiting" % signum)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log("build %s, worker %s" % (db.BUILD_SHA, WORKER))
    run()


if __name__ == "__main__":
    main()
