"""AWX survey specs (docs/awx/surveys/<playbook>.json) against the playbooks
and the roles' meta/argument_specs.yml: every variable exists, types, choices
and defaults agree, and the strings a survey sends pass the roles' argument
validation in a real ansible-playbook run (ansible casts "4" and "true")."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.parsing.convert_bool import BOOLEANS, boolean

from ecosystem_helpers import PROJECT_DIR, clean_env, survey_answers, surveys, tool

PLAYBOOKS = ["health_check", "quick_rollback", "list_releases", "migration_resolve", "db_backup",
             "db_restore", "emergency_restart", "github_redeploy"]
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
# Survey variables the playbook itself reads (hosts: pattern, short names it
# passes to the role): playbook variable -> role option it sets (None: hosts).
PLAYBOOK_VARS = {
    "target": None,
    "commit": "app_rollback_commit",
    "migration": "migration_resolve_migration",
    "action": "migration_resolve_action",
    "ref": "github_redeploy_ref",
}
# str options without choices in their argument_spec whose values the role
# checks itself: the allowed words, from the role.
CONFIRM_WORDS = {"yes", "no", "true", "false"}


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def playbook_role(playbook: str) -> tuple[str, str, list]:
    """(role, entry point, plays) of a playbook of this collection."""
    plays = load_yaml(PROJECT_DIR / "playbooks" / (playbook + ".yml"))
    for play in plays:
        for role in play.get("roles", []):
            name = role["role"] if isinstance(role, dict) else role
            return name.split(".")[-1], "main", plays
        for task in play.get("tasks", []):
            include = task.get("ansible.builtin.include_role")
            if include:
                return include["name"].split(".")[-1], include.get("tasks_from", "main"), plays
    raise AssertionError("no role in playbooks/%s.yml" % playbook)


def role_options(role: str, entry: str) -> dict:
    specs = load_yaml(PROJECT_DIR / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]
    return specs[entry]["options"]


def questions(playbook: str):
    return surveys()[playbook]["spec"]


def test_every_playbook_has_a_survey_and_every_survey_a_playbook():
    assert set(PLAYBOOKS) <= set(surveys()), set(PLAYBOOKS) - set(surveys())
    for name in surveys():
        assert (PROJECT_DIR / "playbooks" / (name + ".yml")).is_file(), name


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_survey_structure(playbook):
    survey = surveys()[playbook]
    assert survey["name"] and survey["description"] and isinstance(survey["spec"], list) and survey["spec"]
    variables = [q["variable"] for q in survey["spec"]]
    assert len(variables) == len(set(variables)), "duplicate variables"
    for q in survey["spec"]:
        assert set(q) >= {"question_name", "question_description", "required", "type", "variable", "default"}, q
        assert q["type"] in SURVEY_TYPES, q
        assert isinstance(q["required"], bool), q
        assert re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", q["variable"]), q
        if q["type"] in ("multiplechoice", "multiselect"):
            assert isinstance(q["choices"], list) and q["choices"], q
            assert all(isinstance(c, str) for c in q["choices"]), q
            assert q["default"] in q["choices"] or (q["default"] == "" and not q["required"]), q
        if q["type"] in ("integer", "float", "text", "textarea", "password"):
            assert q["min"] <= q["max"], q
        if q["type"] == "integer":
            assert isinstance(q["default"], int) and q["min"] <= q["default"] <= q["max"], q
        if q["type"] == "float":
            assert isinstance(q["default"], (int, float)) and q["min"] <= q["default"] <= q["max"], q
        if q["type"] in ("text", "textarea", "password"):
            assert isinstance(q["default"], str) and q["min"] <= len(q["default"]) <= q["max"] or not q["required"], q


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_survey_variables_match_the_argument_specs(playbook):
    role, entry, plays = playbook_role(playbook)
    options = role_options(role, entry)
    text = (PROJECT_DIR / "playbooks" / (playbook + ".yml")).read_text()
    play_vars = {k: v for play in plays for k, v in (play.get("vars") or {}).items()}
    surveyed = set()
    for q in questions(playbook):
        var = q["variable"]
        if var in PLAYBOOK_VARS:
            # The playbook reads it, and passes it on to the role option it names.
            assert re.search(r"\{\{\s*%s\b" % var, text), "%s: playbook does not read %s" % (playbook, var)
            option = PLAYBOOK_VARS[var]
            if option is None:
                assert re.search(r"hosts:.*\{\{\s*%s\b" % var, text), var
                continue
            assert option in play_vars and re.search(r"\b%s\b" % var, str(play_vars[option])), (var, option)
            var = option
        assert var in options, "%s: %s is not an option of role %s (%s)" % (playbook, var, role, entry)
        surveyed.add(var)
        spec = options[var]
        kind = spec.get("type", "str")
        if spec.get("no_log"):
            pytest.fail("%s: %s is no_log; secrets belong in an AWX credential, not a survey" % (playbook, var))
        if q["type"] == "integer":
            assert kind in ("int", "float"), (var, kind)
            assert int(q["default"]) == int(spec["default"]), (var, q["default"], spec["default"])
        elif q["type"] == "float":
            assert kind == "float", (var, kind)
            assert float(q["default"]) == float(spec["default"]), (var, q["default"], spec["default"])
        elif q["type"] == "multiplechoice":
            if "choices" in spec:
                assert sorted(q["choices"]) == sorted(str(c) for c in spec["choices"]), (var, q["choices"], spec["choices"])
                assert q["default"] == str(spec["default"]), (var, q["default"], spec["default"])
            elif kind == "bool":
                assert sorted(boolean(c) for c in q["choices"]) == [False, True], (var, q["choices"])
                assert all(c in BOOLEANS for c in q["choices"]), (var, q["choices"])
                assert boolean(q["default"]) is spec["default"], (var, q["default"], spec["default"])
            elif var == "migration_resolve_action":
                allowed = load_yaml(PROJECT_DIR / "roles" / role / "vars" / "main.yml")["__migration_resolve_actions"]
                assert sorted(q["choices"]) == sorted(allowed), (q["choices"], allowed)
            elif var.endswith("_confirm"):
                assert set(q["choices"]) <= CONFIRM_WORDS and "yes" in q["choices"], q
                assert q["default"] in ("no", "false"), "a survey must not confirm by default: %s" % var
            else:
                pytest.fail("%s: multiplechoice for %s (%s) without choices to compare" % (playbook, var, kind))
        else:  # text, textarea
            assert kind in ("str", "path", "raw"), (var, kind)
            if q["required"] and "default" in spec and PLAYBOOK_VARS.get(q["variable"]) is None:
                assert q["default"] == str(spec["default"]), (var, q["default"], spec["default"])
    required = {k for k, v in options.items() if v.get("required")}
    assert required <= surveyed, "%s: required options not in the survey: %s" % (playbook, required - surveyed)
    for q in questions(playbook):
        if PLAYBOOK_VARS.get(q["variable"], "") in required:
            assert q["required"], q


CONDITION_KEYS = {"when", "failed_when", "changed_when", "until", "that"}
JINJA_RE = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
LITERAL_RE = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def jinja_expressions(node, key=None):
    """Every Jinja expression of a parsed role file: conditions (when, that,
    ...) whole, and the {{ }} / {% %} parts of other strings, with their
    string literals removed (names quoted in messages are not uses). A value
    that is only "{{ name }}" passes the variable on (typed option, role var)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from jinja_expressions(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from jinja_expressions(v, key)
    elif isinstance(node, str):
        if key in CONDITION_KEYS:
            yield LITERAL_RE.sub("''", node)
        elif not re.fullmatch(r"\s*\{\{\s*\w+\s*\}\}\s*", node):
            for match in JINJA_RE.finditer(node):
                yield LITERAL_RE.sub("''", match.group(1) or match.group(2))


def test_expression_scan_sees_uses_and_ignores_messages():
    doc = [{"name": "x", "when": "not my_flag", "ansible.builtin.debug": {
        "msg": "set my_flag=true {{ 'my_flag' }} {{ 'a' if my_flag else 'b' }} {{ my_flag | bool }}"},
        "vars": {"passed_on": "{{ my_flag }}"}}]
    found = [e for e in jinja_expressions(doc) if re.search(r"\bmy_flag\b", e)]
    assert [" ".join(e.split()) for e in found] == ["not my_flag", "'' if my_flag else ''", "my_flag | bool"]


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_survey_bool_flags_are_cast_where_the_role_uses_them(playbook):
    """'false' from a survey is a true-ish string in Jinja: every use of a
    surveyed bool option inside the role's expressions goes through | bool."""
    role, entry = playbook_role(playbook)[:2]
    options = role_options(role, entry)
    flags = [q["variable"] for q in questions(playbook) if options.get(q["variable"], {}).get("type") == "bool"]
    bad, uses = [], 0
    for path in sorted((PROJECT_DIR / "roles" / role).rglob("*.yml")):
        if {"meta", "defaults"} & set(path.relative_to(PROJECT_DIR / "roles" / role).parts):
            continue
        for expression in jinja_expressions(load_yaml(path)):
            for flag in flags:
                for m in re.finditer(r"\b%s\b" % flag, expression):
                    uses += 1
                    if not re.match(r"\s*\|\s*bool\b", expression[m.end():]):
                        bad.append("%s: %s in: %s" % (path.relative_to(PROJECT_DIR), flag, " ".join(expression.split())[:200]))
    assert not bad, "bool options used without | bool:\n" + "\n".join(bad)
    if flags:
        assert uses > 0, "no use of %s found: the scan is broken" % flags


VALIDATE_PLAY = """---
- name: Survey answers against the roles' argument specs
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Validate the survey answers
      ansible.builtin.validate_argument_spec:
        argument_spec: "{{ item.spec }}"
        provided_arguments: "{{ item.answers }}"
      loop: "{{ cases }}"
      loop_control:
        label: "{{ item.playbook }} {{ item.case }}"
      register: validated
      ignore_errors: true

    - name: Report
      ansible.builtin.copy:
        dest: "{{ report }}"
        content: "{{ validated.results | map(attribute='failed', default=false) | list | to_json }}"
        mode: "0600"
"""


def role_answers(playbook: str, answers: dict) -> dict:
    """Survey answers under the role option names the playbook maps them to."""
    out = {}
    for key, value in answers.items():
        option = PLAYBOOK_VARS.get(key, key)
        if option is not None:
            out[option] = value
    return out


def test_survey_strings_pass_argument_validation_and_bad_ones_do_not(tmp_path):
    """A real ansible-playbook run: ansible.builtin.validate_argument_spec (what a
    role runs first) with every survey's answers as strings, a variant with
    "4"/"true" style answers, and negative controls that must be refused."""
    cases = []
    for playbook in PLAYBOOKS:
        role, entry = playbook_role(playbook)[:2]
        options = role_options(role, entry)
        spec = {k: {kk: vv for kk, vv in v.items() if kk in ("type", "choices", "elements", "required", "no_log")}
                for k, v in options.items()}
        defaults = role_answers(playbook, survey_answers(playbook))
        variant = dict(defaults)
        for q in questions(playbook):
            var = PLAYBOOK_VARS.get(q["variable"], q["variable"])
            kind = options.get(var, {}).get("type")
            if kind == "int":
                variant[var] = "4"
            elif kind == "float":
                variant[var] = "2.5"
            elif kind == "bool":
                variant[var] = "true"
        cases.append({"playbook": playbook, "case": "defaults", "answers": defaults, "spec": spec, "expect": False})
        cases.append({"playbook": playbook, "case": "strings", "answers": variant, "spec": spec, "expect": False})
        for q in questions(playbook):
            var = PLAYBOOK_VARS.get(q["variable"], q["variable"])
            kind = options.get(var, {}).get("type")
            bad_value = {"int": "four", "float": "soon", "bool": "maybe"}.get(kind)
            if "choices" in options.get(var, {}):
                bad_value = "not-a-choice"
            if bad_value:
                cases.append({"playbook": playbook, "case": "bad %s=%s" % (var, bad_value),
                              "answers": dict(defaults, **{var: bad_value}), "spec": spec, "expect": True})
    assert sum(c["expect"] for c in cases) >= 20  # the negative controls exist
    playbook_path = tmp_path / "validate.yml"
    playbook_path.write_text(VALIDATE_PLAY)
    report = tmp_path / "report.json"
    (tmp_path / "vars.json").write_text(json.dumps({"cases": cases, "report": str(report)}))
    proc = subprocess.run([tool("ansible-playbook"), "-i", "localhost,", str(playbook_path),
                           "-e", "@%s" % (tmp_path / "vars.json")],
                          cwd=tmp_path, env=clean_env(ANSIBLE_PYTHON_INTERPRETER=sys.executable),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    failed = json.loads(report.read_text())
    wrong = ["%s %s: %s" % (c["playbook"], c["case"], "refused" if f else "accepted")
             for c, f in zip(cases, failed) if bool(f) != c["expect"]]
    assert not wrong, "\n".join(wrong) + "\n" + proc.stdout[-5000:]


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_job_template_example_points_at_the_playbook_and_survey(playbook):
    jt = json.loads((PROJECT_DIR / "docs" / "awx" / "job_templates" / (playbook + ".json")).read_text())
    assert jt["playbook"] == "playbooks/%s.yml" % playbook
    assert (PROJECT_DIR / jt["playbook"]).is_file()
    assert jt["survey_enabled"] is True and jt["x_survey_spec_file"] == "surveys/%s.json" % playbook
    assert (PROJECT_DIR / "docs" / "awx" / jt["x_survey_spec_file"]).is_file()
    assert jt["allow_simultaneous"] is False and jt["job_type"] == "run"
    assert jt["ask_variables_on_launch"] is False  # answers come through the survey only
    if playbook == "github_redeploy":
        credential_type = json.loads((PROJECT_DIR / "docs" / "awx" / "credential_type_github_token.json").read_text())
        token_env = role_options("github_redeploy", "main")["github_redeploy_token_env"]["default"]
        assert token_env in credential_type["injectors"]["env"]
        assert any(name.endswith("(%s)" % credential_type["name"]) for name in jt["credentials"])
