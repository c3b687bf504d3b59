"""Role migration_resolve: the interface files (argument specs, defaults, internal names).

The revert-SQL guard and the name rules are filters now: tests/unit/plugins/filter/
test_migration_filters.py (sql_transaction_check) and tables/rule.yml.
"""

from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "migration_resolve"
VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())


def test_argument_specs_match_defaults():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults) == set(specs)
    for name, spec in specs.items():
        assert spec.get("default") == defaults[name], name
        assert spec.get("description"), name
    assert all(name.startswith("migration_resolve_") for name in defaults)


def test_internal_vars_are_prefixed():
    assert all(name.startswith("__migration_resolve_") for name in VARS)
