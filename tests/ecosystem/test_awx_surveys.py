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
             "db_restore", "emergency_restart", "github_redeploy", "deploy", "full_rollback", "migration_rehearsal"]
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


# Survey variables the playbook itself reads (extra vars, not role options):
# playbook -> {variable: role options the playbook sets from it, directly or
# through one of its own vars}. "target" (the hosts: pattern) is in every
# survey; an empty list: only the playbook uses it (PLAYBOOK_INPUTS).
PLAYBOOK_VARS = {
    "health_check": {},
    "quick_rollback": {"commit": ["app_rollback_commit"]},
    "list_releases": {},
    "migration_resolve": {"migration": ["migration_resolve_migration"], "action": ["migration_resolve_action"]},
    "db_backup": {},
    "db_restore": {},
    "emergency_restart": {},
    "github_redeploy": {"ref": ["github_redeploy_ref"]},
    "deploy": {"commit": [], "rehearse": [], "break_stale_lock": []},
    "full_rollback": {"commit": [], "confirm": [], "break_stale_lock": []},
    "migration_rehearsal": {"commit": ["migration_rehearsal_commit"], "backup": ["migration_rehearsal_backup"]},
}
# What the playbook-only variables accept (checked against the playbook's own
# expressions: its default(...), its `in [...]` lists, its match() patterns,
# | bool): str, a str with choices, bool, or confirm (a word that must be
# given to change anything).
PLAYBOOK_INPUTS = {
    "deploy": {"commit": {"type": "str", "required": True},
               "rehearse": {"type": "str", "choices": ["auto", "true", "false"]},
               "break_stale_lock": {"type": "bool"}},
    "full_rollback": {"commit": {"type": "str"}, "confirm": {"type": "confirm"}, "break_stale_lock": {"type": "bool"}},
}
# str options without choices in their argument_spec whose values the role
# checks itself: the allowed words, from the role.
CONFIRM_WORDS = {"yes", "no", "true", "false"}
BAD_REF = "$(touch /tmp/pwned)"


def _rule_patterns():
    """The collection's name rules (plugins/module_utils/_rules.py, standard library only):
    what `'<kind>' | maverick.rollback.rule` gives a playbook's `is match(...)`."""
    if str(PROJECT_DIR / ".collections") not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR / ".collections"))  # the checkout as ansible_collections.maverick.rollback
    from ansible_collections.maverick.rollback.plugins.module_utils._rules import PATTERNS  # noqa: PLC0415
    return PATTERNS


RULES = _rule_patterns()


def playbook_vars(playbook: str) -> dict:
    return {"target": None, **PLAYBOOK_VARS[playbook]}


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def load_playbook(playbook: str) -> list:
    return load_yaml(PROJECT_DIR / "playbooks" / (playbook + ".yml"))


def _task_file(value) -> str | None:
    """The file an include_tasks / import_tasks names (None when templated)."""
    name = value.get("file") if isinstance(value, dict) else value
    return None if not isinstance(name, str) or "{" in name else name


def _role_includes(role: str, entry: str, found: list, seen: set) -> None:
    """The roles a role's entry point runs: its meta dependencies and every
    include_role / import_role in the task files the entry point reaches
    (include_tasks / import_tasks followed), recursively."""
    if (role, entry) in seen:
        return
    seen.add((role, entry))
    meta = PROJECT_DIR / "roles" / role / "meta" / "main.yml"
    for dep in (load_yaml(meta) or {}).get("dependencies", []) if meta.is_file() else []:
        name = (dep.get("role") or dep.get("name")) if isinstance(dep, dict) else dep
        _add_role(name.split(".")[-1], "main", {}, found, seen)
    files, done = [entry + ".yml"], set()
    while files:
        file = files.pop()
        path = PROJECT_DIR / "roles" / role / "tasks" / file
        if file in done or not path.is_file():
            continue
        done.add(file)
        for task in _tasks(load_yaml(path)):
            for key in ("ansible.builtin.include_tasks", "ansible.builtin.import_tasks"):
                if _task_file(task.get(key)):
                    files.append(_task_file(task[key]))
            include = task.get("ansible.builtin.include_role") or task.get("ansible.builtin.import_role")
            if include and "{" not in include.get("tasks_from", "main"):  # a templated entry point: not followed
                _add_role(include["name"].split(".")[-1], include.get("tasks_from", "main"), task.get("vars") or {},
                          found, seen)


