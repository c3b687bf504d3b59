# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The regular expression of one of the collection's validation rules."""

from __future__ import annotations

DOCUMENTATION = r"""
name: rule
short_description: The regular expression of one of the collection's naming rules
version_added: 0.1.0
description:
  - Returns the one pattern the collection uses for a kind of name (module_utils/_rules.py;
    the modules check the same), for Jinja's C(match) and C(search) tests, C(select) /
    C(reject) and M(ansible.builtin.find) with C(use_regex).
  - Patterns are anchored at both ends with Python's C(\A) and C(\Z), so a trailing newline never passes.
  - >-
    Kinds: C(ref) (a git SHA, tag or branch: letters, digits, C(.), C(_), C(/), C(-), no leading
    C(-), no C(..), at most 200 characters), C(sha) (4-40 hex digits), C(db_name) (letters,
    digits, C(_), C(-), no leading digit, at most 63), C(app_name) (letters, digits, C(.), C(-);
    no C(_) - it separates the fields of backup names), C(migration_name) (Prisma
    C(<14 digits>_<letters, digits, _>)), C(service_name), C(url) (C(http://host...) or C(https://...)),
    C(secure_url) (a URL a credential may be sent to - C(https://host...), or C(http://) only to
    this machine - C(localhost), C(127.0.0.0/8), C([::1]) - where nothing crosses a network),
    C(abs_path) (absolute, no control characters), C(repo_path) (relative, no leading C(/) or
    C(-), no C(..) component), C(int) (digits only).
  - >-
    Kinds built from parts: C(backup_name) (O(app), O(database), O(manifest) - the names
    M(maverick.rollback.pg_backup) gives backups and their C(.json) manifests) and
    C(derived_db) (O(database), O(kinds) - the scratch, pre-restore and verify databases
    C(<db>_<kind>_<YYYYmmddHHMMSS>)).
options:
  _input:
    description: The kind of name.
    type: str
    required: true
    choices: [ref, sha, db_name, app_name, migration_name, service_name, url, secure_url, abs_path, repo_path, int, backup_name, derived_db]
  app:
    description: For C(backup_name) - the app (literal); empty matches any app.
    type: str
    default: ""
  database:
    description: For C(backup_name) (empty matches any) and C(derived_db) (required) - the database (literal).
    type: str
    default: ""
  manifest:
    description: For C(backup_name) - the name of the C(.json) manifest instead of the backup.
    type: bool
    default: false
  kinds:
    description: For C(derived_db) - which derived databases.
    type: list
    elements: str
    default: [restore, pre_restore, verify]
"""

EXAMPLES = r"""
- name: Refuse a commit that is not a SHA, tag or branch
  ansible.builtin.assert:
    that: app_rollback_commit | string is match('ref' | maverick.rollback.rule)

- name: Names that are not databases
  ansible.builtin.debug:
    msg: "{{ names | reject('match', 'db_name' | maverick.rollback.rule) | list }}"

- name: Backups of the app and database that have a manifest
  ansible.builtin.find:
    paths: /var/lib/maverick-rollback/backups
    patterns: ["{{ 'backup_name' | maverick.rollback.rule(app='lifetracker', database='lifetracker', manifest=true) }}"]
    use_regex: true

- name: Pre-restore databases of lifetracker
  ansible.builtin.debug:
    msg: "{{ datnames | select('match', 'derived_db' | maverick.rollback.rule(database='lifetracker', kinds=['pre_restore'])) | list }}"
"""

RETURN = r"""
_value:
  description: A regular expression (Python re syntax).
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.module_utils._rules import (
    DERIVED_KINDS, backup_name_pattern, derived_db_pattern, pattern)


def rule(kind, app="", database="", manifest=False, kinds=DERIVED_KINDS):
    kind = str(kind or "")
    if kind == "backup_name":
        return backup_name_pattern(str(app or ""), str(database or ""), bool(manifest))
    if kind == "derived_db":
        if not database:
            raise AnsibleFilterError("rule derived_db needs the database it derives from (database=...)")
        return derived_db_pattern(str(database), kinds)
    try:
        return pattern(kind)
    except ValueError as exc:
        raise AnsibleFilterError("rule: %s" % exc)


class FilterModule:
    """maverick.rollback validation rules."""

    def filters(self):
        return {"rule": rule}
