# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health gate's rules, one copy: judging one /health answer (the health_verdict
and health_commit filters) and the gate's probe sequence (the health_probe module).

An answer is a dict shaped like an ansible.builtin.uri result: status (-1 when there
was no answer), url, msg, json (the body when it is JSON)."""

from __future__ import annotations

MIN_SHA_PREFIX = 7


def commits_match(expected, reported):
    """True when one SHA is a prefix of the other (apps may report short SHAs)."""
    expected, reported = expected.strip().lower(), reported.strip().lower()
    if len(reported) < MIN_SHA_PREFIX:
        return False
    return expected.startswith(reported) or reported.startswith(expected)


def reported_field(body, path):
    """The value at a dotted path of a JSON object ('' when any step is missing)."""
    for key in path.split("."):
        if not isinstance(body, dict) or key not in body:
            return ""
        body = body[key]
    return "" if body is None or isinstance(body, (dict, list)) else str(body)


def verdict(answer, status_codes=(200,), expected_commit="", commit_field="commit"):
    """'' for a good answer, else why it is not good."""
    answer = answer or {}
    status = int(answer.get("status", -1))
    url = answer.get("url", "")
    if status == -1:
        return "no answer from %s: %s" % (url, answer.get("msg", "connection failed"))
    if status not in [int(code) for code in status_codes]:
        return "HTTP %d from %s (expected %s)" % (status, url, "/".join(str(c) for c in status_codes))
    if expected_commit:
        reported = reported_field(answer.get("json"), commit_field)
        if not reported:
            return "no '%s' field in the answer from %s" % (commit_field, url)
        if not commits_match(expected_commit, reported):
            return "wrong commit: expected %s, running %s" % (expected_commit, reported)
    return ""


def run_gate(probe, judge, clock, sleep, successes, interval, deadline):
    """The gate's probe sequence; returns (first, more, elapsed_s).

    judge(answer) is verdict() bound to the gate's settings ('' when good).
    Wait: probe until an answer is good or the next probe would start after the
    deadline (seconds from the first probe), one probe every `interval` seconds.
    Confirm: after a good answer, successes - 1 more, `interval` apart; the first
    bad one ends it (the gate is then unstable). `first` holds the waiting probes'
    answers (the last one is judged), `more` the confirming ones.
    """
    def good(answer):
        return judge(answer) == ""

    started = clock()
    first = [probe()]
    while not good(first[-1]) and clock() - started + interval <= deadline:
        sleep(interval)
        first.append(probe())
    more = []
    while good(first[-1]) and len(more) < successes - 1 and (not more or good(more[-1])):
        sleep(interval)
        more.append(probe())
    return first, more, round(clock() - started, 2)
