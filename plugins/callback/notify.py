# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One webhook per playbook run, whatever the outcome (docs/notifications.md)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: notify
type: notification
short_description: Send one webhook per playbook run, on every outcome
version_added: 0.1.0
description:
  - Sends one notification per playbook run to a webhook, at the end of the run, whatever happened -
    C(success), C(failure), C(refusal) (a validation refused before any change), C(reverted) (the run
    failed and put the previous release back, ledger outcome C(reverted) or C(rolled_back)) or
    C(aborted) (the run was stopped half-way by SIGTERM or SIGINT, or ended without its final stats).
  - The outcome is decided from what the run wrote - the ledger records returned by
    M(maverick.rollback.release_ledger) - and from the final stats and the last failed task per host.
  - The payload is Slack-compatible (V(slack), a single C(text) field) or generic JSON (V(json)) with the outcome,
    playbook, per-host stats, run id, AWX job id, the ledger records, the summary lines and the errors.
  - Every string of the payload is masked with the collection's rule (passwords in URLs, C(password=...),
    values of environment variables and extra vars whose name says PASS, SECRET, TOKEN, KEY, DSN, CRED or
    AUTH, and the webhook URL itself); the payload is cut to O(max_bytes).
  - A webhook that cannot be reached, times out or answers an error gives a warning; it never fails or
    holds up the run longer than O(timeout). Warnings name only the URL's scheme, host and port.
  - A controller killed with SIGKILL (or losing power) cannot send anything; SIGTERM and SIGINT send an
    C(aborted) payload before the run stops.
  - Enable it with C(callbacks_enabled = maverick.rollback.notify) in ansible.cfg or
    E(ANSIBLE_CALLBACKS_ENABLED=maverick.rollback.notify) (AWX, in the environment of the job template or the instance); without a URL it sends nothing.
author:
  - Maverick Applications SRE (@maverickapplications)
requirements:
  - enable in configuration (callbacks_enabled)
options:
  url:
    description:
      - Webhook URL (http or https). Empty - nothing is sent.
      - Treated as a secret - never printed, masked in the payload.
    type: str
    default: ''
    env:
      - name: MAVERICK_NOTIFY_URL
    ini:
      - section: callback_notify
        key: url
  format:
    description: Payload format.
    type: str
    default: json
    choices: [json, slack]
    env:
      - name: MAVERICK_NOTIFY_FORMAT
    ini:
      - section: callback_notify
        key: format
  timeout:
    description: Seconds to wait for the webhook (connect and answer) before giving up with a warning.
    type: float
    default: 5
    env:
      - name: MAVERICK_NOTIFY_TIMEOUT
    ini:
      - section: callback_notify
        key: timeout
  max_bytes:
    description: Largest payload sent, in bytes; longer strings and lists are cut first.
    type: int
    default: 16384
    env:
      - name: MAVERICK_NOTIFY_MAX_BYTES
    ini:
      - section: callback_notify
        key: max_bytes
