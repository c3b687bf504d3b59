# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the emergency restart's read-only probes found, as one dict."""

from __future__ import annotations

DOCUMENTATION = r"""
name: restart_diagnosis
short_description: Judge the emergency restart's probes (containers, database, /health, disk, memory)
version_added: 0.1.0
description:
  - Takes the registered results of the read-only probes of the emergency_restart role and
    returns the diagnosis M(maverick.rollback.restart_plan) decides from.
  - Services, in this order - the database service, the services that use it, the services
    C(docker compose config --services) lists, then any other service C(docker compose ps)
    shows. A service without a container is C(missing).
  - C(db_here) is false when this host's Compose project does not run the database (an app
    server of a group that reaches another host's database - docs/fleet.md) - config listed
    its services and the database service is not among them, and no container of it exists.
    The database service is then left out of C(services).
  - Service names are inputs; none is built in.
options:
  _input:
    description:
      - Registered results by probe - C(head) (git rev-parse HEAD), C(services) (compose config
        --services), C(ps) (compose ps --all --format json), C(pg) (pg_isready in the database
        service), C(health) (M(ansible.builtin.uri) of /health), C(web) (uri of the web front
        end; absent or skipped - not probed), C(df) (df -P -k), C(meminfo) (M(ansible.builtin.slurp) of /proc/meminfo).
      - A skipped or missing probe counts as not answered.
    type: dict
    required: true
  db_service:
    description: Compose service of the database.
    type: str
    required: true
  db_clients:
    description: Compose services that use the database (listed right after it).
    type: list
    elements: str
    default: []
  health_service:
    description: Compose service that answers the /health probe (its failure explains why it is broken).
    type: str
    default: ""
  web_service:
    description: Compose service that answers the web probe.
    type: str
    default: ""
  commit_field:
    description: Where the health answer's JSON reports the running commit (a dotted path, C(app_health_commit_field)); empty when it reports none.
    type: str
    default: commit
  status_codes:
    description: HTTP statuses that count as healthy (C(app_health_status_codes)).
    type: list
    elements: int
    default: [200]
"""

EXAMPLES = r"""
- name: Judge what the diagnosis found
  ansible.builtin.set_fact:
    diagnosis: >-
      {{ {'head': head, 'services': services_raw, 'ps': ps_raw, 'pg': pg_probe, 'health': health_probe,
          'web': web_probe, 'df': df, 'meminfo': meminfo}
         | maverick.rollback.restart_diagnosis('postgres', ['api', 'worker'], health_service='api', web_service='web') }}
"""

RETURN = r"""
_value:
  description: The diagnosis.
  type: dict
  contains:
    commit: {description: "The checkout's HEAD, empty when git failed.", type: str}
    compose_ok: {description: Whether docker compose ps worked., type: bool}
    compose_error: {description: Its last stderr line., type: str}
    services:
      description: Per service (in the order above) C(state) (C(missing) without a container), C(health), C(exit_code), C(status), C(id).
      type: dict
    db_here: {description: Whether this host's Compose project runs the database (false - left out of C(services))., type: bool}
    db_ready: {description: Whether pg_isready answered 0., type: bool}
    db_ready_output: {description: What pg_isready printed (empty when not run)., type: str}
    api_verdict: {description: "M(maverick.rollback.health_verdict) of the /health probe, empty when good.", type: str}
    api_commit: {description: Commit the /health answer reports, type: str}
    api_database: {description: The C(database) field of the /health answer., type: str}
    web_verdict: {description: Verdict of the web probe, empty when good or not probed., type: str}
    probes: {description: "Service to why its probe says it is broken (C(/health: ...) with the database state the app reports).", type: dict}
    health_service: {description: O(health_service)., type: str}
    disk: {description: "Per filesystem C(mount), C(filesystem), C(use_percent), C(avail_mb).", type: list}
    memory: {description: "C(MemTotal_mb), C(MemAvailable_mb), C(SwapTotal_mb), C(SwapFree_mb) when known.", type: dict}
"""

import base64

from ansible_collections.maverick.rollback.plugins.filter.compose_ps import compose_ps
from ansible_collections.maverick.rollback.plugins.filter.health_commit import health_commit
from ansible_collections.maverick.rollback.plugins.module_utils._health import verdict as health_verdict

