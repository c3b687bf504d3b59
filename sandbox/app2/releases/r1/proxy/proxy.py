"""Ledgerly's front proxy: forwards each request to UPSTREAM (host:port) and relays the
answer, adding a Via header. 502 when the upstream cannot be reached.
"""

import http.client
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = 8080
UPSTREAM_HOST, UPSTREAM_PORT = os.environ.get("UPSTREAM", "app:8000").rsplit(":", 1)
TIMEOUT = 15  # seconds
# Not relayed: per-connection headers, and those this server sets itself.
SKIP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection",
                "te", "trailer", "content-length", "server", "date"}


def relayed(headers):
    return [(k, v) for k, v in headers if k.lower() not in SKIP_HEADERS]


class Proxy(BaseHTTPRequestHandler):
    server_version = "ledgerly-proxy"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        print("%s %s" % (self.address_string(), format % args), flush=True)

    def fetch(self):
        """(status, headers, body) from the upstream."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(UPSTREAM_HOST, int(UPSTREAM_PORT), timeout=TIMEOUT)
        try:
            conn.request(self.command, self.path, body=body, headers=dict(relayed(self.headers.items())))
            resp = conn.getresponse()
            return resp.status, relayed(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def forward(self):
        try:
            status, headers, data = self.fetch()
        except OSError as exc:
            self.log_error("upstream %s:%s: %s", UPSTREAM_HOST, UPSTREAM_PORT, exc)
            status, headers, data = 502, [("Content-Type", "text/plain")], b"bad gateway\n"
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Via", "1.1 ledgerly-proxy")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward


def main():
    def stop(signum, _frame):
        print("ledgerly-proxy: signal %d, exiting" % signum, flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Proxy)
    server.daemon_threads = True
    print("ledgerly-proxy: :%d -> %s:%s" % (PORT, UPSTREAM_HOST, UPSTREAM_PORT), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
