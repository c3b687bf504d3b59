"""host_pattern: every play's hosts line, checked, and the collection's filters loaded once."""

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.filter.host_pattern import host_pattern

ROOT = Path(__file__).resolve().parents[4]

CASES = [
    # (value, pattern or None = refused)
    ("lifetracker", "lifetracker"),
    ("  fleet ", "fleet"),
    ("web:&eu", "web:&eu"),
    ("mr-fleet-1,mr-fleet-2", "mr-fleet-1,mr-fleet-2"),
    ("", None),
    ("   ", None),
    (None, None),
    ("fleet\nall", None),
    ("fleet\r", "fleet"),  # trailing whitespace is trimmed first
    ("a\rb", None),
]


@pytest.mark.parametrize("value,pattern", CASES, ids=[repr(c[0]) for c in CASES])
def test_host_pattern(value, pattern):
    if pattern is None:
        with pytest.raises(AnsibleFilterError, match="not a host pattern"):
            host_pattern(value)
    else:
        assert host_pattern(value) == pattern


def plays():
    for path in sorted((ROOT / "playbooks").glob("*.yml")):
        for play in yaml.safe_load(path.read_text()):
            if "hosts" in play:
                yield path.name, play["name"], play["hosts"]


@pytest.mark.parametrize("playbook,name,hosts", list(plays()), ids=lambda v: str(v)[:40])
def test_every_play_checks_its_hosts_with_the_filter(playbook, name, hosts):
    """The filter on the hosts line loads the collection's filters in the main process
    (host_pattern's description): one play without it costs every task of that play 70 ms a host."""
    assert hosts.strip().startswith("{{") and hosts.rstrip().endswith("| maverick.rollback.host_pattern }}"), hosts