WEB_OK = [200, 301, 302, 304]
MEMINFO_KEYS = ("MemTotal:", "MemAvailable:", "SwapTotal:", "SwapFree:")


def _answered(result):
    return isinstance(result, dict) and not result.get("skipped")


def _int(text):
    try:
        return int(str(text).strip())
    except ValueError:
        return 0


def _mb(kib):
    return int(round(_int(kib) / 1024))


def _unique(items):
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def service_order(db_service, db_clients, config, containers):
    listed = config.get("stdout_lines", str(config.get("stdout") or "").splitlines()) if config.get("rc", 1) == 0 else []
    return _unique([db_service] + list(db_clients or []) + list(listed) + [c.get("Service") for c in containers])


def db_here(db_service, config, containers):
    """Whether this host's Compose project runs the database: unknown (config failed) counts as yes."""
    if config.get("rc", 1) != 0 or any(c.get("Service") == db_service for c in containers):
        return True
    return db_service in config.get("stdout_lines", str(config.get("stdout") or "").splitlines())


def service_states(services, containers):
    by_service = {c.get("Service"): c for c in containers}
    states = {}
    for name in services:
        c = by_service.get(name, {})
        states[name] = {"state": c.get("State", "missing"), "health": c.get("Health", ""),
                        "exit_code": c.get("ExitCode", ""), "status": c.get("Status", "no container"), "id": c.get("ID", "")}
    return states


def disk_usage(df):
    lines = str(df.get("stdout") or "").splitlines()[1:]
    out = []
    for fields in (line.split() for line in _unique(lines)):
        if len(fields) >= 6:
            out.append({"mount": fields[5], "filesystem": fields[0], "use_percent": _int(fields[4].replace("%", "")),
                        "avail_mb": _mb(fields[3])})
    return _unique(out)


def memory(meminfo):
    try:
        text = base64.b64decode(meminfo.get("content") or "").decode("utf-8", "replace")
    except ValueError:
        text = ""
    out = {}
    for fields in (line.split() for line in text.splitlines()):
        if len(fields) >= 2 and fields[0] in MEMINFO_KEYS:
            out[fields[0][:-1] + "_mb"] = _mb(fields[1])
    return out


def _health_why(verdict, database):
    if not verdict:
        return ""
    return "/health: " + verdict + ((" (database: %s)" % database) if database not in ("", "ok") else "")


def _answer(results, key):
    """The probe's result when it answered, else {}."""
    return results.get(key) if _answered(results.get(key)) else {}


def restart_diagnosis(results, db_service, db_clients=None, health_service="", web_service="", commit_field="commit",
                      status_codes=(200,)):
    results = results or {}
    head, ps, pg, health, web = (_answer(results, key) for key in ("head", "ps", "pg", "health", "web"))
    containers = compose_ps(ps)
    here = db_here(db_service, _answer(results, "services"), containers)
    body = health.get("json") if isinstance(health.get("json"), dict) else {}
    diag = {
        "commit": str(head.get("stdout") or "") if head.get("rc", 1) == 0 else "",
        "compose_ok": ps.get("rc", 1) == 0,
        "compose_error": (list(ps.get("stderr_lines") or []) or [""])[-1],
        "services": service_states([name for name in service_order(db_service, db_clients, _answer(results, "services"), containers)
                                    if here or name != db_service], containers),
        "db_here": here,
        "db_ready": pg.get("rc", -1) == 0,
        "db_ready_output": ("%s %s" % (pg.get("stdout") or "", pg.get("stderr") or "")).strip(),
        "api_verdict": health_verdict(health, [int(code) for code in status_codes or (200,)]),
        "api_commit": health_commit(health, commit_field),
        "api_database": body.get("database", ""),
        "web_verdict": health_verdict(web, WEB_OK) if web else "",
        "health_service": health_service or "",
        "disk": disk_usage(_answer(results, "df")),
        "memory": memory(_answer(results, "meminfo")),
    }
    probes = {web_service: diag["web_verdict"], health_service: _health_why(diag["api_verdict"], diag["api_database"])}
    diag["probes"] = {service: why for service, why in probes.items() if service and why}
    return diag


class FilterModule:
    """maverick.rollback emergency restart filters."""

    def filters(self):
        return {"restart_diagnosis": restart_diagnosis}
