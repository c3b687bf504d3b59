"""The collection as users get it: `ansible-galaxy collection build`, install
into a fresh path, and every module, filter and role renders with ansible-doc
from the INSTALLED copy (not the checkout; tests/check_docs.sh covers that)."""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from ecosystem_helpers import PROJECT_DIR, build_collection, clean_env, galaxy_version, install_collection, tool


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("installed")
    tarball = build_collection(work / "dist")
    path = work / "collections"
    return tarball, path, install_collection(tarball, path)


def doc(path: Path, *args: str):
    """ansible-doc with only the fresh collections path (cwd outside the checkout:
    its ansible.cfg would point at .collections)."""
    proc = subprocess.run([tool("ansible-doc"), *args], cwd=path, capture_output=True, text=True, timeout=300,
                          env=clean_env(ANSIBLE_COLLECTIONS_PATH=str(path)), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "[WARNING]" not in proc.stderr and "[ERROR]" not in proc.stderr, proc.stderr
    return proc.stdout


def test_tarball_holds_the_content_and_not_the_development_tree(installed):
    tarball = installed[0]
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    for needed in ("MANIFEST.json", "FILES.json", "meta/runtime.yml", "README.md", "playbooks/quick_rollback.yml",
                   "roles/app_rollback/meta/argument_specs.yml", "plugins/modules/app_lock.py"):
        assert needed in names, needed
    for top in (".venv", ".sandbox", ".collections", "molecule", "sandbox", ".ci", "bench", "Makefile"):
        assert not any(n == top or n.startswith(top + "/") for n in names), top
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_installed_where_asked_with_the_galaxy_version(installed):
    path, copy = installed[1:]
    proc = subprocess.run([tool("ansible-galaxy"), "collection", "list", "maverick.rollback", "--format", "json",
                           "-p", str(path)], cwd=path, env=clean_env(ANSIBLE_COLLECTIONS_PATH=str(path)),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found == {str(path / "ansible_collections"): {"maverick.rollback": {"version": galaxy_version()}}}
    manifest = json.loads((copy / "MANIFEST.json").read_text())["collection_info"]
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("maverick", "rollback", galaxy_version())


def test_every_module_renders_from_the_installed_copy(installed):
    path, copy = installed[1:]
    expected = sorted(p.stem for p in (PROJECT_DIR / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    listed = json.loads(doc(path, "-t", "module", "-l", "maverick.rollback", "--json"))
    assert sorted(name.split(".")[-1] for name in listed) == expected
    docs = json.loads(doc(path, "-t", "module", "--json", *listed))
    for name, data in docs.items():
        assert data["doc"]["filename"].startswith(str(copy) + "/plugins/modules/"), (name, data["doc"]["filename"])
        assert data["doc"]["short_description"] and data["doc"]["options"] is not None, name
        assert data["examples"] and data["return"] is not None, name
    # The text rendering too (what an operator reads).
    for name in listed:
        assert "OPTIONS" in doc(path, "-t", "module", name)


def test_every_filter_renders_from_the_installed_copy(installed):
    path, copy = installed[1:]
    listed = json.loads(doc(path, "-t", "filter", "-l", "maverick.rollback", "--json"))
    sources = {p.stem for p in (PROJECT_DIR / "plugins" / "filter").glob("*.py")}
    assert listed and sources <= {name.split(".")[-1] for name in listed}
    docs = json.loads(doc(path, "-t", "filter", "--json", *listed))
    for name, data in docs.items():
        assert data["doc"]["filename"].startswith(str(copy) + "/plugins/filter/"), name


def test_every_role_renders_from_the_installed_copy(installed):
    path, copy = installed[1:]
    roles = sorted(p.parent.parent.name for p in (PROJECT_DIR / "roles").glob("*/meta/argument_specs.yml"))
    docs = json.loads(doc(path, "-t", "role", "--json", *("maverick.rollback." + r for r in roles)))
    assert sorted(name.split(".")[-1] for name in docs) == roles
    for name, data in docs.items():
        assert data["path"] == str(copy), (name, data["path"])
        assert "main" in data["entry_points"], name
        for entry, spec in data["entry_points"].items():
            assert spec.get("short_description") and spec.get("options"), (name, entry)
    for role in roles:
        text = doc(path, "-t", "role", "maverick.rollback." + role)
        assert re.search(r"ENTRY POINT: \W*main\W", text) and "(%s)" % copy in text, text[:500]
