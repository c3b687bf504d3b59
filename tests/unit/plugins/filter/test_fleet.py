"""fleet_plan, fleet_progress, fleet_outcome: a rollback over a group of app servers, one table of cases."""

from pathlib import Path

import pytest
import yaml

from ansible_collections.maverick.rollback.plugins.filter.fleet_outcome import fleet_outcome
from ansible_collections.maverick.rollback.plugins.filter.fleet_plan import fleet_plan
from ansible_collections.maverick.rollback.plugins.filter.fleet_progress import fleet_progress

TABLE = yaml.safe_load((Path(__file__).parent / "tables" / "fleet.yml").read_text())


def ids(cases):
    return [c["id"] for c in cases]


@pytest.mark.parametrize("case", TABLE["plan"], ids=ids(TABLE["plan"]))
def test_fleet_plan(case):
    result = fleet_plan(iter(case["hosts"]), requested=case["requested"], names=case.get("names"))
    assert {key: result[key] for key in case["expect"]} == case["expect"]
    if not result["refuse"]:
        assert len(result["lines"]) == 1 + len(case["hosts"])


@pytest.mark.parametrize("case", TABLE["progress"], ids=ids(TABLE["progress"]))
def test_fleet_progress(case):
    assert fleet_progress(case["hosts"], case.get("max_fail_percentage", 0)) == case["expect"]


@pytest.mark.parametrize("case", TABLE["outcome"], ids=ids(TABLE["outcome"]))
def test_fleet_outcome(case):
    result = fleet_outcome(case["hosts"], target="A" * 40, allow_mixed=case.get("allow_mixed", False))
    assert {key: result[key] for key in case["expect"]} == case["expect"]
    assert [line.split()[0] for line in result["lines"]] == [h["host"] for h in case["hosts"]]
