#!/usr/bin/env python3
"""GitHub REST API contract mock for playbooks/github_redeploy.yml.

Implements, with the response shapes of GitHub's REST documentation
(https://docs.github.com/en/rest), the endpoints the role uses:

  GET  /repos/{owner}/{repo}                                      repository
  GET  /repos/{owner}/{repo}/commits/{ref}                        commit (422 for an unknown ref)
  GET  /repos/{owner}/{repo}/actions/workflows/{workflow_id}      workflow
  POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches   204, creates a run
  GET  /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs list of runs (newest first)
  GET  /repos/{owner}/{repo}/actions/runs/{run_id}                one run

Every request must carry ``Authorization: Bearer <token>`` (``token <token>``
is accepted too, as GitHub does); otherwise 401 ``{"message": "Bad
credentials", ...}``. Errors are ``{"message", "documentation_url", "status"}``.

A dispatched run goes queued -> in_progress -> completed over time
(``queued_s``, ``running_s``) and ends with the configured conclusion; it is
listed only ``appear_after_s`` seconds after the dispatch, as on GitHub.

Control: from Python (``GitHubMock`` in the same process: ``mock.next_run(...)``,
``mock.requests``) or over HTTP under ``/_mock/`` (``POST /_mock/config``,
``POST /_mock/next_run``, ``GET /_mock/requests``, ``POST /_mock/reset``,
``POST /_mock/shutdown``).
Listens on 127.0.0.1 only. Test plumbing: no GitHub is reachable here.

  python3 tests/github_mock/server.py --port 0 --token T --ref main=<sha> [--exit-after 600]
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DOCS = "https://docs.github.com/rest"
ISO = "%Y-%m-%dT%H:%M:%SZ"


def iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime(ISO)


class GitHubMock:
    """State of the fake GitHub, shared by the request handler threads."""

    def __init__(self, token: str, owner: str = "maverickapplications", repo: str = "lifetracker",
                 workflow: str = "deploy.yml", refs: dict | None = None, host: str = "127.0.0.1", port: int = 0):
        self.lock = threading.Lock()
        self.token = token
        self.owner, self.repo, self.workflow = owner, repo, workflow
        self.workflow_id = 161335
        self.refs = dict(refs or {})  # branch or tag name -> sha
        self.runs: list[dict] = []
        self.requests: list[dict] = []
        self.next_run_id = 9000001
        self.run_plan = {"conclusion": "success", "queued_s": 1.0, "running_s": 2.0, "appear_after_s": 0.5}
        self.workflow_state = "active"
        self.inputs_allowed: set[str] | None = None
        self.fail_next: list[tuple[int, str]] = []  # forced (status, message) for the next requests
        self.server = ThreadingHTTPServer((host, port), _handler_for(self))
        self.server.daemon_threads = True
        self.thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return "http://%s:%d" % (host, port)

    def start(self) -> "GitHubMock":
        self.thread = threading.Thread(target=self.server.serve_forever, name="github-mock", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def next_run(self, conclusion: str = "success", queued_s: float = 1.0, running_s: float = 2.0,
                 appear_after_s: float = 0.5) -> None:
        """How the runs dispatched from now on behave."""
        with self.lock:
            self.run_plan = {"conclusion": conclusion, "queued_s": queued_s, "running_s": running_s,
                             "appear_after_s": appear_after_s}

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.fail_next.clear()
            self.workflow_state = "active"
            self.inputs_allowed = None
        self.next_run()

    def add_old_run(self, ref: str, conclusion: str = "success", age_s: float = 3600) -> dict:
        """A run dispatched before the test (must never be mistaken for a new one)."""
        with self.lock:
            run = self._new_run(ref, self.refs[ref], time.time() - age_s,
                                {"conclusion": conclusion, "queued_s": 0, "running_s": 0, "appear_after_s": 0})
            self.runs.append(run)
            return run

    def dispatches(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST" and r["path"].endswith("/dispatches")]

    # -- model ---------------------------------------------------------------
    def _new_run(self, ref: str, sha: str, created: float, plan: dict) -> dict:
        run_id = self.next_run_id
        self.next_run_id += 1
        return {"id": run_id, "sha": sha, "ref": ref, "created": created, "plan": dict(plan),
                "number": run_id - 9000000 + 100}

    def run_json(self, run: dict, now: float) -> dict:
        age = now - run["created"]
        plan = run["plan"]
        if age < plan["queued_s"]:
            status, conclusion = "queued", None
        elif age < plan["queued_s"] + plan["running_s"]:
            status, conclusion = "in_progress", None
        else:
            status, conclusion = "completed", plan["conclusion"]
        base = "https://api.github.com/repos/%s/%s" % (self.owner, self.repo)
        return {
            "id": run["id"],
            "name": "Deploy",
            "node_id": "WFR_kwLO%d" % run["id"],
            "head_branch": run["ref"],
            "head_sha": run["sha"],
            "path": ".github/workflows/%s" % self.workflow,
            "display_title": "Deploy",
            "run_number": run["number"],
            "event": "workflow_dispatch",
            "status": status,
            "conclusion": conclusion,
            "workflow_id": self.workflow_id,
            "url": "%s/actions/runs/%d" % (base, run["id"]),
            "html_url": "https://github.com/%s/%s/actions/runs/%d" % (self.owner, self.repo, run["id"]),
            "created_at": iso(run["created"]),
            "updated_at": iso(min(now, run["created"] + plan["queued_s"] + plan["running_s"])),
            "run_started_at": iso(run["created"]),
            "run_attempt": 1,
            "jobs_url": "%s/actions/runs/%d/jobs" % (base, run["id"]),
            "logs_url": "%s/actions/runs/%d/logs" % (base, run["id"]),
            "workflow_url": "%s/actions/workflows/%d" % (base, self.workflow_id),
        }

    def sha_for(self, ref: str) -> str | None:
        if ref in self.refs:
            return self.refs[ref]
        if re.fullmatch(r"[0-9a-f]{7,40}", ref):
            for sha in self.refs.values():
                if sha.startswith(ref):
                    return sha
        return None


def error(status: int, message: str, doc: str = DOCS) -> tuple[int, dict]:
    return status, {"message": message, "documentation_url": doc, "status": str(status)}


def _handler_for(mock: GitHubMock):
    class Handler(BaseHTTPRequestHandler):
        server_version = "github-mock"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: tests read mock.requests
            pass

        def send(self, status: int, body=None, headers: dict | None = None):
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw or b"{}")
            except ValueError:
                return None

        def authorized(self) -> bool:
            auth = self.headers.get("Authorization", "")
            scheme, _, token = auth.partition(" ")
            return scheme.lower() in ("bearer", "token") and token == mock.token

        def handle_any(self, method: str):
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            payload = self.body() if method == "POST" else None
            if parts.path.startswith("/_mock/"):
                return self.send(*self.control(method, parts.path, payload))
            with mock.lock:
                record = {"method": method, "path": parts.path, "query": query, "time": time.time(),
                          "auth_ok": self.authorized(), "body": payload,
                          "accept": self.headers.get("Accept", ""),
                          "api_version": self.headers.get("X-GitHub-Api-Version", "")}
                mock.requests.append(record)
                if not record["auth_ok"]:
                    status, body = error(401, "Bad credentials")
                elif mock.fail_next:
                    status, body = error(*mock.fail_next.pop(0))
                else:
                    status, body = self.route(method, parts.path, query, payload)
            return self.send(status, body)

        def control(self, method, path, payload):
            payload = payload or {}
            if path == "/_mock/requests" and method == "GET":
                with mock.lock:
                    return 200, mock.requests
            if path == "/_mock/shutdown" and method == "POST":
                threading.Timer(0.2, mock.server.shutdown).start()  # after this answer is out
                return 200, {"ok": True}
            if path == "/_mock/reset" and method == "POST":
                mock.reset()
                return 200, {"ok": True}
            if path == "/_mock/next_run" and method == "POST":
                mock.next_run(**payload)
                return 200, {"ok": True}
            if path == "/_mock/config" and method == "POST":
                with mock.lock:
                    if "refs" in payload:
                        mock.refs.update(payload["refs"])
                    if "workflow_state" in payload:
                        mock.workflow_state = payload["workflow_state"]
                    if "fail_next" in payload:
                        mock.fail_next = [tuple(x) for x in payload["fail_next"]]
                return 200, {"ok": True}
            return 404, {"message": "unknown control endpoint"}

        def route(self, method, path, query, payload):
            repo_m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
            if not repo_m:
                return error(404, "Not Found")
            owner, repo, rest = repo_m.group(1), repo_m.group(2), repo_m.group(3) or ""
            if (owner.lower(), repo.lower()) != (mock.owner.lower(), mock.repo.lower()):
                return error(404, "Not Found", "https://docs.github.com/rest/repos/repos#get-a-repository")
            now = time.time()
            if rest == "" and method == "GET":
                return 200, {"id": 1296269, "name": mock.repo, "full_name": "%s/%s" % (mock.owner, mock.repo),
                             "private": True, "default_branch": "main",
                             "html_url": "https://github.com/%s/%s" % (mock.owner, mock.repo),
                             "owner": {"login": mock.owner, "type": "Organization"}}
            m = re.fullmatch(r"/commits/(.+)", rest)
            if m and method == "GET":
                ref = m.group(1)
                sha = mock.sha_for(ref)
                if sha is None:
                    return error(422, "No commit found for SHA: %s" % ref,
                                 "https://docs.github.com/rest/commits/commits#get-a-commit")
                return 200, {"sha": sha, "node_id": "C_%s" % sha[:10],
                             "html_url": "https://github.com/%s/%s/commit/%s" % (mock.owner, mock.repo, sha),
                             "commit": {"message": "release at %s" % ref}}
            m = re.fullmatch(r"/actions/workflows/([^/]+)(/dispatches|/runs)?", rest)
            if m:
                workflow, tail = m.group(1), m.group(2) or ""
                if workflow not in (mock.workflow, str(mock.workflow_id)):
                    return error(404, "Not Found",
                                 "https://docs.github.com/rest/actions/workflows#get-a-workflow")
                if tail == "" and method == "GET":
                    return 200, {"id": mock.workflow_id, "node_id": "W_kwDOABC", "name": "Deploy",
                                 "path": ".github/workflows/%s" % mock.workflow, "state": mock.workflow_state,
                                 "html_url": "https://github.com/%s/%s/blob/main/.github/workflows/%s"
                                             % (mock.owner, mock.repo, mock.workflow)}
                if tail == "/dispatches" and method == "POST":
                    doc = "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event"
                    if not isinstance(payload, dict) or not isinstance(payload.get("ref"), str):
                        return error(422, "Invalid request.\n\n\"ref\" wasn't supplied.", doc)
                    if mock.workflow_state != "active":
                        return error(403, "Workflow is disabled", doc)
                    ref = payload["ref"]
                    if ref not in mock.refs:  # branches and tags only, as GitHub
                        return error(422, "No ref found for: %s" % ref, doc)
                    inputs = payload.get("inputs") or {}
                    if not isinstance(inputs, dict) or any(not isinstance(v, (str, bool, int, float)) for v in inputs.values()):
                        return error(422, "Invalid request.\n\nFor 'properties/inputs', not an object.", doc)
                    if mock.inputs_allowed is not None:
                        unexpected = sorted(set(inputs) - mock.inputs_allowed)
                        if unexpected:
                            return error(422, "Unexpected inputs provided: %s" % json.dumps(unexpected), doc)
                    run = mock._new_run(ref, mock.refs[ref], now, mock.run_plan)
                    run["inputs"] = inputs
                    mock.runs.append(run)
                    return 204, None
                if tail == "/runs" and method == "GET":
                    runs = [r for r in mock.runs if now - r["created"] >= r["plan"]["appear_after_s"]]
                    if "branch" in query:
                        runs = [r for r in runs if r["ref"] == query["branch"]]
                    views = [mock.run_json(r, now) for r in runs]
                    if "event" in query:
                        views = [v for v in views if v["event"] == query["event"]]
                    if "status" in query:
                        views = [v for v in views if query["status"] in (v["status"], v["conclusion"])]
                    views.sort(key=lambda v: (v["created_at"], v["id"]), reverse=True)
                    per_page = max(1, min(100, int(query.get("per_page", 30))))
                    return 200, {"total_count": len(views), "workflow_runs": views[:per_page]}
            m = re.fullmatch(r"/actions/runs/([0-9]+)", rest)
            if m and method == "GET":
                for run in mock.runs:
                    if run["id"] == int(m.group(1)):
                        return 200, mock.run_json(run, now)
                return error(404, "Not Found", "https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run")
            return error(404, "Not Found")

        def do_GET(self):
            self.handle_any("GET")

        def do_POST(self):
            self.handle_any("POST")

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", required=True)
    parser.add_argument("--owner", default="maverickapplications")
    parser.add_argument("--repo", default="lifetracker")
    parser.add_argument("--workflow", default="deploy.yml")
    parser.add_argument("--ref", action="append", default=[], metavar="NAME=SHA")
    parser.add_argument("--exit-after", type=float, default=0, metavar="SECONDS",
                        help="stop by itself after this many seconds (0: never)")
    args = parser.parse_args()
    refs = dict(item.split("=", 1) for item in args.ref)
    mock = GitHubMock(args.token, args.owner, args.repo, args.workflow, refs, port=args.port)
    if args.exit_after > 0:
        timer = threading.Timer(args.exit_after, mock.server.shutdown)
        timer.daemon = True
        timer.start()
    print(mock.url, flush=True)
    try:
        mock.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
