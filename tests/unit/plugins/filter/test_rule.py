"""rule: one pattern per kind of name, for Jinja's match/select/reject and find."""

import re
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.filter.rule import rule
from ansible_collections.maverick.rollback.plugins.module_utils._rules import is_valid, parse_backup_name

CASES = yaml.safe_load((Path(__file__).parent / "tables" / "rule.yml").read_text())


@pytest.mark.parametrize("kind,value,valid", CASES, ids=["%s:%r" % (c[0], c[1]) for c in CASES])
def test_rule(kind, value, valid):
    assert isinstance(value, str)  # YAML reads 20250301000000_ as a number
    assert (re.match(rule(kind), value) is not None) is valid  # what Jinja's match test does
    assert is_valid(kind, value) is valid                       # what the modules call


BACKUP_CASES = [
    # (name, app, database, manifest, fields or None)
    ("lifetracker_lifetracker_20260105T031500Z_abcdef123456.dump", "lifetracker", "lifetracker", False,
     {"app": "lifetracker", "database": "lifetracker", "stamp": "20260105T031500Z", "commit": "abcdef123456", "seq": 0}),
    ("lifetracker_lifetracker_20260105T031500Z_unknown-2.dump", "", "", False,
     {"app": "lifetracker", "database": "lifetracker", "stamp": "20260105T031500Z", "commit": "unknown", "seq": 2}),
    ("life.tracker_my_db-1_20260105T031500Z_abcd.dump", "", "", False,
     {"app": "life.tracker", "database": "my_db-1", "stamp": "20260105T031500Z", "commit": "abcd", "seq": 0}),
    ("lifetracker_lifetracker_20260105T031500Z_abcd.dump.json", "lifetracker", "lifetracker", True,
     {"app": "lifetracker", "database": "lifetracker", "stamp": "20260105T031500Z", "commit": "abcd", "seq": 0}),
    ("lifetracker_lifetracker_20260105T031500Z_abcd.dump.json", "lifetracker", "lifetracker", False, None),
    ("lifetracker_lifetracker_test_20260105T031500Z_abcd.dump", "lifetracker", "lifetracker", False, None),
    ("lifeXtracker_db_20260105T031500Z_abcd.dump", "life.tracker", "db", False, None),  # literal '.'
    ("lifetracker_lifetracker_20260105T031500Z_ABCD.dump", "", "", False, None),        # we write lower case
    ("lifetracker_lifetracker_2026_abcd.dump", "", "", False, None),
    (".lifetracker_lifetracker_20260105T031500Z_abcd.dump.partial-77", "", "", False, None),
    ("backup.sql", "", "", False, None),
]


@pytest.mark.parametrize("name,app,database,manifest,fields", BACKUP_CASES, ids=[c[0] for c in BACKUP_CASES])
def test_backup_name(name, app, database, manifest, fields):
    match = re.match(rule("backup_name", app=app, database=database, manifest=manifest), name)
    assert (match is not None) is (fields is not None)
    if fields:
        parsed = parse_backup_name(name, app, database)
        assert {k: parsed[k] for k in fields} == fields and parsed["name"] == name.replace(".json", "")


@pytest.mark.parametrize("name,kinds,ok", [
    ("lifetracker_pre_restore_20260105031500", ["pre_restore"], True),
    ("lifetracker_restore_20260105031500", ["pre_restore"], False),
    ("lifetracker_restore_20260105031500", ["restore", "pre_restore", "verify"], True),
    ("lifetracker_verify_20260105031500", ["restore", "pre_restore", "verify"], True),
    ("lifetracker", ["restore", "pre_restore", "verify"], False),
    ("lifetracker_test_restore_20260105031500", ["restore"], False),
    ("lifetracker_restore_2026010503150", ["restore"], False),
])
def test_derived_db(name, kinds, ok):
    assert (re.match(rule("derived_db", database="lifetracker", kinds=kinds), name) is not None) is ok


def test_derived_db_default_kinds_and_literal_database():
    assert re.match(rule("derived_db", database="life-db"), "life-db_verify_20260105031500")
    assert not re.match(rule("derived_db", database="a.b"), "aXb_verify_20260105031500")


@pytest.mark.parametrize("kind,kwargs,message", [
    ("nope", {}, "unknown rule 'nope'"),
    ("derived_db", {}, "needs the database"),
])
def test_rule_errors(kind, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        rule(kind, **kwargs)
