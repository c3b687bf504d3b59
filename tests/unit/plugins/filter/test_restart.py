"""restart_plan, restart_done, restart_diagnosis, compose_ps: the emergency restart's decisions."""

import base64
import json
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.filter.compose_ps import compose_ps
from ansible_collections.maverick.rollback.plugins.filter.restart_diagnosis import restart_diagnosis
from ansible_collections.maverick.rollback.plugins.filter.restart_done import restart_done
from ansible_collections.maverick.rollback.plugins.filter.restart_plan import restart_plan

PLAN_CASES = yaml.safe_load((Path(__file__).parent / "tables" / "restart_plan.yml").read_text())


def diagnosis(case):
    services = {name: {"state": s, "status": status, "health": health, "exit_code": "", "id": ""}
                for name, (s, status, health) in case["services"].items()}
    return dict({"services": services, "db_ready": True, "compose_ok": True, "disk": [], "memory": {}}, **case.get("diag", {}))


@pytest.mark.parametrize("case", PLAN_CASES, ids=[c["id"] for c in PLAN_CASES])
def test_restart_plan(case):
    args = dict({"db_service": "postgres", "db_clients": ["api"]}, **case.get("args", {}))
    plan = restart_plan(diagnosis(case), **args)
    assert [[s["service"], s["op"], s["why"]] for s in plan["steps"]] == case["steps"]
    assert plan["findings"] == case["findings"]
    assert plan["db_restart"] is case.get("db_restart", False)
    others = [s for s in plan["steps"] if s["service"] != args["db_service"]]
    assert plan["restart"] == [s["service"] for s in others if s["op"] == "restarted"]
    assert plan["start"] == [s["service"] for s in others if s["op"] == "present"]
    assert plan["db_op"] == ("" if not plan["db_restart"] else plan["steps"][0]["op"])


def test_restart_plan_needs_the_database_in_the_diagnosis():
    with pytest.raises(AnsibleFilterError, match="no database service 'db'"):
        restart_plan({"services": {"postgres": {}}}, db_service="db")


DB_STEP = {"service": "postgres", "op": "restarted", "why": "x"}
DONE_CASES = [
    # (id, plan, db_ready, waited, expected)
    ("nothing to do", {"mode": "auto", "steps": [], "db_service": "postgres"}, True, [], []),
    ("database, its wait, then the app",
     {"mode": "auto", "db_service": "postgres", "steps": [DB_STEP, {"service": "api", "op": "restarted"},
                                                          {"service": "web", "op": "present"}]},
     True, ["database ready after 2.1 s (pg_isready: accepting connections)"],
     ["restarted postgres", "database ready after 2.1 s (pg_isready: accepting connections)", "restarted api", "started web"]),
    ("database not ready: the app is left alone",
     {"mode": "auto", "db_service": "postgres", "steps": [dict(DB_STEP, op="present"), {"service": "api", "op": "restarted"}]},
     False, ["database NOT ready after 60.2 s (deadline 60 s): no answer"],
     ["started postgres", "database NOT ready after 60.2 s (deadline 60 s): no answer",
      "left api alone: the database is not ready"]),
    ("full mode", {"mode": "full", "steps": [], "db_service": "postgres"}, True, ["database ready after 4 s"],
     ["docker compose down (volumes kept)", "docker compose up -d", "database ready after 4 s"]),
]


@pytest.mark.parametrize("plan,ready,waited,expected", [c[1:] for c in DONE_CASES], ids=[c[0] for c in DONE_CASES])
def test_restart_done(plan, ready, waited, expected):
    assert restart_done(plan, ready, waited) == expected


PS_LINES = [{"Service": "postgres", "Name": "lt-postgres-1", "State": "running", "Health": "healthy", "Status": "Up 2 hours (healthy)",
             "ExitCode": 0, "ID": "c1"},
            {"Service": "api", "Name": "lt-api-1", "State": "exited", "Health": "", "Status": "Exited (1) 5 seconds ago",
             "ExitCode": 1, "ID": "c2"}]


@pytest.mark.parametrize("result,expected", [
    ({"rc": 0, "stdout": "\n".join(json.dumps(c) for c in PS_LINES)}, PS_LINES),   # compose v2: JSON lines
    ({"rc": 0, "stdout": "  " + json.dumps(PS_LINES)}, PS_LINES),                     # older: one array
    ({"rc": 0, "stdout": json.dumps(PS_LINES[0]) + "\n\n"}, PS_LINES[:1]),
    ({"rc": 1, "stdout": json.dumps(PS_LINES)}, []),
    ({"rc": 0, "stdout": "  "}, []),
    ({"skipped": True}, []),
    (None, []),
], ids=["lines", "array", "blank-lines", "failed", "empty", "skipped", "none"])
def test_compose_ps(result, expected):
    assert compose_ps(result) == expected


def test_compose_ps_refuses_garbage():
    with pytest.raises(AnsibleFilterError, match="not JSON"):
        compose_ps({"rc": 0, "stdout": "time=... level=warning msg=..."})


URL = "http://127.0.0.1:3000/health"
MEMINFO = "MemTotal:        4030000 kB\nMemFree:  100 kB\nMemAvailable:     153600 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n"
DF = ("Filesystem 1024-blocks Used Available Capacity Mounted on\n"
      "/dev/sda1 10000000 9500000 524288 95% /\n/dev/sda1 10000000 9500000 524288 95% /\n"
      "overlay 100 50 50 50% /opt/lifetracker\nshort line\n")
