"""A scripted /health endpoint on loopback for the health gate's tests (health_probe, release_switch gate)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class App:
    """A /health endpoint answering from a script (status, body); the last entry repeats."""

    def __init__(self, script):
        self.script, self.served = script, 0
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                status, body = app.script[min(app.served, len(app.script) - 1)]
                app.served += 1
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/health" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
