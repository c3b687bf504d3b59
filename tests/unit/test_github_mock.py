"""The GitHub contract mock (tests/github_mock) answers like GitHub's REST API.

The Molecule scenario github_redeploy runs the role against this mock, so the
mock's own behaviour is pinned here: status codes, response shapes (as in
GitHub's REST documentation), the Bearer check, run state transitions.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from github_mock.server import GitHubMock  # noqa: E402

TOKEN = "ghp_unitTestToken"
SHA = "b65522e1bab699cd5a9a58211cf8067bb51b2527"
REPO = "/repos/maverickapplications/lifetracker"


@pytest.fixture
def mock():
    github = GitHubMock(TOKEN, refs={"main": SHA, "v1": "a" * 40}).start()
    github.next_run(queued_s=0.3, running_s=0.3, appear_after_s=0)
    yield github
    github.stop()


def call(mock, method, path, body=None, token=TOKEN):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(mock.url + path, data=data, method=method)
    if token is not None:
        request.add_header("Authorization", "Bearer " + token)
    request.add_header("Accept", "application/vnd.github+json")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_listens_on_loopback_only(mock):
    assert mock.server.server_address[0] == "127.0.0.1"


@pytest.mark.parametrize("token", [None, "wrong"])
def test_requests_without_the_bearer_token_get_401_bad_credentials(mock, token):
    status, body = call(mock, "GET", REPO, token=token)
    assert status == 401
    assert body["message"] == "Bad credentials" and body["documentation_url"].startswith("https://docs.github.com/")


@pytest.mark.parametrize("path,status,message", [
    (REPO, 200, None),
    ("/repos/maverickapplications/nope", 404, "Not Found"),
    (REPO + "/actions/workflows/deploy.yml", 200, None),
    (REPO + "/actions/workflows/other.yml", 404, "Not Found"),
    (REPO + "/commits/main", 200, None),
    (REPO + "/commits/" + SHA[:7], 200, None),
    (REPO + "/commits/no-such-ref", 422, "No commit found for SHA: no-such-ref"),
    (REPO + "/actions/runs/1", 404, "Not Found"),
])
def test_read_endpoints(mock, path, status, message):
    got, body = call(mock, "GET", path)
    assert got == status
    if message:
        assert body["message"] == message and "documentation_url" in body
    elif "/commits/" in path:
        assert body["sha"] == SHA
    elif path.endswith("deploy.yml"):
        assert (body["name"], body["state"], body["path"]) == ("Deploy", "active", ".github/workflows/deploy.yml")


def test_dispatch_is_204_and_its_run_goes_queued_in_progress_completed(mock):
    status, body = call(mock, "POST", REPO + "/actions/workflows/deploy.yml/dispatches", {"ref": "main", "inputs": {}})
    assert (status, body) == (204, None)
    status, runs = call(mock, "GET", REPO + "/actions/workflows/deploy.yml/runs?event=workflow_dispatch&branch=main")
    assert status == 200 and runs["total_count"] == 1
    run = runs["workflow_runs"][0]
    assert {"id", "status", "conclusion", "head_sha", "html_url", "created_at", "event", "head_branch"} <= set(run)
    assert (run["status"], run["conclusion"], run["head_sha"], run["event"], run["head_branch"]) == (
        "queued", None, SHA, "workflow_dispatch", "main")
    assert run["html_url"] == "https://github.com/maverickapplications/lifetracker/actions/runs/%d" % run["id"]
    seen = []
    deadline = time.monotonic() + 5
    while not seen or seen[-1] != "completed":
        assert time.monotonic() < deadline
        seen.append(call(mock, "GET", REPO + "/actions/runs/%d" % run["id"])[1]["status"])
        time.sleep(0.1)
    assert [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s] == ["queued", "in_progress", "completed"]
    assert call(mock, "GET", REPO + "/actions/runs/%d" % run["id"])[1]["conclusion"] == "success"


def test_next_run_can_be_made_to_fail(mock):
    mock.next_run(conclusion="failure", queued_s=0, running_s=0, appear_after_s=0)
    call(mock, "POST", REPO + "/actions/workflows/deploy.yml/dispatches", {"ref": "main"})
    run = call(mock, "GET", REPO + "/actions/workflows/deploy.yml/runs")[1]["workflow_runs"][0]
    assert (run["status"], run["conclusion"]) == ("completed", "failure")


@pytest.mark.parametrize("body,message", [
    ({"ref": "no-such-branch"}, "No ref found for: no-such-branch"),
    ({"ref": SHA}, "No ref found for: " + SHA),  # a SHA is not a branch or tag
    ({}, "Invalid request.\n\n\"ref\" wasn't supplied."),
])
def test_bad_dispatches_are_422(mock, body, message):
    status, answer = call(mock, "POST", REPO + "/actions/workflows/deploy.yml/dispatches", body)
    assert (status, answer["message"]) == (422, message)
    assert mock.runs == []


def test_runs_list_newest_first_filtered_by_branch_and_late_to_appear(mock):
    old = mock.add_old_run("v1")
    mock.next_run(appear_after_s=60)
    call(mock, "POST", REPO + "/actions/workflows/deploy.yml/dispatches", {"ref": "main"})
    assert call(mock, "GET", REPO + "/actions/workflows/deploy.yml/runs?branch=main")[1]["total_count"] == 0
    listed = call(mock, "GET", REPO + "/actions/workflows/deploy.yml/runs")[1]["workflow_runs"]
    assert [r["id"] for r in listed] == [old["id"]]


def test_http_control_endpoints(mock):
    urllib.request.urlopen(urllib.request.Request(
        mock.url + "/_mock/config", data=json.dumps({"fail_next": [[403, "Resource not accessible"]]}).encode(),
        method="POST"), timeout=5)
    assert call(mock, "GET", REPO) == (403, {"message": "Resource not accessible",
                                             "documentation_url": "https://docs.github.com/rest", "status": "403"})
    assert call(mock, "GET", REPO)[0] == 200
    with urllib.request.urlopen(mock.url + "/_mock/requests", timeout=5) as answer:
        logged = json.loads(answer.read())
    assert [r["auth_ok"] for r in logged] == [True, True]
