"""changelogs/ (antsibull-changelog): the fragments lint clean, and releasing
the galaxy.yml version from them (in a temporary copy: 0.1.0 is unreleased)
writes CHANGELOG.md with every section, module and filter."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ecosystem_helpers import PROJECT_DIR, clean_env, galaxy_version, tool

FRAGMENTS = PROJECT_DIR / "changelogs" / "fragments"


def changelog(*args: str, cwd: Path, collections: Path | None = None):
    env = clean_env(**({"ANSIBLE_COLLECTIONS_PATH": str(collections)} if collections else {}))
    return subprocess.run([tool("antsibull-changelog"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_version_is_0x_semver():
    assert re.fullmatch(r"0\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)", galaxy_version())


def test_lint_passes():
    proc = changelog("lint", cwd=PROJECT_DIR)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr
    assert len(list(FRAGMENTS.glob("*.yml"))) >= 5


@pytest.fixture
def copy(tmp_path):
    """The collection at ansible_collections/maverick/rollback (antsibull-changelog
    asks ansible-doc for the plugins, which needs that layout)."""
    root = tmp_path / "ansible_collections" / "maverick" / "rollback"
    root.mkdir(parents=True)
    for name in ("galaxy.yml", "CHANGELOG.md"):
        shutil.copy(PROJECT_DIR / name, root / name)
    for name in ("changelogs", "plugins", "roles", "playbooks", "meta"):
        shutil.copytree(PROJECT_DIR / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path, root


def test_lint_refuses_a_bad_fragment(copy):
    root = copy[1]
    (root / "changelogs" / "fragments" / "bad.yml").write_text("not_a_section:\n  - x\nbugfixes: just a string\n")
    proc = changelog("lint", cwd=root)
    assert proc.returncode != 0 and "bad.yml" in proc.stdout, proc.stdout + proc.stderr


def test_release_writes_the_changelog(copy):
    collections, root = copy
    proc = changelog("release", "--date", "2026-12-01", cwd=root, collections=collections)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not list((root / "changelogs" / "fragments").glob("*.yml"))  # consumed by the release
    data = yaml.safe_load((root / "changelogs" / "changelog.yaml").read_text())
    release = data["releases"][galaxy_version()]
    assert release["release_date"] == "2026-12-01"
    modules = sorted(p.stem for p in (PROJECT_DIR / "plugins" / "modules").glob("*.py"))
    assert sorted(m["name"] for m in release["modules"]) == modules
    assert sorted(p["name"] for p in release["plugins"]["filter"]) == sorted(
        p.stem for p in (PROJECT_DIR / "plugins" / "filter").glob("*.py"))
    text = (root / "CHANGELOG.md").read_text().replace("\\", "")
    assert "## v%s" % galaxy_version() in text
    for section in ("Release Summary", "Major Changes", "Minor Changes", "Bugfixes", "New Modules", "New Plugins"):
        assert "### " + section in text, section
    for module in modules:
        assert "maverick.rollback.%s - " % module in text, module
    # Every fragment entry made it (first words of each).
    for fragment in FRAGMENTS.glob("*.yml"):
        for section, entries in yaml.safe_load(fragment.read_text()).items():
            for entry in [entries] if isinstance(entries, str) else entries:
                words = " ".join(entry.replace("``", "").split()[:4])
                assert words in text.replace("<code>", "").replace("</code>", ""), (fragment.name, words)
