"""Shared helpers for the Molecule verifiers (testinfra).

The verifiers check outcomes on the sandbox host, and the failure cases run
the real playbooks with ansible-playbook against the scenario's inventory.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import testinfra

PROJECT_DIR = Path(__file__).resolve().parent.parent
APP_DIR = "/opt/lifetracker"


def docker_exec_host(container: str):
    """The sandbox server, reached with `docker exec` (testinfra's docker backend):
    the same container molecule's ansible backend reaches, at a fraction of the
    cost per command (for verifiers that run many)."""
    return testinfra.get_host("docker://" + container)


def scenario_inventory() -> str:
    """Molecule's generated inventory dir (host file plus group_vars)."""
    return str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)


def playbook_command(playbook: str, *args: str):
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(PROJECT_DIR / "ansible.cfg")
    env["ANSIBLE_COLLECTIONS_PATH"] = str(PROJECT_DIR / ".collections")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"  # molecule exports ANSIBLE_FORCE_COLOR=true
    env["ANSIBLE_INTERPRETER_PYTHON"] = "/usr/bin/python3"
    cmd = ["ansible-playbook", "-i", scenario_inventory(), str(PROJECT_DIR / playbook), *args]
    return cmd, env


def start_playbook(playbook: str, *args: str) -> subprocess.Popen:
    """Start a playbook run in the background (stdout+stderr in .communicate())."""
    cmd, env = playbook_command(playbook, *args)
    return subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def run_playbook(playbook: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a playbook of this collection against the scenario's sandbox server.

    Returns the completed process with .stdout (stderr merged) and .elapsed.
    """
    cmd, env = playbook_command(playbook, *args)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)
    proc.elapsed = time.monotonic() - started
    return proc


def compose(host, *args: str):
    """Run docker compose for the app on the sandbox server."""
    return host.run("docker compose --project-directory %s %s" % (APP_DIR, " ".join(args)))


def app_env(host) -> dict:
    """The app's .env on the server as a dict."""
    lines = host.file(APP_DIR + "/.env").content_string.splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def health(host) -> tuple[int, dict]:
    """GET /health from the server; (status, json or {})."""
    port = app_env(host)["API_PORT"]
    out = host.run("curl -s -o /tmp/health.json -w '%%{http_code}' http://127.0.0.1:%s/health" % port)
    body = host.run("cat /tmp/health.json").stdout
    try:
        return int(out.stdout or 0), json.loads(body)
    except ValueError:
        return int(out.stdout or 0), {}


@pytest.fixture
def head_commit(host) -> str:
    return host.check_output("git -C %s rev-parse HEAD" % APP_DIR)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def play(playbook: str, *args: str, check: bool = False, timeout: int = 300) -> subprocess.CompletedProcess:
    """run_playbook with --check when asked; stdout without colour codes."""
    proc = run_playbook(playbook, *args, *(["--check"] if check else []), timeout=timeout)
    proc.stdout = ANSI.sub("", proc.stdout)
    return proc


def recap(proc) -> tuple[int, int]:
    """(changed, failed) counts of the play recap."""
    match = re.search(r"ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", proc.stdout)
    assert match, proc.stdout
    return int(match.group(1)), int(match.group(2))


def flat(text: str) -> str:
    """Output with Ansible's YAML line folding and quote doubling undone, for phrase matching."""
    return re.sub(r"\s+", " ", text).replace("''", "'")
