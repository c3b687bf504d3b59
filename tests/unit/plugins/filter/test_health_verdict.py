"""health_verdict: one table of probe results and the verdict each must get."""

import pytest

from ansible_collections.maverick.rollback.plugins.filter.health_verdict import FilterModule, health_verdict
from ansible_collections.maverick.rollback.plugins.module_utils._health import commits_match

URL = "http://127.0.0.1:3000/health"
SHA = "b65522e1bab699cd5a9a58211cf8067bb51b2527"

CASES = [
    # (id, uri result, kwargs, expected verdict)
    ("good", {"status": 200, "url": URL, "json": {"commit": SHA}}, {}, ""),
    ("good-expected-full", {"status": 200, "url": URL, "json": {"commit": SHA}},
     {"expected_commit": SHA}, ""),
    ("good-expected-short", {"status": 200, "url": URL, "json": {"commit": SHA}},
     {"expected_commit": SHA[:7]}, ""),
    ("good-app-reports-short", {"status": 200, "url": URL, "json": {"commit": SHA[:8]}},
     {"expected_commit": SHA}, ""),
    ("refused", {"status": -1, "url": URL, "msg": "Connection refused"}, {},
     "no answer from %s: Connection refused" % URL),
    ("no-status-at-all", {}, {}, "no answer from : connection failed"),
    ("http-500", {"status": 500, "url": URL}, {}, "HTTP 500 from %s (expected 200)" % URL),
    ("503-allowed", {"status": 503, "url": URL}, {"status_codes": ["200", "503"]}, ""),
    ("wrong-commit", {"status": 200, "url": URL, "json": {"commit": "deadbeef" * 5}},
     {"expected_commit": SHA},
     "wrong commit: expected %s, running %s" % (SHA, "deadbeef" * 5)),
    ("too-short-reported", {"status": 200, "url": URL, "json": {"commit": "b65"}},
     {"expected_commit": SHA}, "wrong commit: expected %s, running b65" % SHA),
    ("no-json", {"status": 200, "url": URL, "content": "ok"}, {"expected_commit": SHA},
     "no 'commit' field in the answer from %s" % URL),
    ("custom-field", {"status": 200, "url": URL, "json": {"version": SHA}},
     {"expected_commit": SHA, "commit_field": "version"}, ""),
    ("nested-field", {"status": 200, "url": URL, "json": {"state": "up", "build": {"commit": SHA}}},
     {"expected_commit": SHA, "commit_field": "build.commit"}, ""),
    ("nested-field-wrong", {"status": 200, "url": URL, "json": {"build": {"commit": "deadbeef" * 5}}},
     {"expected_commit": SHA, "commit_field": "build.commit"},
     "wrong commit: expected %s, running %s" % (SHA, "deadbeef" * 5)),
    ("nested-field-missing-step", {"status": 200, "url": URL, "json": {"build": "x"}},
     {"expected_commit": SHA, "commit_field": "build.commit"},
     "no 'build.commit' field in the answer from %s" % URL),
    ("nested-field-is-object", {"status": 200, "url": URL, "json": {"build": {"commit": {"sha": SHA}}}},
     {"expected_commit": SHA, "commit_field": "build.commit"},
     "no 'build.commit' field in the answer from %s" % URL),
    ("commit-not-checked-when-unset", {"status": 200, "url": URL, "json": {}}, {}, ""),
]


@pytest.mark.parametrize("result,kwargs,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_health_verdict(result, kwargs, expected):
    assert health_verdict(result, **kwargs) == expected


@pytest.mark.parametrize("expected,reported,match", [
    (SHA, SHA, True),
    (SHA, SHA.upper(), True),
    (SHA[:7], SHA, True),
    (SHA, SHA[:6], False),
    (SHA, "0" * 40, False),
])
def test_commits_match(expected, reported, match):
    assert commits_match(expected, reported) is match


def test_filter_is_registered():
    assert FilterModule().filters()["health_verdict"] is health_verdict
