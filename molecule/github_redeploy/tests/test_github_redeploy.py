"""github_redeploy scenario: contract tests against a local GitHub stand-in.

GitHub is not reachable here. tests/github_mock/server.py implements the
endpoints the role uses with the response shapes of GitHub's REST docs; it
runs in this test process on 127.0.0.1 (the sandbox server uses host
networking, so it reaches it too), checks the Bearer token, and each test
decides how the next workflow run ends. The health gate after a successful
run is real: it probes the sandbox app, which already runs the commit the
mock reports as the run's head_sha (the mock stands in for the deploy).
Every run is verbose (-v) and its output must not contain the token.
"""

from __future__ import annotations

import json
import re
import sys

import pytest

from conftest import APP_DIR, PROJECT_DIR, docker_exec_host, run_playbook

sys.path.insert(0, str(PROJECT_DIR / "tests"))
from github_mock.server import GitHubMock  # noqa: E402

PLAYBOOK = "playbooks/github_redeploy.yml"
TOKEN = "ghp_contractTest0000SECRET1111token2222"
LEDGER = "/var/lib/maverick-rollback/lifetracker/ledger.jsonl"
REPO = "/repos/maverickapplications/lifetracker"


@pytest.fixture(scope="module")
def host():
    """The sandbox server over `docker exec` (cheaper per command than molecule's ansible backend)."""
    return docker_exec_host("mr-github-redeploy")


def ledger(host) -> list:
    return [json.loads(line) for line in host.file(LEDGER).content_string.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def shas(host) -> dict:
    out = host.check_output("git -C %s rev-parse HEAD v1^{commit}" % APP_DIR).split()
    return {"head": out[0], "v1": out[1]}


@pytest.fixture(scope="module")
def mock(shas):
    # main and release/2025-02 point at what the app runs; "v1-tag" at an older
    # commit the app does not run (the gate must notice).
    github = GitHubMock(TOKEN, refs={"main": shas["head"], "release/2025-02": shas["head"], "v1-tag": shas["v1"]})
    github.start()
    github.add_old_run("main")  # dispatched earlier: must never be taken for the new run
    yield github
    github.stop()


@pytest.fixture(autouse=True)
def fresh_mock(mock, monkeypatch):
    mock.reset()
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)


def redeploy(mock, *args):
    """Run the playbook verbosely against the mock; .out is the output without
    colour codes (molecule forces colour) and with whitespace runs collapsed."""
    proc = run_playbook(PLAYBOOK, "-v", "-e", "github_redeploy_api_url=" + mock.url, *args)
    assert TOKEN not in proc.stdout and "SECRET1111" not in proc.stdout
    proc.out = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout).split())
    return proc


def test_converge_redeployed_through_the_mock_and_recorded_it(host, shas):
    # Converge called the API from the server itself (github_redeploy_api_host).
    last = ledger(host)[-1]
    assert (last["action"], last["to_commit"], last["outcome"]) == ("github_redeploy", shas["head"], "healthy")
    assert last["requested"] == "main" and last["conclusion"] == "success"
    assert last["run_url"].startswith("https://github.com/maverickapplications/lifetracker/actions/runs/")


def test_success_dispatches_finds_its_run_waits_and_gates(host, mock, shas):
    # Long enough that the first poll still sees it queued or running on a busy
    # machine (at 3 s, run discovery under load sometimes found it completed;
    # discovery is two list calls, a 2 s pause and a poll chunk: ~5 s, ~10 loaded).
    mock.next_run(conclusion="success", queued_s=1, running_s=15)
    before = len(ledger(host))
    proc = redeploy(mock, "-e", "ref=release/2025-02", "-e", '{"github_redeploy_inputs": {"reason": "3am", "dry_run": false}}')
    assert proc.returncode == 0, proc.stdout
    (dispatch,) = mock.dispatches()
    assert dispatch["body"] == {"ref": "release/2025-02", "inputs": {"reason": "3am", "dry_run": "false"}}
    assert dispatch["path"] == REPO + "/actions/workflows/deploy.yml/dispatches"
    assert all(r["auth_ok"] and r["accept"] == "application/vnd.github+json" and r["api_version"] == "2022-11-28"
               for r in mock.requests)
    lists = [r for r in mock.requests if r["path"].endswith("/runs")]
    assert lists and all(r["query"]["event"] == "workflow_dispatch" and r["query"]["branch"] == "release/2025-02"
                         for r in lists)
    new_run = mock.runs[-1]
    out = proc.out
    assert "run #%d (id %d): " % (new_run["number"], new_run["id"]) in out
    # Progress lines until it completes.
    assert re.search(r"run #%d: (queued|in_progress) after \d+ s \(deadline 1800 s\)" % new_run["number"], out)
    assert "run #%d: completed (success) after" % new_run["number"] in out
    assert "healthy, running %s" % shas["head"][:12] in out
    assert mock.requests[-1]["path"] == REPO + "/actions/runs/%d" % new_run["id"]
    records = ledger(host)
    assert len(records) == before + 1
    assert (records[-1]["to_commit"], records[-1]["workflow_run_id"], records[-1]["outcome"]) == (shas["head"], new_run["id"], "healthy")
    # The run protocol's own run id (not GitHub's) names the run, and the lock was given back.
    assert re.match(r"\A[a-z0-9][a-z0-9-]{0,63}\Z", records[-1]["run_id"])
    assert not host.file(LEDGER.replace("ledger.jsonl", "lock")).exists


