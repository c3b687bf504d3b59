# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the PostgreSQL client tools run: on the host, or in the database container."""

from __future__ import annotations

DOCUMENTATION = r"""
name: pg_tools_via
short_description: Decide whether PostgreSQL client tools run on the host or through docker compose exec
version_added: 0.2.0
description:
  - O(wanted) C(host) or C(compose) is taken as it is.
  - C(auto) takes C(host) when the server has the tool (its C(--version) answered) and its
    major version is at least the database server's (older client tools cannot read a newer
    server's dumps), else C(compose) - the tools inside the database container, which always match.
  - The same rule as M(maverick.rollback.pg_backup)'s C(via=auto) (module_utils/_rules.py C(host_tools_fit)).
options:
  _input:
    description:
      - The registered result of C(<tool> --version) on the server (C(rc), C(stdout)); skipped
        or failed means the host has no such tool.
    type: dict
    required: true
  wanted:
    description: C(auto), C(host) or C(compose).
    type: str
    default: auto
  server_num:
    description: The server's C(server_version_num) (for example 150004); unknown (C(none)) never fits the host.
    type: raw
    default: null
  tool:
    description: Name of the tool, for the reason.
    type: str
    default: pg_restore
"""

EXAMPLES = r"""
- name: Decide where the client tools run
  ansible.builtin.set_fact:
    tools: "{{ host_tools | maverick.rollback.pg_tools_via('auto', (dbs | first | default({})).server_num | default(none)) }}"
"""

RETURN = r"""
_value:
  description: The decision.
  type: dict
  contains:
    via: {description: C(host) or C(compose)., type: str}
    reason: {description: Why C(auto) chose C(compose); empty otherwise., type: str}
    client_version: {description: The host tool's version (C(15.18)), empty when it has none., type: str}
    client_major: {description: Its major version, 0 when none., type: int}
    server_major: {description: The server's major version, 0 when unknown., type: int}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.maverick.rollback.plugins.module_utils._rules import (
    server_major, tool_major, tool_version)


def pg_tools_via(host_tools, wanted="auto", server_num=None, tool="pg_restore"):
    host_tools, wanted = host_tools or {}, str(wanted or "auto").strip().lower()
    if wanted not in ("auto", "host", "compose"):
        raise AnsibleFilterError("pg_tools_via: wanted must be auto, host or compose, not %r" % (wanted,))
    answered = host_tools.get("rc", 1) == 0 and not host_tools.get("skipped")
    text = str(host_tools.get("stdout") or "") if answered else ""
    client, server = tool_major(text) if answered else 0, server_major(server_num) if server_num not in (None, "") else 0
    out = {"via": wanted, "reason": "", "client_version": tool_version(text), "client_major": client, "server_major": server}
    if wanted != "auto":
        return out
    if not answered:
        return dict(out, via="compose", reason="no %s on the host" % tool)
    if not server:
        return dict(out, via="compose", reason="the server's version is unknown")
    if client < server:
        return dict(out, via="compose", reason="%s %s on the host is older than the server (%d)" % (
            tool, out["client_version"] or client, server))
    return dict(out, via="host")


class FilterModule:
    """maverick.rollback PostgreSQL filters."""

    def filters(self):
        return {"pg_tools_via": pg_tools_via}
