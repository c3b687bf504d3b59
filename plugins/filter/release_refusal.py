# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why a rollback is refused from its release facts, before anything changes."""

from __future__ import annotations

DOCUMENTATION = r"""
name: release_refusal
short_description: Why a rollback is refused, from its release facts
version_added: 0.1.0
description:
  - >-
    Reads what M(maverick.rollback.release_facts) answered (its result, also when it failed) and returns the
    lines of the first refusal, or an empty list when the run may go on. In order - another run holds
    the app lock; the target is not a commit of the repository (with the recent commits); the facts could
    not be read; the work tree has local changes (unless O(force_dirty)).
  - One controller-side decision instead of a task per refusal (each task costs time on the 3 a.m. path).
options:
  _input:
    description: The registered result of M(maverick.rollback.release_facts) (run with C(failed_when) false).
    type: dict
    required: true
  force_dirty:
    description: Check out even when tracked files have local changes (they are listed either way).
    type: bool
    default: false
  project_dir:
    description: The checkout, named in the dirty work tree's message.
    type: str
    default: the checkout
  action:
    description: What is planned, in the message when the facts could not be read (V(rollback), V(deploy), ...).
    type: str
    default: rollback
"""

EXAMPLES = r"""
- name: Refuse before anything changes
  ansible.builtin.fail:
    msg: "{{ __refusal }}"
  vars:
    __refusal: "{{ facts | maverick.rollback.release_refusal(force_dirty=false, project_dir='/opt/app') }}"
  when: __refusal | length > 0
"""

RETURN = r"""
_value:
  description: The refusal's lines (the first says what and that nothing was changed), or an empty list.
  type: list
  elements: str
"""


def release_refusal(facts, force_dirty=False, project_dir="the checkout", action="rollback"):
    msg = str(facts.get("msg") or "")
    if facts.get("lock_holder") is not None:
        return [msg]
    if facts.get("recent") is not None:
        return [msg + ". Nothing was changed. Recent commits:"] + list(facts["recent"])
    if facts.get("target") is None:
        return ["cannot plan the %s: %s. Nothing was changed." % (action, msg)]
    dirty = list(facts.get("dirty_files") or [])
    if dirty and not force_dirty:
        return ["the work tree %s has local changes; commit or stash them, or set app_rollback_force_dirty=true. "
                "Nothing was changed. Files:" % project_dir] + dirty
    return []


class FilterModule:
    """maverick.rollback rollback decisions."""

    def filters(self):
        return {"release_refusal": release_refusal}
