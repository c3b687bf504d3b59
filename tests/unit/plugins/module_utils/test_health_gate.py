"""run_gate: one table of answer sequences and the probes each gate makes.

A fake clock: every probe takes 0.1 s and sleep() advances the clock, so the
sequence depends on the rules only (no timing window)."""

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils._health import run_gate, verdict

URL = "http://127.0.0.1:3000/health"
GOOD = {"url": URL, "status": 200, "json": {"commit": "abc1234"}}
DOWN = {"url": URL, "status": -1, "msg": "Connection refused"}
ERR = {"url": URL, "status": 500}
OLD = {"url": URL, "status": 200, "json": {"commit": "def5678"}}


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def gate(answers, successes=3, interval=1.0, deadline=10.0, expected=""):
    """Run the gate over a scripted server: the answers in order, the last one repeated."""
    time, served = FakeTime(), []

    def probe():
        time.now += 0.1
        served.append(answers[min(len(served), len(answers) - 1)])
        return served[-1]

    first, more, elapsed = run_gate(probe, lambda a: verdict(a, [200], expected), time.clock, time.sleep,
                                    successes, interval, deadline)
    return len(first), len(more), elapsed


CASES = [
    # (id, answers, kwargs, (waiting probes, confirming probes))
    ("good-at-once", [GOOD], {}, (1, 2)),
    ("one-success-needed", [GOOD], {"successes": 1}, (1, 0)),
    ("comes-up-after-3", [DOWN, DOWN, ERR, GOOD], {}, (4, 2)),
    ("never-up-stops-at-deadline", [DOWN], {"deadline": 5.0}, (5, 0)),
    ("never-up-short-interval", [DOWN], {"deadline": 6.0, "interval": 0.5}, (11, 0)),  # the 11th starts at 6.0
    ("flaps-after-good", [GOOD, GOOD, ERR, GOOD], {}, (1, 2)),
    ("flaps-on-first-confirm", [GOOD, DOWN, GOOD], {"successes": 4}, (1, 1)),
    ("wrong-commit-until-deadline", [OLD], {"expected": "abc1234", "deadline": 3.0}, (3, 0)),
    ("right-commit-after-old", [OLD, OLD, GOOD], {"expected": "abc1234"}, (3, 2)),
]


@pytest.mark.parametrize("answers,kwargs,probes", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gate_probes(answers, kwargs, probes):
    assert gate(answers, **kwargs)[:2] == probes


def test_the_waiting_never_starts_a_probe_after_the_deadline():
    waiting, confirming, elapsed = gate([DOWN], deadline=5.0, interval=1.0)
    # probes at 0.1, 1.2, 2.3, 3.4, 4.5: a sixth would start at 5.5
    assert (waiting, confirming) == (5, 0) and elapsed == pytest.approx(4.5)


def test_a_good_gate_spends_the_interval_between_its_answers():
    assert gate([GOOD], successes=3, interval=1.0)[2] == pytest.approx(2.3)
