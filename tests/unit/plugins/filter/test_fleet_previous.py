"""fleet_previous: commit=previous on a group is the newest release healthy on every host, one table of cases.

The table gives each host's ledger; the records go through the real _ledger.annotate (what
release_ledger returns as `commits`), so the filter reads what a host's ledger read gives it.
"""

import datetime
from pathlib import Path

import pytest
import yaml

from ansible_collections.maverick.rollback.plugins.filter.fleet_previous import fleet_previous
from ansible_collections.maverick.rollback.plugins.module_utils._ledger import annotate, previous_healthy

TABLE = yaml.safe_load((Path(__file__).parent / "tables" / "fleet_previous.yml").read_text())["cases"]
START = datetime.datetime(2026, 12, 1, 3, 0, tzinfo=datetime.timezone.utc)


def sha(letter):
    return letter * 40 if letter else ""


def records(host):
    out = []
    for minute, line in enumerate(host["ledger"]):
        commit, outcome = line.split()
        when = START + datetime.timedelta(minutes=minute + host.get("clock", 0))
        action = "fleet_rollback" if outcome == "fleet" else "rollback"
        out.append({"action": action, "to_commit": sha(commit), "outcome": "healthy" if outcome == "fleet" else outcome,
                    "time": when.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return out


def read(host):
    """What the role's per-host read hands the filter (__app_fleet_ledger)."""
    if not isinstance(host, dict):
        return {}
    return {"host": host["host"], "current": sha(host["current"]), "commits": annotate(records(host))}


@pytest.mark.parametrize("case", TABLE, ids=[c["id"] for c in TABLE])
def test_fleet_previous(case):
    result = fleet_previous(iter([read(h) for h in case["hosts"]]), names=case.get("names"))
    assert result["commit"] == sha(case["expect"])
    assert result["lines"] and (result["commit"][:12] in result["lines"][0] if result["commit"] else True)
    if "line" in case:
        assert result["lines"] == [case["line"]]


@pytest.mark.parametrize("case", [c for c in TABLE if len(c["hosts"]) == 1], ids=lambda c: c["id"])
def test_one_host_is_what_previous_means_for_one_server(case):
    host = case["hosts"][0]
    single = previous_healthy(records(host), sha(host["current"]))
    assert fleet_previous([read(host)])["commit"] == (single["to_commit"] if single else "")