"""

import atexit
import json
import os
import signal

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.maverick.rollback.plugins.plugin_utils._notify import (
    classify, prepare, secrets_from, send, url_secrets)

LEDGER_ACTIONS = ("maverick.rollback.release_ledger", "release_ledger")
SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _result(result):
    return getattr(result, "_result", None) or getattr(result, "result", None) or {}


def _task(result):
    return getattr(result, "_task", None) or getattr(result, "task", None)


def _host(result):
    host = getattr(result, "_host", None) or getattr(result, "host", None)
    return getattr(host, "name", None) or str(host)


def _task_name(task):
    try:
        return str(task.get_name() or "")
    except AttributeError:
        return str(getattr(task, "name", "") or "")


def _text(value):
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value if value is not None else "")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "maverick.rollback.notify"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pid = os.getpid()
        self._sent = False
        self._playbook = ""
        self._records = []
        self._summary = {}
        self._failures = {}
        self._errors = []
        self._run_id = ""
        self._task_now = ""
        self._secrets = set()
        self._awx_job_id = os.environ.get("JOB_ID", "")
        self._previous = {}
        for signum in SIGNALS:
            try:
                self._previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._on_signal)
            except (ValueError, OSError):  # not the main thread: atexit still covers the run
                pass
        atexit.register(self._at_exit)

    # ------------------------------------------------------------------ options

    def _option(self, name, default=None):
        try:
            value = self.get_option(name)
        except KeyError:
            return default
        return default if value is None else value

    # ------------------------------------------------------------------ events

    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.basename(getattr(playbook, "_file_name", "") or "")

    def v2_playbook_on_play_start(self, play):
        try:
            extra = play.get_variable_manager().extra_vars
        except AttributeError:
            extra = {}
        self._secrets.update(secrets_from(dict(extra)))
        job = extra.get("awx_job_id", extra.get("tower_job_id"))
        if job not in (None, ""):
            self._awx_job_id = str(job)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_now = _task_name(task)

    def v2_runner_on_ok(self, result):
        data, task, host = _result(result), _task(result), _host(result)
        if not isinstance(data, dict):
            return
        action = getattr(task, "resolved_action", None) or getattr(task, "action", "")
        name = _task_name(task)
        if action in LEDGER_ACTIONS and isinstance(data.get("line"), str):
            try:
                record = json.loads(data["line"])
            except ValueError:
                record = None
            if isinstance(record, dict):
                self._records.append(dict(record, host=host))
                self._run_id = str(record.get("run_id") or self._run_id)
        for key, value in (data.get("ansible_facts") or {}).items():
            if str(key).endswith("run_id") and isinstance(value, str) and value:
                self._run_id = value
        if action in ("ansible.builtin.debug", "debug", "ansible.legacy.debug") and "summar" in name.lower():
            msg = data.get("msg")
            lines = msg if isinstance(msg, list) else [msg]
            self._summary[host] = [str(line) for line in lines if line not in (None, "")]

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if ignore_errors:
            return
        data, task = _result(result), _task(result)
        failure = {"host": _host(result), "task": _task_name(task),
                   "msg": _text(data.get("msg") if isinstance(data, dict) else data)}
        self._failures[failure["host"]] = failure
        self._errors.append(failure)

    def v2_runner_on_unreachable(self, result):
        data = _result(result)
        failure = {"host": _host(result), "task": _task_name(_task(result)),
                   "msg": "UNREACHABLE: " + _text(data.get("msg") if isinstance(data, dict) else data)}
        self._failures[failure["host"]] = failure
        self._errors.append(failure)

    def v2_playbook_on_stats(self, stats):
        hosts = {host: stats.summarize(host) for host in sorted(stats.processed)}
        outcome = classify(
            failed_hosts=[h for h, s in hosts.items() if s.get("failures")],
            unreachable_hosts=[h for h, s in hosts.items() if s.get("unreachable")],
            records=self._records, last_failures=self._failures)
        self._notify(outcome, hosts)

    # ------------------------------------------------------------------ aborted runs

    def _on_signal(self, signum, frame):
        if os.getpid() == self._pid:  # a forked worker inherits the handler: only the controller sends
            self._notify("aborted", {}, "%s during task '%s'" % (signal.Signals(signum).name, self._task_now))
        previous = self._previous.get(signum)
        if callable(previous):
            try:
                previous(signum, frame)
                return
            except ValueError:
                # ansible-core 2.19's handler trips over a worker already closed ("process
                # object is closed") and the run would end as an internal error (rc 250):
                # end it by the signal, as that handler meant to.
                pass
        if signum == signal.SIGINT and previous != signal.SIG_IGN:
            raise KeyboardInterrupt()
        elif previous != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _at_exit(self):
        if os.getpid() == self._pid and not self._sent and self._playbook:
            self._notify("aborted", {}, "the run ended before its final stats, during task '%s'" % self._task_now)

    # ------------------------------------------------------------------ sending

    def _notify(self, outcome, hosts, reason=""):
        if self._sent:
            return
        self._sent = True
        url = str(self._option("url", "") or "")
        if not url:
            return
        hosts = hosts or {host: {} for host in sorted({f["host"] for f in self._errors}
                                                      | {r["host"] for r in self._records} | set(self._summary))}
        run = {
            "outcome": outcome, "playbook": self._playbook, "hosts": hosts, "run_id": self._run_id,
            "awx_job_id": self._awx_job_id, "check_mode": bool(context.CLIARGS.get("check", False)),
            "records": self._records,
            "summary": [(host, line) for host, lines in sorted(self._summary.items()) for line in lines],
            "errors": self._errors[-10:] + ([{"host": "controller", "task": "", "msg": reason}] if reason else []),
        }
        secrets = self._secrets | set(secrets_from(os.environ)) | set(url_secrets(url))
        try:
            body = prepare(run, str(self._option("format", "json")), sorted(secrets), int(self._option("max_bytes", 16384)))
        except Exception as exc:  # pylint: disable=broad-except  # never fail the run
            self._display.warning("maverick.rollback.notify: no notification built: %s" % exc)
            return
        problem = send(url, body, float(self._option("timeout", 5)))
        if problem:
            self._display.warning("maverick.rollback.notify: %s (the run is not affected)" % problem)
        else:
            self._display.vv("maverick.rollback.notify: %s notification sent" % outcome)