RESULTS = {
    "head": {"rc": 0, "stdout": "b65522e1bab699cd5a9a58211cf8067bb51b2527"},
    "services": {"rc": 0, "stdout_lines": ["postgres", "api", "web", "worker"]},
    "ps": {"rc": 0, "stdout": "\n".join(json.dumps(c) for c in PS_LINES), "stderr_lines": []},
    "pg": {"rc": 0, "stdout": "127.0.0.1:5432 - accepting connections", "stderr": ""},
    "health": {"status": 503, "url": URL, "json": {"commit": "b65522e", "database": "unreachable"}},
    "web": {"changed": False, "skipped": True},
    "df": {"rc": 0, "stdout": DF},
    "meminfo": {"content": base64.b64encode(MEMINFO.encode()).decode()},
}


def test_restart_diagnosis():
    diag = restart_diagnosis(RESULTS, "postgres", ["api"], health_service="api", web_service="web")
    assert list(diag["services"]) == ["postgres", "api", "web", "worker"]
    assert diag["services"]["api"] == {"state": "exited", "health": "", "exit_code": 1, "status": "Exited (1) 5 seconds ago", "id": "c2"}
    assert diag["services"]["web"] == {"state": "missing", "health": "", "exit_code": "", "status": "no container", "id": ""}
    assert (diag["commit"], diag["compose_ok"], diag["compose_error"]) == (RESULTS["head"]["stdout"], True, "")
    assert (diag["db_ready"], diag["db_ready_output"]) == (True, "127.0.0.1:5432 - accepting connections")
    assert diag["api_verdict"] == "HTTP 503 from %s (expected 200)" % URL and diag["web_verdict"] == ""
    assert (diag["api_commit"], diag["api_database"], diag["health_service"]) == ("b65522e", "unreachable", "api")
    assert diag["probes"] == {"api": "/health: HTTP 503 from %s (expected 200) (database: unreachable)" % URL}
    assert diag["disk"] == [{"mount": "/", "filesystem": "/dev/sda1", "use_percent": 95, "avail_mb": 512},
                            {"mount": "/opt/lifetracker", "filesystem": "overlay", "use_percent": 50, "avail_mb": 0}]
    assert diag["memory"] == {"MemTotal_mb": 3936, "MemAvailable_mb": 150, "SwapTotal_mb": 0, "SwapFree_mb": 0}


@pytest.mark.parametrize("config,ps_lines,here", [
    ({"rc": 0, "stdout_lines": ["api", "web"]}, PS_LINES[1:], False),      # a group's app server: another host's database
    ({"rc": 0, "stdout_lines": ["postgres", "api"]}, PS_LINES[1:], True),  # its own database, container gone: started here
    ({"rc": 0, "stdout_lines": ["api"]}, PS_LINES, True),                  # a container of it runs here
    ({"rc": 1, "stdout_lines": []}, [], True),                             # config failed: unknown counts as here
])
def test_restart_diagnosis_knows_whether_the_database_runs_here(config, ps_lines, here):
    results = dict(RESULTS, services=config, ps={"rc": 0, "stdout": "\n".join(json.dumps(c) for c in ps_lines)})
    diag = restart_diagnosis(results, "postgres", ["api"], health_service="api")
    assert diag["db_here"] is here
    assert ("postgres" in diag["services"]) is here
    plan = restart_plan(diag, db_service="postgres", db_clients=["api"])
    assert plan["db_here"] is here
    assert ("postgres" in [s["service"] for s in plan["steps"]]) is (here and not ps_lines[:1] == PS_LINES[:1])


def test_restart_diagnosis_when_everything_failed():
    failed = {"head": {"rc": 128, "stdout": ""}, "services": {"rc": 1, "stdout_lines": []},
              "ps": {"rc": 1, "stdout": "", "stderr_lines": ["warning", "no configuration file provided: not found"]},
              "pg": {"skipped": True}, "health": {"status": -1, "url": URL, "msg": "Connection refused"},
              "web": {"status": 502, "url": "http://127.0.0.1:8080/"}, "df": {"rc": 1, "stdout": ""}, "meminfo": {"failed": True}}
    diag = restart_diagnosis(failed, "db", ["app", "worker"], health_service="app", web_service="proxy")
    assert list(diag["services"]) == ["db", "app", "worker"] and diag["services"]["db"]["state"] == "missing"
    assert (diag["commit"], diag["compose_ok"], diag["compose_error"]) == ("", False, "no configuration file provided: not found")
    assert (diag["db_ready"], diag["db_ready_output"], diag["disk"], diag["memory"]) == (False, "", [], {})
    assert diag["probes"] == {"app": "/health: no answer from %s: Connection refused" % URL,
                              "proxy": "HTTP 502 from http://127.0.0.1:8080/ (expected 200/301/302/304)"}


def test_restart_diagnosis_good_answer_and_database_ok_add_no_probe():
    good = dict(RESULTS, health={"status": 200, "url": URL, "json": {"commit": "x", "database": "ok"}})
    assert restart_diagnosis(good, "postgres", ["api"], health_service="api")["probes"] == {}


def test_restart_diagnosis_reads_the_apps_own_commit_field_and_statuses():
    """Ledgerly: /status answers 200 or 204 with the commit under build.commit."""
    answer = {"status": 204, "json": {"state": "ok", "build": {"commit": "8d4c741e12ab"}}}
    results = dict(RESULTS, health=answer)
    diag = restart_diagnosis(results, "pg", ["app", "worker"], health_service="app", commit_field="build.commit",
                             status_codes=[200, 204])
    assert diag["api_commit"] == "8d4c741e12ab" and diag["api_verdict"] == ""
    assert restart_diagnosis(results, "pg", ["app"], health_service="app")["api_commit"] == ""
    assert restart_diagnosis(results, "pg", ["app"], health_service="app", commit_field="")["api_commit"] == ""
