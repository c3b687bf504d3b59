"""The notify callback: outcome table, payloads, masking, bounds, and sending to a
real HTTP receiver on 127.0.0.1 (down, slow, failing receivers never raise)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.maverick.rollback.plugins.plugin_utils import _notify

REVERTED = {"host": "app1", "action": "rollback", "outcome": "reverted", "to_commit": "bad"}
HEALTHY = {"host": "app1", "action": "rollback", "outcome": "healthy", "to_commit": "good"}
FAILED = {"host": "app1", "action": "rollback", "outcome": "failed", "to_commit": "bad"}
ROLLED_BACK = {"host": "app1", "action": "deploy", "outcome": "rolled_back"}
RESTORED = {"host": "app1", "action": "restore", "outcome": "restored"}
REFUSED = {"task": "Refuse an unknown target", "msg": "unknown commit 'nope'. Nothing was changed. Recent commits:"}
ASSERTED = {"task": "Check inputs", "msg": "refusing commit '-x': give a hex SHA. Nothing was changed."}
BROKEN = {"task": "Start the services", "msg": "compose up failed"}

# (name, classify kwargs, expected outcome)
CASES = [
    ("clean run", {}, "success"),
    ("healthy record", {"records": [HEALTHY]}, "success"),
    ("noop, no record", {"records": []}, "success"),
    ("interrupted", {"aborted": True, "records": [HEALTHY]}, "aborted"),
    ("interrupted wins over failure", {"aborted": True, "failed_hosts": ["app1"]}, "aborted"),
    ("health gate failed, reverted, run fails", {"records": [REVERTED], "failed_hosts": ["app1"],
                                                 "last_failures": {"app1": BROKEN}}, "reverted"),
    ("deploy rolled back (restore first)", {"records": [RESTORED, ROLLED_BACK], "failed_hosts": ["app1"]}, "reverted"),
    ("revert itself unhealthy", {"records": [FAILED], "failed_hosts": ["app1"]}, "failure"),
    ("last record per host wins", {"records": [FAILED, HEALTHY]}, "success"),
    ("one host failed, other reverted", {"records": [REVERTED, dict(FAILED, host="app2")]}, "failure"),
    ("unknown commit refused", {"failed_hosts": ["app1"], "last_failures": {"app1": REFUSED}}, "refusal"),
    ("assert refusing", {"failed_hosts": ["app1"], "last_failures": {"app1": ASSERTED}}, "refusal"),
    ("refused on one host, broken on another", {"failed_hosts": ["app1", "app2"],
                                                "last_failures": {"app1": REFUSED, "app2": BROKEN}}, "failure"),
    ("failure without record", {"failed_hosts": ["app1"], "last_failures": {"app1": BROKEN}}, "failure"),
    ("failed host without a known failure", {"failed_hosts": ["app1"]}, "failure"),
    ("refusal after a record is no refusal", {"records": [HEALTHY], "failed_hosts": ["app1"],
                                              "last_failures": {"app1": REFUSED}}, "failure"),
    ("unreachable", {"unreachable_hosts": ["app1"]}, "failure"),
    ("unreachable wins over reverted", {"records": [REVERTED], "unreachable_hosts": ["app2"]}, "failure"),
]


@pytest.mark.parametrize("kwargs, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classify(kwargs, expected):
    assert _notify.classify(**kwargs) == expected


def run(outcome="success", **extra):
    base = {"outcome": outcome, "playbook": "quick_rollback.yml", "hosts": {"app1": {"ok": 3, "failures": 0}},
            "run_id": "abc123", "awx_job_id": "", "records": [HEALTHY],
            "summary": [("app1", "rollback of lifetracker: aaa -> bbb")], "errors": []}
    base.update(extra)
    return base


@pytest.mark.parametrize("outcome, words", [
    ("success", "succeeded"), ("failure", "FAILED"), ("refusal", "refused (nothing was changed)"),
    ("reverted", "REVERTED automatically"), ("aborted", "ABORTED half-way")])
def test_payload_per_outcome(outcome, words):
    data = json.loads(_notify.prepare(run(outcome), "json"))
    assert data["outcome"] == outcome
    assert (data["playbook"], data["run_id"], list(data["hosts"])) == ("quick_rollback.yml", "abc123", ["app1"])
    assert data["records"][0]["to_commit"] == "good"
    assert data["summary"] == ["app1: rollback of lifetracker: aaa -> bbb"]
    assert words in data["text"] and "quick_rollback.yml" in data["text"]
    slack = json.loads(_notify.prepare(run(outcome), "slack"))
    assert list(slack) == ["text"] and words in slack["text"] and "aaa -> bbb" in slack["text"]


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown format"):
        _notify.prepare(run(), "xml")


URL = "https://hooks.example.com/services/T000/B000/XXXXsecretpath"


def test_every_secret_is_masked():
    secrets = (_notify.secrets_from({"GITHUB_TOKEN": "ghp_tokenvalue123", "APP_DB_PASSWORD": "s3cr3t-pw",
                                     "APP_DB_USER": "lifetracker", "HOME": "/root"})
               + _notify.url_secrets(URL))
    leaky = run("failure", errors=[{"host": "app1", "task": "Pull", "msg": "git failed with ghp_tokenvalue123 at " + URL}],
                summary=[("app1", "dsn postgresql://app:s3cr3t-pw@db/app password=other-pw PGPASSWORD=x1x2x3")],
                records=[dict(HEALTHY, note='quoted "s3cr3t-pw" and ghp_tokenvalue123')])
    for fmt in ("json", "slack"):
        body = _notify.prepare(leaky, fmt, secrets).decode()
        json.loads(body)  # still JSON after masking
        for secret in ("ghp_tokenvalue123", "s3cr3t-pw", "other-pw", "x1x2x3", "XXXXsecretpath", "hooks.example.com/services"):
            assert secret not in body, (fmt, secret)
        assert "********" in body
    assert "lifetracker" not in secrets and "/root" not in secrets


@pytest.mark.parametrize("url, shown", [
    (URL, "https://hooks.example.com/********"),
    ("http://user:pw@127.0.0.1:8080/hook?token=abc", "http://127.0.0.1:8080/********"),
    ("http://127.0.0.1:9/", "http://127.0.0.1:9/"),
])
def test_safe_url_never_shows_path_or_credentials(url, shown):
    assert _notify.safe_url(url) == shown


def test_payload_is_bounded():
    huge = run("failure", summary=[("app1", "x" * 5000)] * 200, records=[dict(HEALTHY, log="y" * 100000)],
               errors=[{"host": "app1", "task": "t", "msg": "z" * 20000}] * 30)
    for fmt in ("json", "slack"):
        for limit in (16384, 4096, 600):
            body = _notify.prepare(huge, fmt, max_bytes=limit)
            assert len(body) <= limit, (fmt, limit, len(body))
            data = json.loads(body)
            assert "maverick.rollback quick_rollback.yml FAILED" in data["text"]
            if fmt == "json":
                assert data["outcome"] == "failure" and data["truncated"] is True


# --------------------------------------------------------------------------- a real receiver

class Receiver(BaseHTTPRequestHandler):
    received: list = []
    status = 200
    delay = 0.0

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(type(self).delay)
        type(self).received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    handler = type("Handler", (Receiver,), {"received": [], "status": 200, "delay": 0.0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, "http://127.0.0.1:%d/hook/secret-token" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("outcome", _notify.OUTCOMES)
def test_receiver_gets_one_payload_per_outcome(receiver, outcome):
    handler, url = receiver
    assert _notify.send(url, _notify.prepare(run(outcome), "json", _notify.url_secrets(url))) is None
    [(path, ctype, data)] = handler.received
    assert (path, ctype, data["outcome"]) == ("/hook/secret-token", "application/json", outcome)
    assert "secret-token" not in json.dumps(data)


def test_receiver_error_status_is_a_problem_not_an_exception(receiver):
    handler, url = receiver
    handler.status = 500
    problem = _notify.send(url, b"{}")
    assert "answered HTTP 500" in problem and "secret-token" not in problem


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("url", ["http://127.0.0.1:%d/hook/secret-token" % free_port(),
                                 "ftp://127.0.0.1/secret-token", "not a url", ""])
def test_receiver_down_or_bad_url_gives_a_problem_not_an_exception(url):
    problem = _notify.send(url, b"{}", timeout=1)
    assert problem and "secret-token" not in problem


def test_timeout_is_respected(receiver):
    handler, url = receiver
    handler.delay = 3.0
    started = time.monotonic()
    problem = _notify.send(url, b"{}", timeout=0.5)
    elapsed = time.monotonic() - started
    assert "timeout" in problem.lower() or "timed out" in problem.lower(), problem
    # Bounded by the timeout, not by the receiver's 3 s (generous margin for a loaded machine).
    assert elapsed < 2.5, elapsed


# --------------------------------------------------------------------------- the plugin in a real run

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Name this run
      ansible.builtin.set_fact: {__demo_run_id: r0123456789a}
    - name: Append the run to the release ledger
      maverick.rollback.release_ledger:
        path: "{{ ledger }}"
        state: appended
        record: {action: rollback, app: demo, from_commit: aaa, to_commit: bbb, outcome: "{{ outcome }}"}
    - name: Summary
      ansible.builtin.debug: {msg: ["rollback of demo: aaa -> bbb", "dsn postgresql://u:pw-in-summary@db/x"]}
    - name: Hold the run until it is killed
      ansible.builtin.wait_for: {path: "{{ ledger }}.never", timeout: "{{ hold }}"}
      when: hold | int > 0
    - name: Fail when the target did not come up healthy
      ansible.builtin.fail: {msg: health gate failed}
      when: outcome != 'healthy'
"""


