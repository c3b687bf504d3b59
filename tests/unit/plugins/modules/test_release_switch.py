"""release_switch: the checkout, the tags and one compose up, in the runbook's order, as argument lists."""

import json
import time

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.maverick.rollback.plugins.module_utils import _lock
from ansible_collections.maverick.rollback.plugins.modules import release_switch


SHA = "425da83ab2e6e51e85116ef52ea6119fe9b4e709"
BASE = {"project_dir": "/opt/app", "compose_project": "", "commit": "", "tags": {}, "up": True, "build": False,
        "services": []}
GIT = ["git", "-C", "/opt/app"]
UP = ["docker", "compose", "--project-directory", "/opt/app"]
FLAGS = ["up", "--detach", "--no-color", "--quiet-pull"]

PLANS = [
    # (id, params, [(step, argv)])
    ("rollback on kept images",
     {"commit": SHA, "tags": {"app-api:latest": "sha256:aa", "app-web:latest": "sha256:bb"}, "services": ["api", "web"]},
     [("checkout", GIT + ["checkout", "--quiet", "--detach", SHA]),
      ("tag", ["docker", "tag", "sha256:aa", "app-api:latest"]),
      ("tag", ["docker", "tag", "sha256:bb", "app-web:latest"]),
      ("up", UP + FLAGS + ["--no-build", "--no-deps", "--", "api", "web"])]),
    ("never built: build, every service, named project",
     {"commit": SHA[:12], "build": True, "compose_project": "lt"},
     [("checkout", GIT + ["checkout", "--quiet", "--detach", SHA[:12]]),
      ("up", ["docker", "compose", "--project-directory", "/opt/app", "--project-name", "lt"] + FLAGS + ["--build"])]),
    ("a deploy before its migrations: no up",
     {"commit": SHA, "up": False}, [("checkout", GIT + ["checkout", "--quiet", "--detach", SHA])]),
    ("a deploy after its migrations: up only", {}, [("up", UP + FLAGS + ["--no-build"])]),
    ("nothing to do", {"up": False}, []),
]


@pytest.mark.parametrize("params,steps", [c[1:] for c in PLANS], ids=[c[0] for c in PLANS])
def test_plan(params, steps):
    assert release_switch.plan(dict(BASE, **params)) == steps


REFUSALS = [
    ({"commit": "main"}, "refusing commit 'main'"),
    ({"commit": "--orphan=x"}, "refusing commit"),
    ({"tags": {"-f": "sha256:aa"}}, "refusing tags"),
    ({"tags": {"app-api:latest": "--help"}}, "refusing tags"),
    ({"tags": {"app-api:latest": ""}}, "refusing tags"),
    ({"services": ["api", "--build"]}, "refusing services"),
    ({"services": [""]}, "refusing services"),
    ({"gate": {"url": "file:///etc/passwd"}}, "refusing gate: the health gate probes http(s) URLs only"),
    ({"gate": {"url": "http://127.0.0.1/health", "successes": 0}}, "refusing gate: the health gate needs successes >= 1"),
    ({"gate": {"url": "http://127.0.0.1/health", "retries": 3}}, "refusing gate: "),
    ({"gate": {"successes": 3}}, "refusing gate: "),
    ({"gate": {"url": "http://127.0.0.1/health", "interval": "0.5", "deadline": "90"}}, ""),
    ({"commit": SHA, "tags": {"app-api:latest": "sha256:aa"}, "services": ["api"]}, ""),
]


@pytest.mark.parametrize("params,message", REFUSALS, ids=[repr(r[0])[:50] for r in REFUSALS])
def test_refusal(params, message):
    refused = release_switch.refusal(dict(BASE, **params))
    assert refused.startswith(message) if message else refused == ""


class FakeCli:
    """Answers each command by its verb; records what ran."""

    def __init__(self, fail=None):
        self.fail, self.ran = fail, []

    def run(self, argv):
        self.ran.append(argv)
        verb = "up" if "up" in argv else argv[1] if argv[0] == "docker" else argv[3]
        if verb == self.fail:
            return 1, "", "Error response from daemon: conflict\nno such image\n"
        if verb == "ps":
            return 0, "c1\nc2\nc3\n", ""
        if verb == "inspect":
            return 0, json.dumps([CONTAINER("api", "sha256:aa"), CONTAINER("web", "sha256:bb"),
                                  CONTAINER("postgres", "sha256:pg")]), ""
        return 0, "", ""


def CONTAINER(service, image, project="lt"):  # pylint: disable=invalid-name
    return {"Image": image, "State": {"Running": True},
            "Config": {"Labels": {"com.docker.compose.project": project, "com.docker.compose.service": service}}}


