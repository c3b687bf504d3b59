# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The app's .env (Compose syntax): one parser for modules and filters."""

from __future__ import annotations

import re

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A quoted value, optionally followed by a comment: "x" # rotated.
QUOTED = re.compile(r"""\A(?:"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(?:#.*)?\Z""")


def parse_env_file(text):
    """KEY=VALUE lines: comments, blank lines and `export ` skipped; matching
    quotes removed (double quotes unescape \\n, \\" and \\\\), a comment after them
    ignored; an unquoted value ends at ` #`. No interpolation."""
    env = {}
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not KEY.match(key):
            continue
        value = value.strip()
        quoted = QUOTED.match(value)
        if quoted and quoted.group(1) is not None:
            value = quoted.group(1).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        elif quoted:
            value = quoted.group(2)
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        env[key] = value
    return env