def _add_role(role: str, entry: str, given, found: list, seen: set) -> None:
    if (role, entry) not in {(r, e) for r, e, _ in found}:
        found.append((role, entry, given))
    _role_includes(role, entry, found, seen)


def _tasks(tasks):
    """Every task of a task list, blocks opened."""
    for task in tasks or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _tasks(task.get(key))


def playbook_roles(playbook: str) -> list[tuple[str, str, dict | None]]:
    """(role, entry point, vars the task sets on it) of every role a playbook of
    this collection runs: the ones it names first (a play's roles:, its tasks'
    include_role / import_role), then the ones they run themselves (meta
    dependencies, include_role / import_role in their tasks: maverick.rollback.app,
    whose main spec is the app contract the others read); vars None for a play's
    roles: (the survey sets them)."""
    found = []
    for play in load_playbook(playbook):
        for role in play.get("roles", []):
            name = role["role"] if isinstance(role, dict) else role
            found.append((name.split(".")[-1], "main", None))
        for key in ("pre_tasks", "tasks", "post_tasks"):
            for task in _tasks(play.get(key)):
                include = task.get("ansible.builtin.include_role") or task.get("ansible.builtin.import_role")
                if include:
                    found.append((include["name"].split(".")[-1], include.get("tasks_from", "main"), task.get("vars") or {}))
    assert found, "no role in playbooks/%s.yml" % playbook
    seen = set()
    for role, entry, _ in list(found):
        _role_includes(role, entry, found, seen)
    return found


def playbook_options(playbook: str) -> dict:
    """The options of every role (entry point) the playbook runs; role options
    are prefixed with the role name, so they cannot clash."""
    options = {}
    for role, entry, _ in playbook_roles(playbook):
        for name, spec in role_options(role, entry).items():
            assert options.get(name, spec) == spec, "%s: option %s differs between entry points" % (playbook, name)
            options[name] = spec
    return options


def role_of(playbook: str, option: str) -> str:
    return next(role for role, entry, _ in playbook_roles(playbook) if option in role_options(role, entry))


def role_options(role: str, entry: str) -> dict:
    specs = load_yaml(PROJECT_DIR / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]
    if entry not in specs:
        # An internal entry point without options of its own (the run protocol's
        # app tasks_from: begin / end): it reads the role's variables, the main spec's.
        assert entry != "main" and (PROJECT_DIR / "roles" / role / "tasks" / (entry + ".yml")).is_file(), (role, entry)
        return specs.get("main", {}).get("options", {})
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
            assert isinstance(q["default"], str) and len(q["default"]) <= q["max"], q
            # An empty default: optional - not sent; required - AWX asks for an answer of min characters.
            assert q["min"] <= len(q["default"]) or q["default"] == "", q
            assert q["min"] >= 1 or not q["required"], "a required text question accepts an empty answer: %s" % q


