"""quick_rollback with the maverick.rollback.notify callback enabled, against a
webhook receiver on 127.0.0.1 on the controller (started here, payloads to a file).

Runs after test_quick_rollback.py (file order) and sets up the state each test
needs itself: refusal (unknown commit), success (-> v2, kept images), automatic
revert (v3 fails its health gate), a run with the receiver down (-> v1: rc 0,
healthy), and last a run killed with SIGTERM once it holds the app lock.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import APP_DIR, PROJECT_DIR, app_env, health, playbook_command, run_playbook

PLAYBOOK = "playbooks/quick_rollback.yml"
STATE = "/var/lib/maverick-rollback/lifetracker"
LOCK = STATE + "/lock"
TOKEN = "T0KEN-in-the-webhook-path"
SCHEMA_AHEAD = ("-e", "app_rollback_allow_schema_ahead=true")


class _Receiver(BaseHTTPRequestHandler):
    out = ""

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(type(self).out, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"path": self.path, "payload": json.loads(body)}) + "\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    out = tmp_path_factory.mktemp("notify") / "payloads.jsonl"
    out.touch()
    handler = type("Receiver", (_Receiver,), {"out": str(out)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield out, "http://127.0.0.1:%d/hook/%s" % (server.server_address[1], TOKEN)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def notify(receiver, monkeypatch):
    """Enable the callback for the runs of one test; returns a reader of the
    payloads that arrived during that test."""
    out, url = receiver
    monkeypatch.setenv("ANSIBLE_CALLBACKS_ENABLED", "maverick.rollback.notify")
    monkeypatch.setenv("MAVERICK_NOTIFY_URL", url)
    monkeypatch.setenv("MAVERICK_NOTIFY_FORMAT", "json")
    start = len(out.read_text().splitlines())

    def payloads():
        lines = out.read_text().splitlines()[start:]
        got = [json.loads(line) for line in lines]
        assert all(item["path"] == "/hook/" + TOKEN for item in got)
        return [item["payload"] for item in got]
    return payloads


def sha(host, ref):
    return host.check_output("git -C %s rev-parse %s^{commit}" % (APP_DIR, ref))


def head(host):
    return host.check_output("git -C %s rev-parse HEAD" % APP_DIR)


def assert_clean(proc, payload, host):
    """The webhook URL's secret path is never printed; the app's password is never sent."""
    assert TOKEN not in proc.stdout
    password = app_env(host).get("POSTGRES_PASSWORD", "")
    assert len(password) >= 4 and password not in json.dumps(payload)


def test_refusal_is_notified(host, notify):
    before = head(host)
    proc = run_playbook(PLAYBOOK, "-e", "commit=no-such-release")
    assert proc.returncode != 0
    [payload] = notify()
    assert (payload["outcome"], payload["playbook"], payload["records"]) == ("refusal", "quick_rollback.yml", [])
    assert "Nothing was changed" in payload["errors"][-1]["msg"]
    assert "refused" in payload["text"]
    assert head(host) == before
    assert_clean(proc, payload, host)


def test_success_is_notified_with_the_ledger_record(host, notify):
    v2 = sha(host, "v2")
    proc = run_playbook(PLAYBOOK, "-e", "commit=v2")
    assert proc.returncode == 0, proc.stdout
    [payload] = notify()
    assert payload["outcome"] == "success"
    [record] = payload["records"]
    assert (record["action"], record["to_commit"], record["outcome"]) == ("rollback", v2, "healthy")
    assert len(payload["run_id"]) == 12  # the run protocol's run id (__app_run_id)
    assert any("healthy after" in line for line in payload["summary"])
    assert payload["hosts"]["mr-quick-rollback"]["failures"] == 0
    assert head(host) == v2 and health(host)[1]["commit"] == v2
    assert_clean(proc, payload, host)


def test_automatic_revert_is_notified(host, notify):
    before, v3 = head(host), sha(host, "v3")
    proc = run_playbook(PLAYBOOK, "-e", "commit=v3", "-e", "app_rollback_health_deadline=12")
    assert proc.returncode != 0
    [payload] = notify()
    assert payload["outcome"] == "reverted"
    record = payload["records"][-1]
    assert (record["to_commit"], record["outcome"], record["revert_health"]["healthy"]) == (v3, "reverted", True)
    assert "REVERTED" in payload["text"] and any("TARGET UNHEALTHY" in line for line in payload["summary"])
    status, body = health(host)
    assert head(host) == before and (status, body["commit"]) == (200, before)
    assert_clean(proc, payload, host)


def test_receiver_down_does_not_affect_the_run(host, notify, monkeypatch):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        down = "http://127.0.0.1:%d/hook/%s" % (sock.getsockname()[1], TOKEN)
    monkeypatch.setenv("MAVERICK_NOTIFY_URL", down)
    v1 = sha(host, "v1")
    proc = run_playbook(PLAYBOOK, "-e", "commit=v1", *SCHEMA_AHEAD)
    assert proc.returncode == 0, proc.stdout
    assert "maverick.rollback.notify: webhook http://127.0.0.1:" in proc.stdout and "not reached" in proc.stdout
    assert TOKEN not in proc.stdout
    assert notify() == []
    assert head(host) == v1
    status, body = health(host)
    assert (status, body.get("commit")) == (200, v1)
    assert not host.file(LOCK).exists


def remote_modules(host):
    """Module runs still going on the server (the pipelined `python3 && sleep 0`)."""
    return host.run("grep -las 'slee[p] 0' /proc/[0-9]*/cmdline | wc -l").stdout.strip()


def test_killed_run_sends_aborted(host, notify):
    """SIGTERM once the run holds the app lock (it is changing the app): an 'aborted'
    payload with the run id the lock names; the lock stays behind, as after any killed run."""
    assert not host.file(LOCK).exists
    cmd, env = playbook_command(PLAYBOOK, "-e", "commit=v2")
    proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not host.file(LOCK).exists:
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the run never took the lock"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    holder = json.loads(host.file(LOCK).content_string)
    [payload] = notify()
    assert payload["outcome"] == "aborted"
    assert "SIGTERM during task" in payload["errors"][-1]["msg"]
    assert payload["run_id"] == holder["run_id"]
    assert "ABORTED" in payload["text"]
    assert TOKEN not in out
    # What the killed run started on the server runs to its end: wait for it
    # (an observable state), then give the dead run's lock back.
    deadline = time.monotonic() + 120
    while remote_modules(host) != "0":
        assert time.monotonic() < deadline, "module runs of the killed run never ended"
        time.sleep(0.5)
    host.check_output("rm -f %s" % LOCK)
