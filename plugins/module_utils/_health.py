# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health gate's rules, one copy: judging one /health answer (the health_verdict
and health_commit filters) and the gate's probe sequence (the health_probe module).

An answer is a dict shaped like an ansible.builtin.uri result: status (-1 when there
was no answer), url, msg, json (the body when it is JSON)."""

from __future__ import annotations

import json
import time

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


def reported_commit(answer, commit_field="commit"):
    """The commit an answer reports at commit_field ('' when absent, or when the app reports none: field '')."""
    return reported_field((answer or {}).get("json"), commit_field) if commit_field else ""


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


def gate_result(probe, url, status_codes=(200,), expected_commit="", commit_field="commit", deadline=60):
    """The gate's verdict from a probe sequence (health_probe's result, or release_switch's `gate`):
    healthy, reason ('' when healthy), url, status and commit of the last answer, expected_commit,
    attempts, elapsed_s - the health_check role's health_check_result."""
    first, more = probe["first"], probe["more"]
    later = [why for why in (verdict(answer, status_codes, expected_commit, commit_field) for answer in more) if why]
    if probe["verdict"]:
        reason = "unhealthy after %ss (deadline %ss, %d probes): %s" % (
            probe["elapsed_s"], float(deadline), len(first), probe["verdict"])
    elif later:
        reason = "unstable: a later answer was bad after a good one: " + later[0]
    else:
        reason = ""
    last = (first + more)[-1]
    return dict(healthy=not reason, reason=reason, url=url, status=int(last.get("status", -1)),
                commit=reported_commit(last, commit_field),
                expected_commit=expected_commit, attempts=len(first) + len(more), elapsed_s=float(probe["elapsed_s"]))


# The gate's options: health_probe's, and release_switch's `gate` (checked against this spec there).
GATE_SPEC = dict(
    url=dict(type="str", required=True),
    status_codes=dict(type="list", elements="int", default=[200]),
    expected_commit=dict(type="str", default=""),
    commit_field=dict(type="str", default="commit"),
    successes=dict(type="int", default=3),
    interval=dict(type="float", default=1.0),
    deadline=dict(type="float", default=60),
    request_timeout=dict(type="int", default=5),
    validate_certs=dict(type="bool", default=True),
)
# A /health body is small; more than this is not read (and not returned).
MAX_BODY = 1 << 20


def gate_options(raw):
    """(the gate's options checked against GATE_SPEC with its defaults, '') or (None, why they are refused):
    release_switch's `gate`, a dict of health_probe's options."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    checked = ArgumentSpecValidator(GATE_SPEC).validate(raw)
    if checked.error_messages:
        return None, "; ".join(checked.error_messages)
    options = checked.validated_parameters
    why = gate_refusal(options)
    return (None, why) if why else (options, "")


def gate_refusal(params):
    """Why the gate's options are refused ('' when they are fine)."""
    # urllib would also open file:// and ftp:// URLs.
    if not params["url"].lower().startswith(("http://", "https://")):
        return "the health gate probes http(s) URLs only, got %r" % params["url"]
    if params["successes"] < 1 or params["interval"] <= 0 or params["deadline"] < 1:
        return "the health gate needs successes >= 1, interval > 0 and deadline >= 1"
    return ""


def answer_of(module, url, timeout):
    """One GET, as a uri-shaped answer: status (-1 without an answer), msg, json."""
    from ansible.module_utils.urls import fetch_url  # here: the filters import this file on the controller

    response, info = fetch_url(module, url, method="GET", timeout=timeout)
    body = response.read(MAX_BODY) if response else info.get("body", b"")
    answer = {"url": url, "status": int(info.get("status", -1)), "msg": info.get("msg", "")}
    try:
        answer["json"] = json.loads(body)
    except (TypeError, ValueError):
        pass
    return answer


def probe_gate(module, params):
    """Probes params["url"] (GATE_SPEC's options) until good and confirmed or the deadline: health_probe's
    result - first, more, elapsed_s, verdict (of the last waiting answer), healthy."""
    module.params["validate_certs"] = params["validate_certs"]  # fetch_url reads it there (nested options too)

    def judge(answer):
        return verdict(answer, params["status_codes"], params["expected_commit"], params["commit_field"])

    first, more, elapsed = run_gate(lambda: answer_of(module, params["url"], params["request_timeout"]), judge,
                                    time.monotonic, time.sleep, params["successes"], params["interval"], params["deadline"])
    healthy = all(judge(answer) == "" for answer in first[-1:] + more) and len(more) == params["successes"] - 1
    return dict(first=first, more=more, elapsed_s=elapsed, verdict=judge(first[-1]), healthy=healthy)