@pytest.mark.parametrize("fail,ran,failure", [
    (None, ["checkout", "tag", "up"], None),
    ("checkout", ["checkout"], "checkout"),
    ("tag", ["checkout", "tag"], "tag"),
    ("up", ["checkout", "tag", "up"], "up"),
])
def test_switch_stops_at_the_first_failed_step(fail, ran, failure):
    cli = FakeCli(fail)
    steps = release_switch.plan(dict(BASE, commit=SHA, tags={"app-api:latest": "sha256:aa"}))
    done, failed = release_switch.switch(cli, steps)
    assert [d["step"] for d in done] == ran and len(cli.ran) == len(ran)
    assert (failed or {}).get("step") == failure
    if failed:
        assert failed["stderr_lines"][-1] == "no such image" and done[-1]["rc"] == 1


def run_module(capsys, monkeypatch, cli, check=False, **params):
    monkeypatch.setattr(release_switch, "Cli", lambda module, readonly: cli)
    with patch_module_args(dict(params, _ansible_check_mode=check)):
        with pytest.raises(SystemExit):
            release_switch.main()
    return json.loads(capsys.readouterr().out)


def test_check_mode_runs_nothing_and_lists_the_commands(capsys, monkeypatch):
    cli = FakeCli()
    result = run_module(capsys, monkeypatch, cli, check=True, project_dir="/opt/app", commit=SHA)
    assert cli.ran == [] and result["changed"] is True
    assert [s["step"] for s in result["steps"]] == ["checkout", "up"]


def test_a_failed_up_names_the_step_and_its_error(capsys, monkeypatch):
    result = run_module(capsys, monkeypatch, FakeCli("up"), project_dir="/opt/app", commit=SHA)
    assert result["failed"] is True and result["step"] == "up" and result["changed"] is True
    assert result["msg"] == "up failed (exit code 1): no such image"


def test_a_refused_commit_changes_nothing(capsys, monkeypatch):
    cli = FakeCli()
    result = run_module(capsys, monkeypatch, cli, project_dir="/opt/app", commit="HEAD; rm -rf /")
    assert result["failed"] is True and cli.ran == [] and "Nothing was changed" in result["msg"]


def test_what_runs_after_the_up_is_reported_for_the_built_services(capsys, monkeypatch):
    cli = FakeCli()
    result = run_module(capsys, monkeypatch, cli, project_dir="/opt/app", commit=SHA, project="lt", report=["api", "web"])
    assert result["running"] == {"api": "sha256:aa", "web": "sha256:bb"}
    assert [argv[1] for argv in cli.ran[-2:]] == ["ps", "inspect"]


def test_nothing_is_reported_without_an_up(capsys, monkeypatch):
    cli = FakeCli()
    result = run_module(capsys, monkeypatch, cli, project_dir="/opt/app", commit=SHA, up=False, project="lt", report=["api"])
    assert "running" not in result and [argv[3] for argv in cli.ran] == ["checkout"]


# --------------------------------------------------------------------------- the lock in the switch call

PLANNED = "b65522e1bab699cd5a9a58211cf8067bb51b2527"


class HeadCli(FakeCli):
    """FakeCli whose checkout is at `head` (git rev-parse)."""

    def __init__(self, head=PLANNED, fail=None):
        super().__init__(fail)
        self.head = head

    def run(self, argv):
        if argv[:1] == ["git"] and "rev-parse" in argv:
            self.ran.append(argv)
            return 0, self.head + "\n", ""
        return super().run(argv)


def other_run(path, seconds_ago=0, ttl=1800):
    now = time.time() - seconds_ago
    record = _lock.lock_record(dict(run_id="other", owner="alice", controller="ctl", awx_job_id="", ttl=ttl), now)
    assert _lock.acquire(str(path), record, False, now)[0]


# (id, lock already there, checkout at, failing step, break_stale) ->
# (failed, lock_refused, lock_taken, steps run, lock holder after)
LOCK_CASES = [
    ("free lock: taken, switched", None, PLANNED, None, False,
     (False, None, True, ["rev-parse", "checkout", "up"], "run1")),
    ("another run holds it: refused before any command", "other", PLANNED, None, False,
     (True, True, False, [], "other")),
    ("this run holds it already: re-entered", "run1", PLANNED, None, False,
     (False, None, False, ["rev-parse", "checkout", "up"], "run1")),
    ("another run's stale lock, break_stale: broken and taken", "stale", PLANNED, None, True,
     (False, None, True, ["rev-parse", "checkout", "up"], "run1")),
    ("another run's stale lock, no break_stale: refused", "stale", PLANNED, None, False,
     (True, True, False, [], "other")),
    ("the checkout moved since the plan: refused, the lock given back", None, SHA, None, False,
     (True, True, False, ["rev-parse"], None)),
    ("a step fails after the lock was taken: the lock stays for the way back", None, PLANNED, "up", False,
     (True, None, True, ["rev-parse", "checkout", "up"], "run1")),
]


