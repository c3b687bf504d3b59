# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a backup directory (or a backup, or a manifest) can be trusted.

The rule is module_utils/_backups.py (pg_backup applies it to its backup_dir on the server).
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: backup_dir_check
short_description: Refuse a backup directory that others can write to
version_added: 0.1.0
description:
  - A restore takes the newest backup it finds in the backup directory. Anyone who can write
    there can plant a backup (or replace one) that the next restore would take, so a backup
    directory must be owned by root or by the user running the playbook (O(uid)), and not be
    writable by group or others.
  - A directory that does not exist yet passes (M(maverick.rollback.pg_backup) creates it 0700).
  - With O(allow_shared) a shared directory is accepted, with a warning.
  - The same rule decides which backups and manifests M(maverick.rollback.backup_pick) skips.
options:
  _input:
    description: The C(stat) of the directory (the registered result of M(ansible.builtin.stat), or its C(stat) key).
    type: dict
    required: true
  uid:
    description: The effective user id the playbook runs as on the server (C(ansible_facts.effective_user_id)).
    type: int
    required: true
  allow_shared:
    description: Accept a directory others can write to (the role option that says so).
    type: bool
    default: false
  option:
    description: The name of that role option, for the message.
    type: str
    default: allow_shared
  path:
    description: The directory, for the message (default the C(path) of the stat).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Read the backup directory
  ansible.builtin.stat:
    path: "{{ app_backup_dir }}"
    follow: true
    get_checksum: false
  register: backup_dir_stat

- name: Refuse a backup directory others can write to
  ansible.builtin.assert:
    that: __check.ok
    fail_msg: "{{ __check.msg }}"
    quiet: true
  vars:
    __check: >-
      {{ backup_dir_stat | maverick.rollback.backup_dir_check(ansible_facts.effective_user_id,
           allow_shared=db_backup_allow_shared_backup_dir, option='db_backup_allow_shared_backup_dir') }}
"""

RETURN = r"""
_value:
  description: The verdict.
  type: dict
  contains:
    ok: {description: True when the directory is trusted or accepted with O(allow_shared)., type: bool}
    problem: {description: "What is wrong (for example C(writable by group or others (mode 0777))), empty when nothing is.", type: str}
    msg: {description: The refusal, empty when O(ok)., type: str}
    warning: {description: The warning when a shared directory is accepted with O(allow_shared), else empty., type: str}
"""

from ansible_collections.maverick.rollback.plugins.module_utils._backups import backup_dir_check


class FilterModule:
    """maverick.rollback backup filters."""

    def filters(self):
        return {"backup_dir_check": backup_dir_check}
