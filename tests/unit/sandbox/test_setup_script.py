"""sandbox/setup.sh on a machine where things fail: one clear line, nothing
half-built under a ready-looking name. Docker and debootstrap are replaced by
fakes on PATH that log their calls."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "sandbox" / "setup.sh"

FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case "$1 $2" in
  "info "*) [ "$DOCKER_UP" = 1 ] && exit 0; exit 1 ;;
  "compose version") echo 2.40.3; exit 0 ;;
  "image inspect") exit 1 ;;
esac
exit 0
"""


def fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(body)
    path.chmod(0o755)


@pytest.fixture
def machine(tmp_path):
    """PATH with fake docker/dockerd/debootstrap first; HOME in tmp."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake(bin_dir, "docker", FAKE_DOCKER)
    env = dict(os.environ, PATH="%s:%s" % (bin_dir, os.environ["PATH"]), HOME=str(tmp_path),
               FAKE_LOG=str(tmp_path / "calls.log"), MAVERICK_DOCKERD_LOG=str(tmp_path / "dockerd.log"),
               MAVERICK_DOCKERD_WAIT_S="1")
    return bin_dir, env, tmp_path


def run_setup(env):
    return subprocess.run(["bash", str(SETUP)], env=env, text=True, capture_output=True, timeout=120, check=False)


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "ansible-playbook").exists(), reason="needs the venv set-up step done")
def test_docker_that_cannot_start_stops_with_one_clear_line(machine):
    bin_dir, env, _ = machine
    fake(bin_dir, "dockerd", "#!/bin/sh\necho 'failed to start daemon: permission denied' >&2\nexit 1\n")
    proc = run_setup(dict(env, DOCKER_UP="0"))
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("setup:")]
    assert len(errors) == 1
    assert "step 2 (docker engine) failed: dockerd did not answer within 1 s" in errors[0]
    assert "failed to start daemon: permission denied" in errors[0]
    assert "re-run sandbox/setup.sh" in errors[0]


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "ansible-playbook").exists(), reason="needs the venv set-up step done")
def test_failed_debootstrap_leaves_no_base_image(machine):
    bin_dir, env, tmp = machine
    fake(bin_dir, "debootstrap", "#!/bin/sh\necho 'E: Failed getting release file' >&2\nexit 1\n")
    proc = run_setup(dict(env, DOCKER_UP="1"))
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("setup:")]
    assert len(errors) == 1
    assert "step 4 (base image maverick-sandbox/debian:bookworm) failed" in errors[0]
    assert "debootstrap" in errors[0] and "re-run: sandbox/setup.sh" in errors[0]
    calls = (tmp / "calls.log").read_text()
    assert "import" not in calls and "tag " not in calls and "build" not in calls
