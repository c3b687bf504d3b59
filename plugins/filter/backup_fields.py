# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fields of a backup's name, read back from its path."""

from __future__ import annotations

DOCUMENTATION = r"""
name: backup_fields
short_description: Read app, database, time and commit back out of a backup's path
version_added: 0.1.0
description:
  - Takes the path of a backup (or of its C(.json) manifest) named as
    M(maverick.rollback.pg_backup) names them - C(<app>_<db>_<YYYYmmddTHHMMSSZ>_<commit>[-N].dump) -
    and returns its fields. The app name has no C(_), so the database is what follows the first C(_).
  - Any other name (or an empty path) gives an empty dict.
options:
  _input:
    description: Path of a backup or manifest.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Which database the backup holds
  ansible.builtin.debug:
    msg: "{{ (dump.path | maverick.rollback.backup_fields).database | default(db_name, true) }}"
"""

RETURN = r"""
_value:
  description: The fields, or an empty dict.
  type: dict
  contains:
    name: {description: File name of the backup (not the manifest)., type: str}
    app: {description: App name., type: str}
    database: {description: Database name., type: str}
    stamp: {description: UTC time C(YYYYmmddTHHMMSSZ)., type: str}
    commit: {description: Short commit, or C(unknown)., type: str}
    seq: {description: Sequence number of backups in the same second (0 for the first)., type: int}
"""

import os

from ansible_collections.maverick.rollback.plugins.module_utils._rules import parse_backup_name


def backup_fields(path):
    return parse_backup_name(os.path.basename(str(path or "").rstrip("/"))) or {}


class FilterModule:
    """maverick.rollback backup filters."""

    def filters(self):
        return {"backup_fields": backup_fields}
