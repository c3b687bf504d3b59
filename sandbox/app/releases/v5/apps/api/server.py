"""LifeTracker API: a small JSON API over the PostgreSQL database.

Connects to the database per request (short timeout), so it starts and answers /health
even while the database is down. It never changes the schema: migrations are deployed
separately with `prisma migrate deploy` (packages/core).
"""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import psycopg2.extras

COMMIT = os.environ.get("APP_COMMIT", "unknown")
DATABASE_URL = os.environ.get("DATABASE_URL", "")
PORT = int(os.environ.get("PORT", "3000"))
DB_CONNECT_TIMEOUT = 2  # seconds; /health must answer quickly when the DB is gone


def connect():
    return psycopg2.connect(DATABASE_URL, connect_timeout=DB_CONNECT_TIMEOUT)


def query(sql, params=()):
    """Run one statement in its own transaction and return the rows as dicts."""
    conn = connect()
    try:
        with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


ENTRY_COLUMNS = '"id", "title", "mood", "created_at"'


def entry_json(row):
    return {
        "id": row["id"],
        "title": row["title"],
        "mood": row["mood"],
        "created_at": row["created_at"].isoformat(),
    }


class Handler(BaseHTTPRequestHandler):
    server_version = "lifetracker-api"

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        # One line per request, on stdout (the default is stderr).
        print("%s %s" % (self.address_string(), fmt % args), flush=True)

    def handle_route(self, routes):
        handler = routes.get(self.path.split("?", 1)[0])
        if handler is None:
            return self.send_json(404, {"error": "not found"})
        try:
            handler(self)
        except psycopg2.OperationalError as exc:
            self.log_error("database unavailable: %s", str(exc).strip())
            self.send_json(503, {"error": "database unavailable"})
        except Exception as exc:  # noqa: BLE001 - report any bug as a 500, keep serving
            self.log_error("internal error: %r", exc)
            self.send_json(500, {"error": "internal server error", "commit": COMMIT})

    def do_GET(self):
        self.handle_route({"/health": health, "/entries": list_entries, "/tags": list_tags})

    def do_POST(self):
        self.handle_route({"/entries": create_entry})


def health(req):
    try:
        query("SELECT 1")
        database = "ok"
    except psycopg2.Error:
        database = "unreachable"
    if database == "ok":
        req.send_json(200, {"status": "ok", "commit": COMMIT, "database": database})
    else:
        req.send_json(503, {"status": "degraded", "commit": COMMIT, "database": database})


def list_entries(req):
    rows = query(f'SELECT {ENTRY_COLUMNS} FROM "Entry" ORDER BY "id"')
    req.send_json(200, [entry_json(r) for r in rows])


def list_tags(req):
    rows = query('SELECT "id", "label" FROM "Tag" ORDER BY "label"')
    req.send_json(200, [{"id": r["id"], "label": r["label"]} for r in rows])


def read_json(req):
    length = int(req.headers.get("Content-Length") or 0)
    try:
        body = json.loads(req.rfile.read(length) or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def create_entry(req):
    body = read_json(req)
    title = body.get("title") if body else None
    mood = body.get("mood") if body else None
    if not isinstance(title, str) or not title.strip():
        return req.send_json(400, {"error": 'expected JSON {"title": "...", "mood": 1-5}'})
    if mood is not None and (type(mood) is not int or not 1 <= mood <= 5):
        return req.send_json(400, {"error": "mood must be an integer from 1 to 5"})
    rows = query(
        f'INSERT INTO "Entry" ("title", "mood") VALUES (%s, %s) RETURNING {ENTRY_COLUMNS}',
        (title.strip(), mood),
    )
    req.send_json(201, entry_json(rows[0]))


def main():
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.daemon_threads = True  # don't wait for open requests on exit

    # As PID 1 in the container, SIGTERM is ignored unless handled: exit at once, so
    # `docker compose stop` doesn't wait 10 s for its SIGKILL.
    def stop(signum, frame):
        print("received signal %d, exiting" % signum, flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("lifetracker-api commit %s listening on :%d" % (COMMIT, PORT), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
