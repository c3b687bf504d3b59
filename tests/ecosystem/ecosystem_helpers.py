"""Helpers shared by tests/ecosystem and molecule/ecosystem: the collection as
its consumers see it (built and installed, AWX survey answers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SURVEY_DIR = PROJECT_DIR / "docs" / "awx" / "surveys"
NAMESPACE, NAME = "maverick", "rollback"


def tool(name: str) -> str:
    """A console script of this venv (ansible-galaxy, ansible-doc, ...)."""
    path = VENV_BIN / name
    return str(path) if path.exists() else name


def clean_env(**extra: str) -> dict:
    """The environment without ANSIBLE_* / MOLECULE_* settings of the caller
    (molecule exports its own ansible.cfg, color and plugin paths)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_"))}
    env["PATH"] = "%s:%s" % (VENV_BIN, env.get("PATH", "/usr/bin:/bin"))
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env.update(extra)
    return env


def galaxy_version() -> str:
    import yaml  # noqa: PLC0415 (pyyaml comes with ansible-core)
    return yaml.safe_load((PROJECT_DIR / "galaxy.yml").read_text())["version"]


def build_collection(out_dir: Path) -> Path:
    """ansible-galaxy collection build of the checkout; the tarball's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", str(out_dir),
                           str(PROJECT_DIR)], env=clean_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarball = out_dir / ("%s-%s-%s.tar.gz" % (NAMESPACE, NAME, galaxy_version()))
    assert tarball.is_file(), proc.stdout
    return tarball


def install_collection(tarball: Path, collections_path: Path) -> Path:
    """ansible-galaxy collection install of the tarball into a fresh path.

    --offline --no-deps: no Galaxy is reachable; the dependencies
    (community.docker, community.general) come with the
    ansible package of this venv. Returns <path>/ansible_collections/maverick/rollback.
    """
    assert not collections_path.exists() or not any(collections_path.iterdir()), "not a fresh path"
    collections_path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([tool("ansible-galaxy"), "collection", "install", "--offline", "--no-deps",
                           "-p", str(collections_path), str(tarball)],
                          # Only that path: a copy in ~/.ansible/collections would be "already installed".
                          env=clean_env(ANSIBLE_COLLECTIONS_PATH=str(collections_path)),
                          cwd=collections_path.parent,  # not the checkout: its ansible.cfg points at .collections
                          capture_output=True, text=True, check=False)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = collections_path / "ansible_collections" / NAMESPACE / NAME
    assert (installed / "MANIFEST.json").is_file(), proc.stdout
    return installed


def surveys() -> dict[str, dict]:
    """docs/awx/surveys/<playbook>.json by playbook name."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(SURVEY_DIR.glob("*.json"))}


def survey_answers(playbook: str, **answers) -> dict:
    """Extra vars as AWX sends them for a survey: every question with the
    given answer or its default; optional questions left empty are not sent.
    Defaults are sent as strings ("3", "60.0", "false"), the worst case (an
    answer typed into a text field or given through the API); answers given
    here are sent as given. Other keyword arguments (awx_job_id, ...) are
    added as they are."""
    out = {}
    for question in surveys()[playbook]["spec"]:
        var = question["variable"]
        if var in answers:
            out[var] = answers.pop(var)
            continue
        value = question.get("default", "")
        if value == "" and not question.get("required"):
            continue
        out[var] = str(value).lower() if isinstance(value, bool) else str(value)
    out.update(answers)
    return out