@pytest.mark.parametrize("there,head,fail,break_stale,expected", [c[1:] for c in LOCK_CASES], ids=[c[0] for c in LOCK_CASES])
def test_the_switch_takes_the_lock_first(capsys, monkeypatch, tmp_path, there, head, fail, break_stale, expected):
    path = tmp_path / "lock"
    if there == "other":
        other_run(path)
    elif there == "stale":
        other_run(path, seconds_ago=100, ttl=10)
    elif there == "run1":
        _lock.acquire(str(path), _lock.lock_record(dict(run_id="run1", owner="me", controller="c", awx_job_id="", ttl=60),
                                                   time.time()), False)
    cli = HeadCli(head, fail)
    result = run_module(capsys, monkeypatch, cli, project_dir="/opt/app", commit=SHA, expect_head=PLANNED,
                        lock=dict(path=str(path), run_id="run1", owner="me", break_stale=break_stale))
    failed, refused, taken, ran, holder = expected
    assert bool(result.get("failed")) is failed
    assert result.get("lock_refused") is refused and result["lock_taken"] is taken
    assert [argv[3] if argv[0] == "git" else "up" for argv in cli.ran] == ran
    assert (_lock.read_holder(str(path)) or {}).get("run_id") == holder
    if refused:
        assert "Nothing was changed" in result["msg"] and result["changed"] is False


def test_check_mode_refuses_a_lock_held_by_another_run_and_writes_nothing(capsys, monkeypatch, tmp_path):
    held, free, stale = tmp_path / "held", tmp_path / "free", tmp_path / "stale"
    other_run(held)
    other_run(stale, seconds_ago=100, ttl=10)
    refused = run_module(capsys, monkeypatch, HeadCli(), check=True, project_dir="/opt/app", commit=SHA,
                         lock=dict(path=str(held), run_id="run1"))
    planned = run_module(capsys, monkeypatch, HeadCli(), check=True, project_dir="/opt/app", commit=SHA,
                         lock=dict(path=str(free), run_id="run1"))
    assert refused["lock_refused"] is True and "another run holds the lock" in refused["msg"]
    assert planned["changed"] is True and planned["lock_taken"] is False and not free.exists()
    breaking = run_module(capsys, monkeypatch, HeadCli(), check=True, project_dir="/opt/app", commit=SHA,
                          lock=dict(path=str(stale), run_id="run1", break_stale=True))
    assert not breaking.get("failed") and breaking["holder"]["run_id"] == "other"  # would break it; nothing written


def test_without_a_lock_nothing_touches_one(capsys, monkeypatch):
    cli = HeadCli()
    result = run_module(capsys, monkeypatch, cli, project_dir="/opt/app", commit=SHA)
    assert result["lock_taken"] is False and "holder" not in result and "rev-parse" not in sum(cli.ran, [])


# --------------------------------------------------------------------------- the gate in the switch call

GATE = {"interval": 0.01, "deadline": 2, "successes": 3}


def test_the_call_gates_its_own_up(capsys, monkeypatch, app):
    """After the up, the health gate's probes in the same call (health_probe's, as its result)."""
    server = app((503, "starting"), (200, {"commit": SHA}))
    cli = FakeCli()
    result = run_module(capsys, monkeypatch, cli, project_dir="/opt/app", commit=SHA,
                        gate=dict(GATE, url=server.url, expected_commit=SHA[:12]))
    assert not result.get("failed") and [s["step"] for s in result["steps"]] == ["checkout", "up"]
    gate = result["gate"]
    assert gate["healthy"] is True and gate["verdict"] == "" and server.served == 4
    assert [a["status"] for a in gate["first"]] == [503, 200] and len(gate["more"]) == 2


def test_an_unhealthy_gate_does_not_fail_the_call(capsys, monkeypatch, app):
    """The caller judges the answers and decides the way back (the role reverts)."""
    server = app((200, {"commit": "b65522e1bab6"}))
    result = run_module(capsys, monkeypatch, FakeCli(), project_dir="/opt/app", commit=SHA,
                        gate=dict(GATE, url=server.url, expected_commit=SHA, deadline=1))
    assert not result.get("failed") and result["gate"]["healthy"] is False
    assert result["gate"]["verdict"].startswith("wrong commit: expected %s" % SHA)


@pytest.mark.parametrize("how", ["failed up", "no up", "check mode", "refused gate"])
def test_no_probe_without_a_successful_up(capsys, monkeypatch, app, how):
    server = app((200, {"commit": SHA}))
    cli = FakeCli("up" if how == "failed up" else None)
    gate = dict(GATE, url=server.url if how != "refused gate" else "ftp://127.0.0.1/health")
    result = run_module(capsys, monkeypatch, cli, check=how == "check mode", project_dir="/opt/app", commit=SHA,
                        up=how != "no up", gate=gate)
    assert "gate" not in result and server.served == 0
    if how == "refused gate":
        assert result["failed"] is True and cli.ran == [] and "Nothing was changed" in result["msg"]
