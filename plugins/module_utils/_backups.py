# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup rules, one copy each: which backups retention must keep because the release
ledger points at them, and whether a backup directory (or a backup, or a manifest) can be
trusted.

Standard library only (no Ansible imports): pg_backup applies them on the server, the
filters backup_protect, backup_dir_check and backup_pick on the controller.
"""

from __future__ import annotations

import os
import pwd
import stat as statmod

from ansible_collections.maverick.rollback.plugins.module_utils._ledger import commits_to_keep

ROOT_UID = 0


# --------------------------------------------------------------------------- retention

def same_commit(a, b):
    a, b = str(a or "").lower(), str(b or "").lower()
    if len(a) < 4 or len(b) < 4 or "unknown" in (a, b):
        return False
    return a.startswith(b) or b.startswith(a)


def _in_dir(path, directory):
    if not directory:
        return True
    return os.path.dirname(os.path.normpath(path)) == os.path.normpath(directory)


def backup_protect(records, releases, backup_dir="", restores=1):
    """Backup paths the ledger still points at, sorted: (1) the newest verified backup in
    backup_dir taken while one of `releases` ran, (2) a backup a deploy or rollback record of
    one of them names, (3) the backup and safety backup of the newest `restores` restores."""
    records = [r for r in records or [] if isinstance(r, dict)]
    releases = [c for c in releases or [] if c]
    protected = set()
    backups = [r for r in records if r.get("action") == "backup" and r.get("path")
               and r.get("outcome", "verified") == "verified"]
    for commit in releases:
        for record in reversed(backups):
            if same_commit(record.get("commit"), commit) and _in_dir(record["path"], backup_dir):
                protected.add(record["path"])
                break
    for record in records:
        if record.get("action") in ("backup", "restore", "restore_undo"):
            continue
        if record.get("backup") and any(same_commit(record.get("to_commit"), c) for c in releases):
            protected.add(record["backup"])
    restore_records = [r for r in records if r.get("action") == "restore"]
    for record in restore_records[-restores:] if restores > 0 else []:
        for key in ("backup", "safety_backup"):
            if record.get(key):
                protected.add(record[key])
    return sorted(protected)


def ledger_protect(records, protect_releases, backup_dir):
    """What retention keeps for the ledger's sake: backup_protect over the newest
    `protect_releases` healthy releases (0: none; the records as read, oldest first)."""
    releases = commits_to_keep(records, protect_releases) if protect_releases > 0 else []
    return backup_protect(records, releases, backup_dir)


# --------------------------------------------------------------------------- trust

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
    """The verdict on a backup directory from its stat: ok, problem, msg (the refusal), warning
    (a shared directory accepted with allow_shared). A directory that does not exist passes."""
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


def path_stat(path):
    """The fields of ansible.builtin.stat (follow: true) the trust rule reads: exists, path, uid,
    pw_name, mode ('0700')."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {"exists": False, "path": path}
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = ""
    return {"exists": True, "path": path, "uid": st.st_uid, "pw_name": owner,
            "mode": "%04o" % statmod.S_IMODE(st.st_mode)}
