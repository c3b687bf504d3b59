# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the server check (module_utils/_preflight.py): preflight and release_facts."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  prisma_dir:
    description:
      - The Prisma project relative to O(project_dir) (for example C(packages/core)). When set,
        the Prisma CLI is checked (M(maverick.rollback.preflight) says how).
    type: str
  prisma_command:
    description: The Prisma CLI as an argument list, as given to M(maverick.rollback.prisma_migrate).
    type: list
    elements: str
    default: [bunx, --bun, prisma]
  require:
    description:
      - PostgreSQL client tools that must be on the host.
      - M(maverick.rollback.preflight) reports the other tools' versions too. The check inside
        another module's call (C(check_server) of release_facts, pg_backup, pg_restore) reads only these
        tools' versions.
    type: list
    elements: str
    choices: [pg_dump, pg_restore, psql, pg_isready]
    default: []
  min_python:
    description: The oldest Python accepted for the modules, as C(major.minor).
    type: str
    default: "3.9"
  timeout:
    description: Seconds each probe may take (coreutils C(timeout); a hung docker daemon is reported, not waited for).
    type: int
    default: 30
"""
