"""db_backup and db_restore: argument_specs match defaults, and the internals stay internal.

Every default has a documented option with the same default (and the other way round),
every option is role-prefixed, vars/main.yml only defines __<role>_ internals.
"""

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"


def load(role, rel):
    return yaml.safe_load((ROLES / role / rel).read_text()) or {}


@pytest.mark.parametrize("role", ["db_backup", "db_restore"])
def test_argument_specs_match_defaults(role):
    defaults = load(role, "defaults/main.yml")
    options = load(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options), set(defaults) ^ set(options)
    for name, spec in options.items():
        assert name.startswith(role + "_"), name
        assert spec.get("description"), name
        assert spec.get("default") == defaults[name], name
        if "choices" in spec:
            assert defaults[name] in spec["choices"], name


@pytest.mark.parametrize("role", ["db_backup", "db_restore"])
def test_vars_are_internal(role):
    assert all(name.startswith("__%s_" % role) for name in load(role, "vars/main.yml"))


@pytest.mark.parametrize("role", ["db_backup", "db_restore"])
def test_passwords_are_no_log_in_the_spec(role):
    options = load(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert options["%s_db_password" % role].get("no_log") is True


def test_no_shell_and_no_secret_environment_in_tasks():
    for path in list((ROLES / "db_backup" / "tasks").glob("*.yml")) + list((ROLES / "db_restore" / "tasks").glob("*.yml")):
        text = path.read_text()
        assert "ansible.builtin.shell" not in text, path
        # `environment:` would put values on the remote command line (ps, -vvv).
        assert "environment:" not in text, path
