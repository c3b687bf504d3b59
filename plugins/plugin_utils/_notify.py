# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The notify callback's decisions, apart from Ansible: which outcome a run had,
what the payload says, how it is masked and bounded, and how it is sent.

Pure Python (standard library) on the controller, so tests/unit drives every
rule with tables of cases and a real HTTP receiver.
"""

from __future__ import annotations

import http.client
import json
import re
from urllib.parse import urlsplit

from ansible_collections.maverick.rollback.plugins.module_utils._rules import (
    MASK, SECRET_KEY_PATTERN, env_value_secrets, mask_text)

OUTCOMES = ("success", "failure", "refusal", "reverted", "aborted")
FORMATS = ("slack", "json")

# Ledger outcomes (module_utils/_ledger_schema.py) by class. An outcome not
# listed is a success (verified, restored, recovered, resolved, noop, ...).
REVERTED_OUTCOMES = frozenset(("reverted", "rolled_back"))
FAILED_OUTCOMES = frozenset(("failed", "unhealthy"))

# A failure before any change: every refusal of the collection says so.
REFUSAL_TEXT = re.compile(r"nothing (?:was|has been)? ?changed|\brefus", re.I)
REFUSAL_TASK = re.compile(r"\A(?:refuse|validate)\b", re.I)

ICONS = {"success": ":white_check_mark:", "failure": ":x:", "refusal": ":no_entry:",
         "reverted": ":leftwards_arrow_with_hook:", "aborted": ":warning:"}
HEADLINES = {"success": "succeeded", "failure": "FAILED", "refusal": "refused (nothing was changed)",
             "reverted": "failed and was REVERTED automatically", "aborted": "ABORTED half-way"}


def record_class(record):
    """The outcome class of one ledger record."""
    outcome = str((record or {}).get("outcome") or "")
    if outcome in REVERTED_OUTCOMES:
        return "reverted"
    if outcome in FAILED_OUTCOMES:
        return "failure"
    return "success"


def is_refusal(failure):
    """A failed task that refused before any change: its message says
    'Nothing was changed' (or 'refusing'), or it is a Refuse/Validate task."""
    return bool(REFUSAL_TEXT.search(str(failure.get("msg") or ""))
                or REFUSAL_TASK.match(str(failure.get("task") or "")))


def classify(aborted=False, failed_hosts=(), unreachable_hosts=(), records=(), last_failures=None):
    """The run's outcome, one of OUTCOMES.

    aborted: the run stopped before v2_playbook_on_stats (signal, crash).
    failed_hosts / unreachable_hosts: hosts the final stats count as failed / unreachable.
    records: ledger records the run wrote, in order,
      each with a 'host' key; the last one per host is the run's word on that host.
    last_failures: host -> the last failure of that host ({'task', 'msg'}).

    Precedence: aborted > failure > reverted > refusal > success. A run whose
    ledger says reverted fails (exit code 2) yet put things back: 'reverted'.
    A failed run with no record whose every failed host refused: 'refusal'.
    """
    if aborted:
        return "aborted"
    last = {}
    for record in records or ():
        last[record.get("host", "")] = record
    classes = {record_class(record) for record in last.values()}
    if "failure" in classes or unreachable_hosts:
        return "failure"
    if "reverted" in classes:
        return "reverted"
    if failed_hosts:
        failures = [(last_failures or {}).get(host) for host in failed_hosts]
        if not last and all(f is not None and is_refusal(f) for f in failures):
            return "refusal"
        return "failure"
    return "success"


# --------------------------------------------------------------------------- masking

def secrets_from(mapping, key_pattern=SECRET_KEY_PATTERN):
    """Secret values of a mapping (environment, extra vars) whose key names a secret."""
    found = set()
    for key, value in (mapping or {}).items():
        if isinstance(value, str) and re.search(key_pattern, str(key), re.I):
            found.update(env_value_secrets(str(key), value, key_pattern))
    return sorted(found)


def url_secrets(url):
    """What of a webhook URL is secret: all of it, its path (Slack's token) and any password."""
    url = str(url or "")
    if not url:
        return []
    parts = urlsplit(url)
    found = [url]
    if len(parts.path) > 1:
        found.append(parts.path + ("?" + parts.query if parts.query else ""))
    if parts.password:
        found.append(parts.password)
    return [s for s in found if len(s) >= 4]


def safe_url(url):
    """A URL as it may be printed: scheme, host and port only."""
    try:
        parts = urlsplit(str(url or ""))
        host = parts.hostname or "?"
        port = ":%s" % parts.port if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    return "%s://%s%s/%s" % (parts.scheme or "?", host, port, MASK if parts.path not in ("", "/") else "")


def mask_data(data, secrets=()):
    """data (dicts, lists, strings) with every string masked (the collection's mask_text)."""
    if isinstance(data, dict):
        return {key: mask_data(value, secrets) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [mask_data(value, secrets) for value in data]
    if isinstance(data, str):
        return mask_text(data, secrets)
    return data


# --------------------------------------------------------------------------- payloads

def headline(run):
    hosts = ", ".join(sorted(run.get("hosts") or {})) or "no hosts"
    text = "%s maverick.rollback %s %s on %s" % (
        ICONS[run["outcome"]], run.get("playbook") or "playbook", HEADLINES[run["outcome"]], hosts)
    if run.get("run_id"):
        text += " (run %s)" % run["run_id"]
    if run.get("awx_job_id"):
        text += " (AWX job %s)" % run["awx_job_id"]
    return text


def text_lines(run, max_lines=15):
    lines = [headline(run)]
    lines += ["%s: %s" % (host, line) for host, line in run.get("summary") or []][:max_lines]
    lines += ["%s: %s failed: %s" % (f.get("host"), f.get("task"), f.get("msg"))
              for f in run.get("errors") or []][:5]
    return lines


def build_payload(run, fmt="json"):
    """The payload for a run (see the callback's DOCUMENTATION), unmasked and unbounded."""
    text = "\n".join(text_lines(run))
    if fmt == "slack":
        return {"text": text}
    return {
        "source": "maverick.rollback",
        "outcome": run["outcome"],
        "playbook": run.get("playbook") or "",
        "hosts": run.get("hosts") or {},
        "run_id": run.get("run_id") or "",
        "awx_job_id": run.get("awx_job_id") or "",
        "check_mode": bool(run.get("check_mode")),
        "records": run.get("records") or [],
        "summary": ["%s: %s" % pair for pair in run.get("summary") or []],
        "errors": run.get("errors") or [],
        "text": text,
    }


def _shrink(data, max_str, max_list):
    if isinstance(data, dict):
        return {key: _shrink(value, max_str, max_list) for key, value in data.items()}
    if isinstance(data, list):
        kept = [_shrink(value, max_str, max_list) for value in data[-max_list:]]
        return (["... %d more" % (len(data) - max_list)] + kept) if len(data) > max_list else kept
    if isinstance(data, str) and len(data) > max_str:
        return data[:max_str] + "... (%d characters cut)" % (len(data) - max_str)
    return data


def encode(payload):
    return json.dumps(payload, sort_keys=True, default=str).encode("utf-8")


def bound_payload(payload, max_bytes):
    """payload cut down (long strings, then long lists, then everything but the text)
    until its JSON fits in max_bytes; 'truncated': true when anything was cut."""
    if len(encode(payload)) <= max_bytes:
        return payload
    for max_str, max_list in ((2000, 50), (500, 20), (200, 10), (100, 5), (60, 2)):
        smaller = _shrink(payload, max_str, max_list)
        if "text" in smaller and len(smaller) > 1:
            smaller["truncated"] = True
        if len(encode(smaller)) <= max_bytes:
            return smaller
    text = str(payload.get("text", ""))
    short = {"text": text[:max(0, max_bytes // 2 - 40)] + "... (cut)"}
    if "outcome" in payload:
        short.update(outcome=payload["outcome"], truncated=True)
    return short


def prepare(run, fmt="json", secrets=(), max_bytes=16384):
    """The bytes to send: payload built, every string masked, then bounded."""
    if fmt not in FORMATS:
        raise ValueError("unknown format %r (known: %s)" % (fmt, ", ".join(FORMATS)))
    return encode(bound_payload(mask_data(build_payload(run, fmt), secrets), max_bytes))


# --------------------------------------------------------------------------- sending

def send(url, body, timeout=5.0):
    """POST body (JSON bytes) to url; None when the receiver took it (2xx), else
    a problem to print, which never names more of the URL than safe_url()."""
    try:
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "webhook URL %s is not http(s)://host/...: nothing sent" % safe_url(url)
        conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(parts.hostname, parts.port, timeout=float(timeout))
        path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json",
                                                           "User-Agent": "maverick.rollback-notify"})
            response = conn.getresponse()
            response.read(1024)
            status = response.status
        finally:
            conn.close()
    except Exception as exc:  # pylint: disable=broad-except  # a webhook never fails the run
        detail = mask_text(str(exc), url_secrets(url))
        return "webhook %s not reached (%s): %s" % (safe_url(url), type(exc).__name__, detail)
    if 200 <= status < 300:
        return None
    return "webhook %s answered HTTP %s: notification not accepted" % (safe_url(url), status)
