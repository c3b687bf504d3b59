# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a restore reads of its backup directories, in one pass and read-only.

The entries have the shapes of ansible.builtin.stat / find / slurp results, so the
controller-side rules (the filters backup_dir_check, backup_list, backup_pick) decide
on them unchanged. Standard library only, unit-tested directly.
"""

from __future__ import annotations

import base64
import os
import pwd
import re
import stat as statmod

from ansible_collections.maverick.rollback.plugins.module_utils._rules import backup_name_pattern

# A manifest is a few KiB; a bigger file under a manifest name is not read.
MANIFEST_MAX_BYTES = 1024 * 1024


def _owner(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


def file_entry(path, follow=False):
    """A stat/find-like entry: path, exists, uid, pw_name, mode ('0700'), size, mtime, isdir, isreg."""
    try:
        info = os.stat(path) if follow else os.lstat(path)
    except FileNotFoundError:
        return {"path": path, "exists": False}
    return {"path": path, "exists": True, "uid": info.st_uid, "pw_name": _owner(info.st_uid),
            "mode": "%04o" % statmod.S_IMODE(info.st_mode), "size": info.st_size, "mtime": info.st_mtime,
            "isdir": statmod.S_ISDIR(info.st_mode), "isreg": statmod.S_ISREG(info.st_mode)}


def directory_entries(paths):
    """The stat of each directory (symlinks followed, as a backup directory may be one)."""
    return [file_entry(path, follow=True) for path in paths]


def read_manifest_text(path):
    """A slurp-like result: source and base64 content, or failed and msg when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MANIFEST_MAX_BYTES + 1)
    except OSError as exc:
        return {"source": path, "failed": True, "msg": "cannot read %s: %s" % (path, exc.strerror)}
    if len(data) > MANIFEST_MAX_BYTES:
        return {"source": path, "failed": True, "msg": "%s is larger than a manifest can be" % path}
    return {"source": path, "content": base64.b64encode(data).decode("ascii"), "encoding": "base64"}


def read_backups(directory, app, database):
    """The backups of app/database in directory and their manifests (not recursive, links not
    followed): manifests (regular files only), manifest_contents (read), backups (any type)."""
    manifest_re = re.compile(backup_name_pattern(app, database, manifest=True))
    backup_re = re.compile(backup_name_pattern(app, database))
    try:
        names = sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        names = []
    manifests, backups = [], []
    for name in names:
        path = os.path.join(directory, name)
        if manifest_re.match(name):
            entry = file_entry(path)
            if entry.get("isreg"):
                manifests.append(entry)
        elif backup_re.match(name):
            entry = file_entry(path)
            if entry["exists"]:
                backups.append(entry)
    return {"manifests": manifests, "backups": backups,
            "manifest_contents": [read_manifest_text(entry["path"]) for entry in manifests]}
