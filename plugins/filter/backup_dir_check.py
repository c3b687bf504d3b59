# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a backup directory (or a backup, or a manifest) can be trusted."""

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

import stat as statmod

ROOT_UID = 0


def file_mode(info):
    """Permission bits of a stat/find entry: its `mode` ('0700' text or a number), else the w* flags."""
    mode = info.get("mode")
    if isinstance(mode, str) and mode.strip():
        return statmod.S_IMODE(int(mode, 8))
    if isinstance(mode, int) and not isinstance(mode, bool):
        return statmod.S_IMODE(mode)
    return (0o020 if info.get("wgrp") else 0) | (0o002 if info.get("woth") else 0)


def untrusted(info, uid):
    """Why a file or directory (an entry of stat or find) is not to be trusted, '' when it is:
    owned by someone other than root and uid, or writable by group or others."""
    if not isinstance(info, dict):
        return ""
    problems = []
    owner = info.get("uid")
    if owner is not None and int(owner) not in (ROOT_UID, int(uid)):
        name = info.get("pw_name") or "uid %s" % owner
        problems.append("owned by %s, not by root or the user running this (uid %s)" % (name, uid))
    mode = file_mode(info)
    if mode & (statmod.S_IWGRP | statmod.S_IWOTH):
        problems.append("writable by group or others (mode %04o)" % mode)
    return " and ".join(problems)


def backup_dir_check(stat, uid, allow_shared=False, option="allow_shared", path=""):
    info = stat.get("stat", stat) if isinstance(stat, dict) else {}
    path = path or info.get("path") or "the backup directory"
    problem = untrusted(info, uid) if info.get("exists", True) else ""
    if not problem:
        return {"ok": True, "problem": "", "msg": "", "warning": ""}
    if allow_shared:
        return {"ok": True, "problem": problem, "msg": "",
                "warning": "backup directory %s is %s; accepted because %s=true" % (path, problem, option)}
    msg = ("refusing backup directory %s: it is %s. Whoever can write there can plant a backup (or replace one) "
           "that a restore would take. Make it owned by root or the user running this and mode 0700 (chmod 0700 %s), "
           "or set %s=true to accept it. Nothing was changed." % (path, problem, path, option))
    return {"ok": False, "problem": problem, "msg": msg, "warning": ""}


class FilterModule:
    """maverick.rollback backup filters."""

    def filters(self):
        return {"backup_dir_check": backup_dir_check}
