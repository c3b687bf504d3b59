"""One copy of each rule: no plugin outside module_utils/_rules.py spells a rule's regex again.

Reads every plugin's string constants (module documentation excluded: it may quote a
pattern for the reader) and looks for the distinctive parts of the patterns in _rules.py.
"""

import ast
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[4] / "plugins"
RULES = PLUGINS / "module_utils" / "_rules.py"
DOC_NAMES = {"DOCUMENTATION", "EXAMPLES", "RETURN"}

# (rule, a fragment only a copy of its regex would contain)
FRAGMENTS = [
    ("ref / repo_path", "[A-Za-z0-9][A-Za-z0-9._/-]"),
    ("app_name", "[A-Za-z0-9][A-Za-z0-9.-]"),
    ("sha", "[0-9a-fA-F]{4,40}"),
    ("backup commit", "[0-9a-f]{4,40}"),
    ("db_name", "[A-Za-z_][A-Za-z0-9_-]"),
    ("migration_name", "{14}_"),
    ("backup stamp", "T[0-9]{6}Z"),
    ("backup stamp", "T\\d{6}Z"),
    ("derived databases", "_[0-9]{14}"),
    ("derived databases", "_\\d{14}"),
    ("masking: password keys", "PGPASSWORD|POSTGRES_PASSWORD"),
    ("masking: URL password", "://[^"),
]


def plugin_strings(path):
    """String constants of a plugin, without its DOCUMENTATION/EXAMPLES/RETURN."""
    tree = ast.parse(path.read_text(), str(path))
    docs = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) in DOC_NAMES for t in node.targets):
            docs.update(id(n) for n in ast.walk(node.value))
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def copies():
    found = []
    for path in sorted(PLUGINS.rglob("*.py")):
        if path == RULES:
            continue
        for text in plugin_strings(path):
            found += ["%s: %s (%r)" % (path.relative_to(PLUGINS), rule, fragment)
                      for rule, fragment in FRAGMENTS if fragment in text]
        # DERIVED_KINDS as a literal tuple
        if '"restore", "pre_restore", "verify"' in path.read_text():
            found.append("%s: derived databases (DERIVED_KINDS)" % path.relative_to(PLUGINS))
    return found


def test_the_fragments_are_the_rules_own():
    """The test would find nothing if the fragments drifted from _rules.py."""
    rules = "\n".join(plugin_strings(RULES))
    assert [f for _rule, f in FRAGMENTS if f not in rules] == ["T\\d{6}Z", "_\\d{14}"]  # old spellings only


@pytest.mark.parametrize("fragment", [f for _r, f in FRAGMENTS])
def test_a_copy_would_be_found(tmp_path, fragment):
    copy = tmp_path / "copy.py"
    copy.write_text("DOCUMENTATION = %r\nPATTERN = %r\n" % (fragment, "x" + fragment))
    assert [s for s in plugin_strings(copy) if fragment in s] == ["x" + fragment]


def test_no_second_copy_of_a_rule_in_plugins():
    assert copies() == []
