"""migration_gate: the migration gate's decision, from the SQL of what the database is ahead by."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.filter.migration_gate import migration_gate
from ansible_collections.maverick.rollback.plugins.module_utils import _schema

ROOT = Path(__file__).resolve().parents[4]
APP = ROOT / "sandbox" / "app" / "releases"
CASES = yaml.safe_load((Path(__file__).parent / "tables" / "migration_gate.yml").read_text())


def sql_map(case):
    return {name: (APP / text["file"]).read_text() if isinstance(text, dict) else text
            for name, text in (case.get("sql") or {}).items()}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_gate(case):
    gate = migration_gate(case["applied"], case["known"], sql=sql_map(case), allow=case.get("allow", False),
                          target="v1")
    assert gate["decision"] == case["decision"], gate["lines"]
    for key in ("ahead", "incompatible"):
        if key in case:
            assert gate[key] == case[key]
    assert len(gate["quoted"]) >= len(case.get("quoted", []))
    for text, line in zip(case.get("quoted", []), gate["quoted"]):
        assert text in line
    for text in case.get("lines", []):
        assert any(text in line for line in gate["lines"]), (text, gate["lines"])
    if gate["decision"] == "refuse":
        message = gate["message"]
        assert "Nothing was changed" in message[0]
        quoted = message[1:message.index("Options:")]
        assert quoted == ["  " + q for q in gate["quoted"]] and all("\n" not in q for q in quoted)
        assert "playbooks/full_rollback.yml" in message[-2] and "app_rollback_allow_schema_ahead=true" in message[-1]
    else:
        assert gate["message"] == []
    assert gate["lines"][0].startswith("migration gate: ")


def test_names_the_override_variable_it_is_given():
    gate = migration_gate(["a", "20250401000000_x"], ["a"], override_var="full_rollback_force")
    assert "-e full_rollback_force=true" in gate["message"][-1]


def test_sql_must_be_a_mapping():
    with pytest.raises(AnsibleFilterError, match="sql must map"):
        migration_gate(["a", "b"], ["a"], sql=["x"])


def test_without_pglast_it_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(_schema, "HAS_PGLAST", False)
    with pytest.raises(AnsibleFilterError, match="pip install pglast"):
        migration_gate(["a", "20250401000000_x"], ["a"], sql={"20250401000000_x": "SELECT 1"})
    # nothing ahead: nothing to parse, no parser needed
    assert migration_gate(["a"], ["a"])["decision"] == "ok"