def playbook_run(tmp_path, url, *extra, background=False):
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[4]
    (tmp_path / "play.yml").write_text(PLAY)
    env = dict(os.environ, ANSIBLE_CONFIG=str(root / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(root / ".collections"),
               ANSIBLE_CALLBACKS_ENABLED="maverick.rollback.notify", MAVERICK_NOTIFY_URL=url, ANSIBLE_NOCOLOR="1",
               MAVERICK_NOTIFY_TIMEOUT="2", APP_API_TOKEN="tok-from-the-environment")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=" + sys.executable, "-e", "ledger=%s" % (tmp_path / "ledger.jsonl"),
           "-e", "hold=0", "-e", "outcome=healthy", *extra, str(tmp_path / "play.yml")]
    if background:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120, check=False)


@pytest.mark.parametrize("outcome, rc, expected", [("healthy", 0, "success"), ("reverted", 2, "reverted"),
                                                   ("failed", 2, "failure")])
def test_plugin_sends_one_payload_per_run(receiver, tmp_path, outcome, rc, expected):
    handler, url = receiver
    proc = playbook_run(tmp_path, url, "-e", "outcome=" + outcome)
    assert proc.returncode == rc, proc.stdout
    data = handler.received[-1][2]
    assert len(handler.received) == 1
    assert (data["outcome"], data["playbook"], data["run_id"]) == (expected, "play.yml", "r0123456789a")
    assert [r["to_commit"] for r in data["records"]] == ["bbb"] and data["records"][0]["host"] == "localhost"
    assert data["summary"][0] == "localhost: rollback of demo: aaa -> bbb"
    assert "pw-in-summary" not in json.dumps(data) and "secret-token" not in proc.stdout


def test_plugin_sends_aborted_on_sigterm(receiver, tmp_path):
    import signal
    handler, url = receiver
    proc = playbook_run(tmp_path, url, "-e", "hold=60", background=True)
    try:
        # Killed inside the long task: its banner is printed before its worker starts, and
        # the ledger task has completed by then (a file that exists can still be mid-write).
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if "TASK [Hold the run until it is killed]" in line:
                break
        assert proc.poll() is None, "".join(seen)
        proc.send_signal(signal.SIGTERM)
        out = "".join(seen) + proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGTERM, out
    data = handler.received[-1][2]
    assert len(handler.received) == 1
    assert data["outcome"] == "aborted" and data["run_id"] == "r0123456789a"
    assert data["errors"][-1]["msg"].startswith("SIGTERM during task")


def test_plugin_with_receiver_down_warns_and_keeps_the_result(tmp_path):
    url = "http://127.0.0.1:%d/hook/secret-token" % free_port()
    proc = playbook_run(tmp_path, url)
    assert proc.returncode == 0, proc.stdout
    assert "maverick.rollback.notify: webhook http://127.0.0.1:" in proc.stdout and "not reached" in proc.stdout
    assert "secret-token" not in proc.stdout