def test_failed_run_fails_with_its_conclusion_and_url(host, mock):
    mock.next_run(conclusion="failure", queued_s=0.5, running_s=1)
    proc = redeploy(mock)
    assert proc.returncode != 0
    run = mock.runs[-1]
    url = "https://github.com/maverickapplications/lifetracker/actions/runs/%d" % run["id"]
    assert "the Deploy run ended with conclusion failure: %s" % url in proc.out
    assert "consecutive good answers" not in proc.out  # no health gate
    last = ledger(host)[-1]
    assert (last["outcome"], last["conclusion"], last["workflow_run_id"]) == ("failed", "failure", run["id"])


def test_successful_run_of_a_commit_the_app_does_not_run_fails_the_gate(mock, shas):
    proc = redeploy(mock, "-e", "ref=v1-tag", "-e", "github_redeploy_health_deadline=3")
    assert proc.returncode != 0
    assert "the deploy succeeded on GitHub but the health gate failed" in proc.out
    assert "wrong commit: expected %s, running %s" % (shas["v1"], shas["head"]) in proc.out


def test_unknown_ref_is_refused_before_any_dispatch(mock):
    proc = redeploy(mock, "-e", "ref=no-such-branch")
    assert proc.returncode != 0
    assert "the ref 'no-such-branch' does not exist in maverickapplications/lifetracker" in proc.out
    assert "No commit found for SHA: no-such-branch" in proc.out and "Nothing was dispatched" in proc.out
    assert mock.dispatches() == []


def test_bad_token_401_becomes_a_plain_message(mock, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_revokedTokenXYZ")
    proc = redeploy(mock)
    assert proc.returncode != 0
    assert "GitHub rejected the token when asked to read the repository maverickapplications/lifetracker" in proc.out
    assert "401: Bad credentials" in proc.out and "Nothing was dispatched" in proc.out
    assert "ghp_revokedTokenXYZ" not in proc.stdout
    assert mock.dispatches() == [] and not any(r["auth_ok"] for r in mock.requests)


@pytest.mark.parametrize("case", ["403", "404-repo", "422-inputs"])
def test_api_refusals_become_plain_messages(mock, case):
    args = []
    if case == "403":
        mock.fail_next = [(403, "Resource not accessible by personal access token")]
        expected = ("GitHub refused to read the repository maverickapplications/lifetracker "
                    "(403: Resource not accessible by personal access token): the token lacks a permission")
    elif case == "404-repo":
        args = ["-e", "app_github_repo=lifetracker-typo"]
        expected = "GitHub found nothing when asked to read the repository maverickapplications/lifetracker-typo (404: Not Found)"
    else:
        mock.inputs_allowed = {"reason"}
        args = ["-e", 'github_redeploy_inputs={"bogus":"x"}']  # a string, as an AWX survey sends it
        expected = """GitHub refused to dispatch deploy.yml on 'main' as invalid (422: Unexpected inputs provided: ["bogus"])"""
    proc = redeploy(mock, *args)
    assert proc.returncode != 0
    assert expected in proc.out, proc.stdout
    assert mock.dispatches() == [] if case != "422-inputs" else len(mock.dispatches()) == 1


def test_missing_token_is_refused_before_any_request(mock, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN")
    proc = redeploy(mock)
    assert proc.returncode != 0
    assert "no GitHub token: export GITHUB_TOKEN" in proc.out
    assert mock.requests == []


@pytest.mark.parametrize("bad", ["$(touch /tmp/pwned)"], ids=["shell"])
def test_bad_ref_is_refused_before_any_request(host, mock, bad):
    proc = redeploy(mock, "-e", "ref=" + bad)
    assert proc.returncode != 0
    assert "github_redeploy refused its inputs" in proc.out
    assert mock.requests == [] and not host.file("/tmp/pwned").exists


def test_plain_http_to_another_host_is_refused_before_the_token_is_sent(mock):
    proc = redeploy(mock, "-e", "github_redeploy_api_url=http://github.example.invalid/api/v3")
    assert proc.returncode != 0
    assert "github_redeploy refused its inputs: the API URL must be https://host" in proc.out
    assert "http://github.example.invalid/api/v3" in proc.out
    assert mock.requests == []


def test_check_mode_asks_but_dispatches_nothing(mock, shas):
    proc = redeploy(mock, "--check")
    assert proc.returncode == 0, proc.stdout
    assert "CHECK MODE: nothing was dispatched" in proc.out
    assert "on 'main' = %s" % shas["head"][:12] in proc.out
    assert mock.dispatches() == [] and len(mock.requests) == 3  # repository, workflow, ref


def test_run_still_running_at_the_deadline_fails_with_its_url(mock):
    mock.next_run(conclusion="success", queued_s=0.5, running_s=60)
    proc = redeploy(mock, "-e", "github_redeploy_run_deadline=3")
    assert proc.returncode != 0
    run = mock.runs[-1]
    assert "is still in_progress after 3 s" in proc.out
    assert "actions/runs/%d" % run["id"] in proc.out
    assert proc.elapsed < 60
