"""Ledgerly HTTP API: journal entries over PostgreSQL, health at /status.

Starts serving at once, even while the database is down; a background thread applies
the schema (ledgerly.db.apply_schema) as soon as the database answers. Every request
opens its own short-lived connection.
"""

import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import psycopg2.extras

from ledgerly import db

PORT = 8000
BUILD = {"commit": db.BUILD_SHA}
SCHEMA = {"ready": False, "error": None}  # written by the schema thread only


def log(message):
    print("ledgerly-app: %s" % message, flush=True)


def query(sql, params=()):
    """Run one statement in its own transaction; rows as dicts."""
    conn = db.connect("ledgerly-app")
    try:
        with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def keep_applying_schema():
    """Apply the schema once the database answers; retry until it worked."""
    last = None
    while True:
        try:
            conn = db.connect("ledgerly-app")
            try:
                applied = db.apply_schema(conn)
            finally:
                conn.close()
        except psycopg2.OperationalError as exc:
            SCHEMA["error"] = None
            message, pause = "database not reachable yet: %s" % db.first_line(exc), 1
        except psycopg2.Error as exc:
            SCHEMA["error"] = db.first_line(exc)
            message, pause = "applying failed: %s" % SCHEMA["error"], 5
        else:
            log("schema: applied %s" % (", ".join(applied) or "nothing (up to date)"))
            SCHEMA["ready"] = True
            return
        if message != last:
            log("schema: " + message)
        last = message
        time.sleep(pause)


class Handler(BaseHTTPRequestHandler):
    server_version = "ledgerly-app"

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        print("%s %s" % (self.address_string(), format % args), flush=True)

    def handle_route(self, routes):
        handler = routes.get(self.path.split("?", 1)[0])
        if handler is None:
            self.send_json(404, {"error": "not found"})
            return
        try:
            handler(self)
        except psycopg2.OperationalError as exc:
            self.log_error("database unavailable: %s", str(exc).strip())
            self.send_json(503, {"state": "degraded", "build": BUILD, "db": "unreachable"})
        except Exception as exc:  # pylint: disable=broad-except  # any bug is a 500; keep serving
            self.log_error("internal error: %r", exc)
            self.send_json(500, {"state": "error", "build": BUILD, "error": "internal server error"})

    def do_GET(self):  # pylint: disable=invalid-name
        self.handle_route(GET_ROUTES)

    def do_POST(self):  # pylint: disable=invalid-name
        self.handle_route(POST_ROUTES)


def status(req):
    """200 when the database answers and the schema is applied; 503 otherwise."""
    if SCHEMA["error"]:
        req.send_json(500, {"state": "error", "build": BUILD, "db": "ok", "error": SCHEMA["error"]})
        return
    if not SCHEMA["ready"]:
        query("SELECT 1")  # a connection failure becomes 503 "unreachable" in handle_route
        req.send_json(503, {"state": "starting", "build": BUILD, "db": "ok"})
        return
    version = query("SELECT max(version) AS version FROM schema_version")[0]["version"]
    req.send_json(200, {"state": "up", "build": BUILD, "db": "ok", "schema": version})


def read_json(req):
    length = int(req.headers.get("Content-Length") or 0)
    try:
        body = json.loads(req.rfile.read(length) or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def entry_json(row):
    return {
        "id": row["id"],
        "memo": row["memo"],
        "amount_cents": row["amount_cents"],
        "created_at": row["created_at"].isoformat(),
    }


def list_entries(req):
    rows = query("SELECT id, memo, amount_cents, created_at FROM entries ORDER BY id")
    req.send_json(200, [entry_json(r) for r in rows])


def create_entry(req):
    body = read_json(req)
    memo, amount = body.get("memo"), body.get("amount_cents")
    if not isinstance(memo, str) or not memo.strip() or not is_int(amount):
        req.send_json(400, {"error": 'expected JSON {"memo": "...", "amount_cents": 1250}'})
        return
    rows = query(
        "INSERT INTO entries (memo, amount_cents) VALUES (%s, %s)"
        " RETURNING id, memo, amount_cents, created_at",
        (memo.strip(), amount),
    )
    req.send_json(201, entry_json(rows[0]))


GET_ROUTES = {"/status": status, "/entries": list_entries}
POST_ROUTES = {"/entries": create_entry}


def main():
    # As PID 1, SIGTERM is ignored unless handled: exit at once on stop.
    def stop(signum, _frame):
        log("signal %d, exiting" % signum)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=keep_applying_schema, daemon=True).start()
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.daemon_threads = True
    log("build %s listening on :%d" % (db.BUILD_SHA, PORT))
    server.serve_forever()


if __name__ == "__main__":
    main()
