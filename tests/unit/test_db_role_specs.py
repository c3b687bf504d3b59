"""Every role: argument_specs match defaults, internals stay internal, and the
app is described once (the app contract role `app` owns every app_* setting).

Every default has a documented option with the same default (and the other way round),
every option is role-prefixed, vars/main.yml only defines __<role>_ internals.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"
ALL_ROLES = sorted(p.name for p in ROLES.iterdir() if (p / "defaults" / "main.yml").exists())
APP_SETTING = re.compile(r"^app_(?!rollback_)")


def load(role, rel):
    return yaml.safe_load((ROLES / role / rel).read_text()) or {}


@pytest.mark.parametrize("role", ALL_ROLES)
def test_argument_specs_match_defaults(role):
    defaults = load(role, "defaults/main.yml")
    options = {}
    for entry in load(role, "meta/argument_specs.yml")["argument_specs"].values():
        options.update(entry["options"])
    assert set(defaults) == set(options), set(defaults) ^ set(options)
    for name, spec in options.items():
        assert name.startswith(role + "_"), name
        assert spec.get("description"), name
        assert spec.get("default") == defaults[name] or spec.get("required"), name
        if "choices" in spec:
            assert defaults[name] in spec["choices"], name


@pytest.mark.parametrize("role", ALL_ROLES)
def test_vars_are_internal(role):
    assert all(name.startswith("__%s_" % role) for name in load(role, "vars/main.yml"))


@pytest.mark.parametrize("role", [r for r in ALL_ROLES if r != "app"])
def test_app_settings_are_declared_only_by_the_app_role(role):
    """One name and one default each: no role re-declares an app setting, and each depends on `app`."""
    assert not [name for name in load(role, "defaults/main.yml") if APP_SETTING.match(name)]
    assert {"role": "maverick.rollback.app"} in load(role, "meta/main.yml")["dependencies"]


def test_the_database_port_has_one_default():
    """5433 is declared once (the modules' _connection.DEFAULT_PORT); roles and playbooks name no port."""
    hits = [str(p.relative_to(ROOT)) for base in ("roles", "playbooks")
            for p in (ROOT / base).rglob("*") if p.suffix in (".yml", ".py")
            and re.search(r"(?<![0-9])543[23](?![0-9])", re.sub(r"#.*|C\([^)]*\)|description:.*", "", p.read_text()))]
    assert hits == [], hits


def test_passwords_are_no_log_in_the_spec():
    options = load("app", "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert options["app_db_password"].get("no_log") is True


def test_no_shell_and_no_secret_environment_in_tasks():
    for path in list((ROLES / "db_backup" / "tasks").glob("*.yml")) + list((ROLES / "db_restore" / "tasks").glob("*.yml")):
        text = path.read_text()
        assert "ansible.builtin.shell" not in text, path
        # `environment:` would put values on the remote command line (ps, -vvv).
        assert "environment:" not in text, path
