"""health_commit: the commit a probe's answer reports, at the app's (possibly dotted) field."""

import pytest

from ansible_collections.maverick.rollback.plugins.filter.health_commit import FilterModule, health_commit

SHA = "8d4c741e41b2e8430d4d59ae0248de715b7b3b93"

CASES = [
    # (id, uri result, commit field, expected)
    ("top-level", {"status": 200, "json": {"commit": SHA}}, "commit", SHA),
    ("nested", {"status": 200, "json": {"state": "up", "build": {"commit": SHA}}}, "build.commit", SHA),
    ("nested-on-a-500", {"status": 500, "json": {"state": "error", "build": {"commit": SHA}}}, "build.commit", SHA),
    ("dotted-name-is-a-path-not-a-key", {"status": 200, "json": {"build.commit": SHA}}, "build.commit", ""),
    ("missing-step", {"status": 200, "json": {"build": "x"}}, "build.commit", ""),
    ("object-value", {"status": 200, "json": {"build": {"commit": {"sha": SHA}}}}, "build.commit", ""),
    ("null-value", {"status": 200, "json": {"commit": None}}, "commit", ""),
    ("number-value", {"status": 200, "json": {"commit": 42}}, "commit", "42"),
    ("no-json", {"status": 200, "content": "ok"}, "commit", ""),
    ("json-is-a-list", {"status": 200, "json": [SHA]}, "commit", ""),
    ("no-answer", {"status": -1, "msg": "Connection refused"}, "commit", ""),
    ("no-result", None, "commit", ""),
    ("no-commit-field-reports-none", {"status": 200, "json": {"commit": SHA}}, "", ""),
]


@pytest.mark.parametrize("result,field,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_health_commit(result, field, expected):
    assert health_commit(result, field) == expected


def test_registered_under_its_name():
    assert FilterModule().filters()["health_commit"] is health_commit
