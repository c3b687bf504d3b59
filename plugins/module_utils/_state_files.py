# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection's own state files (release ledger, app lock) are opened and
written on the server: never through a symbolic link, never half-written.

Pure Python (standard library only), shared by _ledger.py and _lock.py.
"""

from __future__ import annotations

import errno
import os
import stat

STATE_DIR_MODE = 0o700
STATE_FILE_MODE = 0o600


class StateFileError(Exception):
    """A state file cannot be used as it is; the message says why and what to do."""


def refusal(path, what, reason):
    return ("refusing the %s %s: %s. Nothing was written to it or through it; replace it by a regular file "
            "(0600, owned by the user the playbook becomes) or remove it." % (what, path, reason))


def open_state_file(path, flags, what, mode=STATE_FILE_MODE):
    """os.open without following a symbolic link in the last component (O_NOFOLLOW);
    a link, a directory or a device is refused with StateFileError naming it."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP and os.path.islink(path):
            raise StateFileError(refusal(path, what, "it is a symbolic link (to %s)" % os.readlink(path))) from exc
        if exc.errno == errno.EISDIR:
            raise StateFileError(refusal(path, what, "it is a directory")) from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StateFileError(refusal(path, what, "it is not a regular file"))
    return fd


def ensure_dir(directory):
    """Create the state directory 0700 when missing; True when it was created."""
    if not directory or os.path.isdir(directory):
        return False
    os.makedirs(directory, mode=STATE_DIR_MODE, exist_ok=True)
    return True


def write_all(fd, data):
    """os.write until every byte is out: a full disk writes short, and a write that
    makes no progress at all is reported as ENOSPC instead of looping."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, "no space left: wrote %d of %d bytes" % (len(data) - len(view), len(data)))
        view = view[written:]


def fsync_dir(directory):
    """Make a new or renamed directory entry durable (best effort where unsupported)."""
    try:
        fd = os.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
