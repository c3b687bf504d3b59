# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One readable line per recent commit, annotated from the release ledger."""

from __future__ import annotations

DOCUMENTATION = r"""
name: release_lines
short_description: Annotate recent commits with ledger history and kept images
version_added: 0.1.0
description:
  - Takes lines of C(git log --format=%H%x09%cs%x09%D%x09%s) and returns one line per
    commit with its refs, subject, when the ledger last saw it deployed and with what
    outcome, whether images are kept (rollback without rebuild), and which one runs now.
options:
  _input:
    description: git log lines, tab separated (SHA, date, refs, subject).
    type: list
    elements: str
    required: true
  ledger_commits:
    description: The C(commits) return value of M(maverick.rollback.release_ledger).
    type: dict
    required: true
  kept:
    description: Commit SHAs with kept images.
    type: list
    elements: str
    required: true
  current:
    description: SHA running now.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Show releases
  ansible.builtin.debug:
    msg: "{{ log.stdout_lines | maverick.rollback.release_lines(ledger.commits, kept_shas, head_sha) }}"
"""

RETURN = r"""
_value:
  description: One line per commit.
  type: list
  elements: str
"""


def release_line(line, ledger_commits, kept, current):
    sha, date, refs, subject = (line.split("\t", 3) + ["", "", ""])[:4]
    parts = ["%s %s" % (sha[:12], date)]
    tags = [r.strip().replace("tag: ", "") for r in refs.split(",") if r.strip().startswith("tag: ")]
    parts.append(("[%s]" % ", ".join(tags)) if tags else "")
    parts.append(subject)
    seen = ledger_commits.get(sha)
    if seen:
        parts.append("| %s %s at %s (%dx)" % (
            seen.get("last_action"), seen.get("last_outcome"), seen.get("last_time"), seen.get("deploys", 0)))
    if sha in kept:
        parts.append("| images kept")
    if sha == current:
        parts.append("<= running")
    return " ".join(p for p in parts if p)


def release_lines(lines, ledger_commits, kept, current):
    return [release_line(line, ledger_commits or {}, kept or [], current) for line in lines]


class FilterModule:
    """maverick.rollback release filters."""

    def filters(self):
        return {"release_lines": release_lines}
