# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the emergency restart restarts, in which order, and why."""

from __future__ import annotations

DOCUMENTATION = r"""
name: restart_plan
short_description: Decide what an emergency restart restarts, in which order, and why
version_added: 0.1.0
description:
  - Takes the diagnosis of M(maverick.rollback.restart_diagnosis) and returns the plan.
  - The database is broken when its container is not running, its Docker health check says
    unhealthy, or pg_isready does not answer; it is restarted first (started when it has no container).
  - Another service is broken when it has no container, is not running, is unhealthy, or its
    probe failed (/health, the web front end). Broken services follow the database, in the
    diagnosis' order.
  - After a database restart every service in O(db_clients) is restarted too, broken or not
    (the runbook's order - their connections were lost).
  - When this host's Compose project does not run the database (the diagnosis' C(db_here) is
    false - an app server of a group that reaches another host's database, docs/fleet.md), the
    database is never started or restarted here, and no service is restarted for it; the app
    services are judged as usual (an api whose /health says the database is unreachable is
    restarted).
  - In C(full) mode nothing is restarted service by service (down, then up -d of every
    service); the findings are the same.
options:
  _input:
    description: The diagnosis (M(maverick.rollback.restart_diagnosis)).
    type: dict
    required: true
  mode:
    description: C(auto) (restart what is broken) or C(full).
    type: str
    default: auto
  db_service:
    description: Compose service of the database.
    type: str
    required: true
  db_clients:
    description: Compose services that use the database.
    type: list
    elements: str
    default: []
  disk_warn_percent:
    description: Filesystems at or above this use are reported.
    type: int
    default: 90
"""

EXAMPLES = r"""
- name: Decide what to restart, and why
  ansible.builtin.set_fact:
    plan: "{{ diagnosis | maverick.rollback.restart_plan('auto', 'postgres', ['api', 'worker'], 90) }}"

- name: Restart the broken app services
  community.docker.docker_compose_v2:
    project_src: /opt/lifetracker
    services: "{{ plan.restart }}"
    state: restarted
    dependencies: false
  when: plan.restart | length > 0
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    mode: {description: O(mode)., type: str}
    findings: {description: What is wrong, one line each (also disk and memory, and a running commit other than the checkout's)., type: list}
    steps:
      description: In order - C(service), C(op) (C(restarted), or C(present) for a service without a container), C(why). Empty in full mode.
      type: list
    db_restart: {description: Whether the database is restarted first (auto mode)., type: bool}
    db_service: {description: O(db_service)., type: str}
    db_here: {description: Whether this host's Compose project runs the database (the diagnosis' C(db_here))., type: bool}
    db_op: {description: The database's C(op), empty when it is not restarted., type: str}
    restart: {description: Other services to restart (after the database is ready)., type: list}
    start: {description: Other services to start (they have no container)., type: list}
"""

from ansible.errors import AnsibleFilterError

AFTER_DB = "after the database restart (runbook order: its connections were lost)"
ALSO_AFTER_DB = "; and after the database restart (runbook order)"


def container_why(state):
    """Why a service's container is broken, '' when it runs and is not unhealthy."""
    if state.get("state") == "missing":
        return "no container"
    if state.get("state") != "running":
        return "%s (%s)" % (state.get("state"), state.get("status"))
    if state.get("health") == "unhealthy":
        return "docker health check unhealthy"
    return ""


def db_why(state, diag):
    """Why the database is broken, '' when it runs and accepts connections."""
    why = container_why(state)
    if why or diag.get("db_ready"):
        return why
    return "running, but pg_isready says: " + (diag.get("db_ready_output") or "no answer")


def service_whys(diag, db_service):
    probes = diag.get("probes") or {}
    whys = {}
    for name, state in diag["services"].items():
        if name != db_service:
            why = container_why(state) or probes.get(name, "")
            if why:
                whys[name] = why
    return whys


def plan_steps(diag, db_service, db_clients, database_why, whys):
    steps = []
    if database_why:
        op = "present" if diag["services"][db_service].get("state") == "missing" else "restarted"
        steps.append({"service": db_service, "op": op, "why": database_why})
    for name, state in diag["services"].items():
        if name in whys:
            why = whys[name] + (ALSO_AFTER_DB if name in db_clients and database_why else "")
            steps.append({"service": name, "op": "present" if state.get("state") == "missing" else "restarted", "why": why})
        elif name in db_clients and database_why and name != db_service:
            steps.append({"service": name, "op": "restarted", "why": AFTER_DB})
    return steps


def commit_finding(diag):
    running, head = str(diag.get("api_commit") or "").lower(), str(diag.get("commit") or "")
    if len(running) < 7 or not head or head.startswith(running) or running.startswith(head):
        return []
    return ["%s reports commit %s but the checkout is at %s: an unfinished deploy or rollback? (a restart keeps "
            "the running commit)" % (diag.get("health_service") or "the app", running[:12], head[:12])]


def resource_findings(diag, disk_warn_percent):
    out = ["disk: %s is %s%% full (%s MB free)" % (d["mount"], d["use_percent"], d["avail_mb"])
           for d in diag.get("disk") or [] if d["use_percent"] >= int(disk_warn_percent)]
    mem = diag.get("memory") or {}
    if "MemAvailable_mb" in mem and "MemTotal_mb" in mem and mem["MemAvailable_mb"] * 20 < mem["MemTotal_mb"]:
        out.append("memory: only %s MB of %s MB available" % (mem["MemAvailable_mb"], mem["MemTotal_mb"]))
    return out


def findings(diag, db_service, database_why, whys, disk_warn_percent):
    out = [] if diag.get("compose_ok") else ["docker compose ps failed: " + str(diag.get("compose_error") or "")]
    out += [db_service + ": " + database_why] if database_why else []
    out += ["%s: %s" % item for item in whys.items()]
    return out + commit_finding(diag) + resource_findings(diag, disk_warn_percent)


def restart_plan(diag, mode="auto", db_service="", db_clients=None, disk_warn_percent=90):
    diag, db_clients = diag or {}, list(db_clients or [])
    here = diag.get("db_here", True) is not False
    if here and db_service not in (diag.get("services") or {}):
        raise AnsibleFilterError("restart_plan: the diagnosis has no database service %r" % (db_service,))
    database_why = db_why(diag["services"][db_service], diag) if here else ""
    whys = service_whys(diag, db_service)
    steps = [] if mode == "full" else plan_steps(diag, db_service, db_clients, database_why, whys)
    db_steps = [s for s in steps if s["service"] == db_service]
    return {
        "mode": mode,
        "findings": findings(diag, db_service, database_why, whys, disk_warn_percent),
        "steps": steps,
        "db_restart": mode == "auto" and bool(database_why),
        "db_service": db_service,
        "db_here": here,
        "db_op": db_steps[0]["op"] if db_steps else "",
        "restart": [s["service"] for s in steps if s["service"] != db_service and s["op"] == "restarted"],
        "start": [s["service"] for s in steps if s["service"] != db_service and s["op"] == "present"],
    }


class FilterModule:
    """maverick.rollback emergency restart filters."""

    def filters(self):
        return {"restart_plan": restart_plan}