def template_parts(node, key=None, pass_through=True):
    """(key, text) of every Jinja expression of a parsed playbook, string
    literals kept: conditions whole, the {{ }} / {% %} parts of other strings
    (a plain "{{ name }}" included unless pass_through is false: in a playbook
    it passes the name on)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from template_parts(v, k, pass_through)
    elif isinstance(node, list):
        for v in node:
            yield from template_parts(v, key, pass_through)
    elif isinstance(node, str):
        if key in CONDITION_KEYS:
            yield key, node
        elif pass_through or not re.fullmatch(r"\s*\{\{\s*\w+\s*\}\}\s*", node):
            for match in JINJA_RE.finditer(node):
                yield key, match.group(1) or match.group(2)


def reads(expression: str, names) -> bool:
    """Whether a Jinja expression uses one of the variables (not in a string
    literal, not as an attribute)."""
    code = LITERAL_RE.sub("''", expression)
    return any(re.search(r"(?<![.\w])%s\b" % re.escape(name), code) for name in names)


def derived_names(plays, var: str) -> set:
    """var and the play vars whose value reads it (deploy_commit: "{{ commit ... }}")."""
    names = {var}
    for play in plays:
        for name, value in (play.get("vars") or {}).items():
            if any(reads(e, {var}) for _, e in template_parts(value)):
                names.add(name)
    return names


def values_of(node, key):
    """Every value of `key` in a parsed playbook (play vars, nested dicts, task vars)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from values_of(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from values_of(v, key)


def playbook_default(playbook: str, var: str):
    """The literal of `var | default(...)` in the playbook (a str, or a bool), or None."""
    text = (PROJECT_DIR / "playbooks" / (playbook + ".yml")).read_text()
    pattern = r"(?<![.\w])%s\s*\|\s*default\(\s*(?:'([^']*)'|\"([^\"]*)\"|(true|false)\b)" % var
    found = {m.group(3) == "true" if m.group(3) else m.group(1) if m.group(1) is not None else m.group(2)
             for m in re.finditer(pattern, text)}
    assert len(found) <= 1, "%s: %s has several defaults %s" % (playbook, var, found)
    return found.pop() if found else None


def accepted_words(plays, names) -> list[list[str]]:
    """The literal lists of `<name> ... in [...]` tests in the playbook's expressions."""
    lists = []
    for _, expression in template_parts(plays):
        if reads(expression, names):
            for m in re.finditer(r"\bin\s*\[([^\]]*)\]", expression):
                lists.append(re.findall(r"'([^']*)'|\"([^\"]*)\"", m.group(1)))
    return [[a or b for a, b in words] for words in lists]


def check_against_option(playbook: str, q: dict, var: str, spec: dict, direct: bool):
    """A survey question against the role option it sets (var)."""
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
            role = role_of(playbook, var)
            allowed = load_yaml(PROJECT_DIR / "roles" / role / "vars" / "main.yml")["__migration_resolve_actions"]
            assert sorted(q["choices"]) == sorted(allowed), (q["choices"], allowed)
        elif var.endswith("_confirm"):
            assert set(q["choices"]) <= CONFIRM_WORDS and "yes" in q["choices"], q
            assert q["default"] in ("no", "false"), "a survey must not confirm by default: %s" % var
        else:
            pytest.fail("%s: multiplechoice for %s (%s) without choices to compare" % (playbook, var, kind))
    else:  # text, textarea
        assert kind in ("str", "path", "raw"), (var, kind)
        if "default" in spec and (q["required"] if direct else q["default"] != ""):
            assert q["default"] == str(spec["default"]), (var, q["default"], spec["default"])


def check_playbook_input(playbook: str, q: dict, plays, names: set):
    """A survey question the playbook alone uses, against PLAYBOOK_INPUTS and
    the playbook's own expressions."""
    var = q["variable"]
    spec = PLAYBOOK_INPUTS.get(playbook, {}).get(var)
    assert spec, "%s: %s is used by the playbook only: say what it accepts in PLAYBOOK_INPUTS" % (playbook, var)
    default = playbook_default(playbook, var)
    accepted = accepted_words(plays, names)
    if spec["type"] == "bool":
        assert q["type"] == "multiplechoice", q
        assert sorted(boolean(c) for c in q["choices"]) == [False, True] and all(c in BOOLEANS for c in q["choices"]), q
        assert isinstance(default, bool) and boolean(q["default"]) is default, (var, q["default"], default)
    elif spec["type"] == "confirm":
        assert q["type"] == "multiplechoice" and accepted, (q, accepted)
        words = {w for ws in accepted for w in ws}
        assert "yes" in q["choices"] and "yes" in words, (q["choices"], words)
        assert q["default"] in ("no", "") and q["default"] not in words, "a survey must not confirm by default: %s" % var
        assert all(c in words or c == q["default"] for c in q["choices"]), (q["choices"], words)
    elif "choices" in spec:
        assert q["type"] == "multiplechoice", q
        assert sorted(q["choices"]) == sorted(spec["choices"]), (q["choices"], spec["choices"])
        assert any(set(q["choices"]) <= set(ws) for ws in accepted), "%s: the playbook accepts %s" % (var, accepted)
        assert q["default"] == default, (var, q["default"], default)
    else:
        assert q["type"] in ("text", "textarea"), q
        assert q["required"] == spec.get("required", q["required"]), q
        assert default is not None and q["default"] == default, (var, q["default"], default)
        patterns = [RULES[m.group(1)] if m.group(2) else m.group(1) for _, e in template_parts(plays) if reads(e, names)
                    for m in re.finditer(r"is\s+match\(\s*'([^']*)'(\s*\|\s*maverick\.rollback\.rule)?", e)]
        assert patterns, "%s: the playbook does not validate %s" % (playbook, var)
        assert not all(re.match(p, BAD_REF) for p in patterns), patterns
        if q["default"]:
            assert all(re.match(p, q["default"]) for p in patterns), (q["default"], patterns)


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_survey_variables_match_the_argument_specs(playbook):
    plays = load_playbook(playbook)
    options = playbook_options(playbook)
    mapping = playbook_vars(playbook)
    assert set(PLAYBOOK_INPUTS.get(playbook, {})) == {v for v, o in mapping.items() if o == []}, "PLAYBOOK_INPUTS"
    surveyed = set()
    for q in questions(playbook):
        var = q["variable"]
        if var not in mapping:
            assert var in options, "%s: %s is not an option of the roles %s" % (playbook, var, playbook_roles(playbook))
            surveyed.add(var)
            check_against_option(playbook, q, var, options[var], direct=True)
            continue
        # The playbook reads it (hosts:, its vars, its tasks) ...
        assert any(reads(e, {var}) for _, e in template_parts(plays)), "%s: playbook does not read %s" % (playbook, var)
        default = playbook_default(playbook, var)
        if default not in (None, "") and not isinstance(default, bool) and mapping[var] != []:
            assert q["default"] == default, (var, q["default"], default)
        if mapping[var] is None:
            assert all(reads(e, {var}) for _, e in template_parts([p["hosts"] for p in plays])), var
            continue
        names = derived_names(plays, var)
        if not mapping[var]:
            check_playbook_input(playbook, q, plays, names)
            continue
        # ... and passes it on to the role options it names.
        for option in mapping[var]:
            assert option in options, "%s: %s is not an option of the roles %s" % (playbook, option, playbook_roles(playbook))
            assert any(reads(e, names) for value in values_of(plays, option) for _, e in template_parts(value)), \
                "%s: %s is not set from %s (%s)" % (playbook, option, var, names)
            surveyed.add(option)
            check_against_option(playbook, q, option, options[option], direct=False)
    for role, entry, given in playbook_roles(playbook):
        required = {k for k, v in role_options(role, entry).items() if v.get("required")} - set(given or {})
        assert required <= surveyed, "%s: required options of %s not in the survey: %s" % (playbook, role, required - surveyed)
        for q in questions(playbook):
            if set(mapping.get(q["variable"]) or [q["variable"]]) & required:  # the option, or the options it sets
                assert q["required"], q


CONDITION_KEYS = {"when", "failed_when", "changed_when", "until", "that"}
JINJA_RE = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
LITERAL_RE = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def jinja_expressions(node):
    """Every Jinja expression of a parsed role file: conditions (when, that,
    ...) whole, and the {{ }} / {% %} parts of other strings, with their
    string literals removed (names quoted in messages are not uses). A value
    that is only "{{ name }}" passes the variable on (typed option, role var)."""
    for _key, expression in template_parts(node, pass_through=False):
        yield LITERAL_RE.sub("''", expression)


def test_expression_scan_sees_uses_and_ignores_messages():
    doc = [{"name": "x", "when": "not my_flag", "ansible.builtin.debug": {
        "msg": "set my_flag=true {{ 'my_flag' }} {{ 'a' if my_flag else 'b' }} {{ my_flag | bool }}"},
        "vars": {"passed_on": "{{ my_flag }}"}}]
    found = [e for e in jinja_expressions(doc) if re.search(r"\bmy_flag\b", e)]
    assert [" ".join(e.split()) for e in found] == ["not my_flag", "'' if my_flag else ''", "my_flag | bool"]


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_survey_bool_flags_are_cast_where_the_role_uses_them(playbook):
    """'false' from a survey is a true-ish string in Jinja: every use of a
    surveyed bool option inside the roles' expressions goes through | bool,
    and so does every use of a bool the playbook reads itself."""
    options = playbook_options(playbook)
    flags = [q["variable"] for q in questions(playbook) if options.get(q["variable"], {}).get("type") == "bool"]
    bad, uses = [], 0
    for role in sorted({role for role, _, _ in playbook_roles(playbook)}):
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
    inputs = [v for v, spec in PLAYBOOK_INPUTS.get(playbook, {}).items() if spec["type"] == "bool"]
    for var in inputs:
        found = [e for e in jinja_expressions(load_playbook(playbook)) if reads(e, {var})]
        assert found, "no use of %s in playbooks/%s.yml" % (var, playbook)
        for expression in found:
            for m in re.finditer(r"(?<![.\w])%s\b" % var, expression):
                assert re.match(r"\s*(\|\s*default\([^()]*\)\s*)?\|\s*bool\b", expression[m.end():]), \
                    "%s: %s used without | bool in: %s" % (playbook, var, " ".join(expression.split()))


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


def survey_options(playbook: str, variable: str) -> list[str]:
    """The role options a survey variable sets (none for hosts: and the
    variables only the playbook uses)."""
    mapping = playbook_vars(playbook)
    return mapping[variable] or [] if variable in mapping else [variable]


def role_answers(playbook: str, answers: dict) -> dict:
    """Survey answers under the role option names the playbook maps them to."""
    return {option: value for key, value in answers.items() for option in survey_options(playbook, key)}


def validation_spec(playbook: str) -> dict:
    """The argument specs of the playbook's roles, as validate_argument_spec
    takes them; an option the playbook sets itself on an include_role is not
    required from the survey."""
    spec, required = {}, set()
    for role, entry, given in playbook_roles(playbook):
        for k, v in role_options(role, entry).items():
            spec[k] = {kk: vv for kk, vv in v.items() if kk in ("type", "choices", "elements", "no_log")}
            if v.get("required") and k not in (given or {}):
                required.add(k)
    for k in required:
        spec[k]["required"] = True
    return spec


def test_survey_strings_pass_argument_validation_and_bad_ones_do_not(tmp_path):
    """A real ansible-playbook run: ansible.builtin.validate_argument_spec (what a
    role runs first) with every survey's answers as strings, a variant with
    "4"/"true" style answers, and negative controls that must be refused."""
    cases = []
    for playbook in PLAYBOOKS:
        options = playbook_options(playbook)
        spec = validation_spec(playbook)
        defaults = role_answers(playbook, survey_answers(playbook))
        assert defaults or playbook in PLAYBOOK_INPUTS, "%s: no survey answer reaches a role" % playbook
        variant = dict(defaults)
        for q in questions(playbook):
            for var in survey_options(playbook, q["variable"]):
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
            for var in survey_options(playbook, q["variable"]):
                kind = options.get(var, {}).get("type")
                bad_value = {"int": "four", "float": "soon", "bool": "maybe"}.get(kind)
                if "choices" in options.get(var, {}):
                    bad_value = "not-a-choice"
                if bad_value:
                    cases.append({"playbook": playbook, "case": "bad %s=%s" % (var, bad_value),
                                  "answers": dict(defaults, **{var: bad_value}), "spec": spec, "expect": True})
        required = [k for k, v in spec.items() if v.get("required")]
        for var in required:  # an answer the survey must give
            answers = {k: v for k, v in defaults.items() if k != var}
            cases.append({"playbook": playbook, "case": "without %s" % var, "answers": answers, "spec": spec, "expect": True})
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


# The playbooks' own input checks (the extra vars no role validates): task
# names in the playbook (or, "role", in the role's tasks/main.yml).
GATES = {
    "deploy": ("playbook", ["Refuse inputs that are not a SHA, tag or branch, or an unknown rehearse setting"]),
    "full_rollback": ("playbook", ['Refuse a target that is not a SHA, tag, branch or "previous"',
                                   "Refuse to change anything without confirmation"]),
    "migration_rehearsal": ("role", ["Refuse a commit that is not a SHA, tag or branch"]),
}
BACKUP = "/var/lib/maverick-rollback/backups/lifetracker_lifetracker_20250101T000000Z.dump"
# (playbook, answers other than the survey defaults, refused by each gate)
GATE_CASES = [
    ("deploy", {}, [True]),  # no commit: the required question was left empty
    ("deploy", {"commit": "0123abcd"}, [False]),
    ("deploy", {"commit": "v2.1.0", "rehearse": "auto"}, [False]),
    ("deploy", {"commit": "release/2.1", "rehearse": "true"}, [False]),
    ("deploy", {"commit": "main", "rehearse": "false", "break_stale_lock": "true"}, [False]),
    ("deploy", {"commit": "main", "rehearse": "maybe"}, [True]),
    ("deploy", {"commit": "previous"}, [True]),
    ("deploy", {"commit": BAD_REF}, [True]),
    ("deploy", {"commit": "main..v1"}, [True]),
    ("full_rollback", {}, [False, True]),  # the defaults: commit=previous, not confirmed
    ("full_rollback", {"confirm": "yes"}, [False, False]),
    ("full_rollback", {"commit": "v1.4.0", "confirm": "yes", "break_stale_lock": "true"}, [False, False]),
    ("full_rollback", {"commit": BAD_REF, "confirm": "yes"}, [True, False]),
    ("full_rollback", {"confirm": "no"}, [False, True]),
    ("migration_rehearsal", {}, [True]),  # no commit
    ("migration_rehearsal", {"commit": "v2"}, [False]),
    ("migration_rehearsal", {"commit": "0123abcd", "backup": BACKUP}, [False]),
    ("migration_rehearsal", {"commit": "v2", "backup": "backups/x.dump"}, [True]),
    ("migration_rehearsal", {"commit": BAD_REF}, [True]),
]


def flat_tasks(tasks: list) -> list:
    """The tasks of a list, those inside blocks too (full_rollback.yml: one server's path is a block)."""
    out = []
    for task in tasks or []:
        out.append(task)
        for key in ("block", "rescue", "always"):
            out.extend(flat_tasks(task.get(key)))
    return out


def gate_tasks(playbook: str) -> tuple[dict, list]:
    """(vars, tasks) to run a playbook's input checks outside the playbook."""
    where, names = GATES[playbook]
    plays = load_playbook(playbook)
    variables = {k: v for play in plays for k, v in (play.get("vars") or {}).items()}
    tasks = [t for play in plays for t in flat_tasks(play.get("tasks", []))]
    if where == "role":
        role = PROJECT_DIR / "roles" / playbook_roles(playbook)[0][0]
        app = PROJECT_DIR / "roles" / "app"  # the app contract every role depends on
        variables = {**(load_yaml(app / "defaults" / "main.yml") or {}), **(load_yaml(role / "defaults" / "main.yml") or {}),
                     **variables, **(load_yaml(app / "vars" / "main.yml") or {}), **(load_yaml(role / "vars" / "main.yml") or {})}
        tasks = load_yaml(role / "tasks" / "main.yml")
    by_name = {t.get("name"): t for t in tasks}
    missing = [n for n in names if n not in by_name]
    assert not missing, "%s: no task %s" % (playbook, missing)
    return variables, [by_name[n] for n in names]


def test_survey_answers_pass_the_playbooks_own_checks_and_bad_ones_do_not(tmp_path):
    """A real ansible-playbook run of each playbook's input checks (its vars and
    its refusing tasks, as they are in the playbook) with survey answers as AWX
    sends them: the defaults of a survey whose commit has no default are
    refused, full_rollback's defaults refuse to change anything, the answers
    the surveys offer pass, and wrong ones are refused."""
    assert set(PLAYBOOK_INPUTS) <= set(GATES) <= set(PLAYBOOKS), "a playbook-only input without its gate"
    for playbook in GATES:  # every check both refuses and lets through some case
        outcomes = [expected for p, _, expected in GATE_CASES if p == playbook]
        assert outcomes and all({True, False} <= set(column) for column in zip(*outcomes)), (playbook, outcomes)
    plays = []
    for i, (playbook, answers, expected) in enumerate(GATE_CASES):
        assert set(answers) <= {q["variable"] for q in questions(playbook)}, (playbook, answers)
        variables, tasks = gate_tasks(playbook)
        assert len(expected) == len(tasks), (playbook, expected)
        steps = [dict(task, ignore_errors=True, register="gate_%d" % n) for n, task in enumerate(tasks)]
        refused = ", ".join("gate_%d.failed | default(false)" % n for n in range(len(tasks)))
        steps.append({"name": "Record", "ansible.builtin.set_fact": {
            "gate_report": "{{ gate_report | default({}) | combine({'%d': [%s]}) }}" % (i, refused)}})
        plays.append({"name": "case %d" % i, "hosts": "localhost", "connection": "local", "gather_facts": False,
                      "vars": {**variables, **survey_answers(playbook, **answers)}, "tasks": steps})
    plays.append({"name": "Report", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [
        {"name": "Write", "ansible.builtin.copy": {"dest": str(tmp_path / "report.json"),
                                                   "content": "{{ gate_report | to_json }}", "mode": "0600"}}]})
    (tmp_path / "gates.yml").write_text(json.dumps(plays, indent=1))
    proc = subprocess.run([tool("ansible-playbook"), "-i", "localhost,", str(tmp_path / "gates.yml")],
                          cwd=tmp_path, env=clean_env(ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                                                      ANSIBLE_COLLECTIONS_PATH=str(PROJECT_DIR / ".collections")),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    wrong = ["%s %s: refused %s, expected %s" % (playbook, answers, report[str(i)], expected)
             for i, (playbook, answers, expected) in enumerate(GATE_CASES) if report[str(i)] != expected]
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
