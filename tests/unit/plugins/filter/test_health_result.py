"""health_result: the health gate's verdict from a probe sequence, one rule for the health_check
role and the app_rollback gate (release_switch's `gate`)."""

import pytest

from ansible_collections.maverick.rollback.plugins.filter.health_result import health_result

SHA = "425da83ab2e6e51e85116ef52ea6119fe9b4e709"
URL = "http://127.0.0.1:3000/health"


def answer(status=200, commit=SHA, msg=""):
    out = {"url": URL, "status": status, "msg": msg}
    if commit is not None:
        out["json"] = {"commit": commit, "build": {"commit": commit}}
    return out


def probe(first, more=(), elapsed=1.02, verdict=""):
    return {"first": list(first), "more": list(more), "elapsed_s": elapsed, "verdict": verdict}


GOOD = answer()
OLD = answer(commit="b65522e1bab699cd5a9a58211cf8067bb51b2527")
DOWN = {"url": URL, "status": -1, "msg": "Connection refused"}

# (id, probe, options) -> (healthy, reason, status, commit, attempts)
CASES = [
    ("three good answers", probe([GOOD], [GOOD, GOOD]), {"expected_commit": SHA[:12]},
     (True, "", 200, SHA, 3)),
    ("waited through a refusal and the old commit", probe([DOWN, OLD, GOOD], [GOOD, GOOD], 2.5), {"expected_commit": SHA},
     (True, "", 200, SHA, 5)),
    ("the deadline passed on the old commit",
     probe([OLD, OLD], [], 90.31, "wrong commit: expected %s, running %s" % (SHA, OLD["json"]["commit"])),
     {"expected_commit": SHA, "deadline": 90},
     (False, "unhealthy after 90.31s (deadline 90.0s, 2 probes): wrong commit: expected %s, running %s"
      % (SHA, OLD["json"]["commit"]), 200, OLD["json"]["commit"], 2)),
    ("never answered", probe([DOWN], [], 1.0, "no answer from %s: Connection refused" % URL), {"deadline": 1},
     (False, "unhealthy after 1.0s (deadline 1.0s, 1 probes): no answer from %s: Connection refused" % URL, -1, "", 1)),
    ("unstable: a 503 after a good answer", probe([GOOD], [GOOD, answer(503)]), {},
     (False, "unstable: a later answer was bad after a good one: HTTP 503 from %s (expected 200)" % URL, 503, SHA, 3)),
    ("a status code the app declares healthy", probe([answer(204)], [answer(204)]), {"status_codes": ["204"]},
     (True, "", 204, SHA, 2)),
    ("a nested commit field", probe([GOOD]), {"commit_field": "build.commit", "expected_commit": SHA},
     (True, "", 200, SHA, 1)),
    ("an app that reports no commit", probe([answer(commit=None)]), {"commit_field": ""},
     (True, "", 200, "", 1)),
]


@pytest.mark.parametrize("sequence,options,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_health_result(sequence, options, expected):
    result = health_result(sequence, URL, **options)
    assert (result["healthy"], result["reason"], result["status"], result["commit"], result["attempts"]) == expected
    assert result["url"] == URL and result["elapsed_s"] == float(sequence["elapsed_s"])
    assert result["expected_commit"] == options.get("expected_commit", "")
