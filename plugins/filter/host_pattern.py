# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host pattern a playbook's play runs on (its hosts: line), checked."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: host_pattern
short_description: The host pattern of a play's C(hosts) line, checked
version_added: 0.1.0
description:
  - >-
    Every play of the collection's playbooks runs on
    C({{ target | default('lifetracker') | maverick.rollback.host_pattern }}), the inventory group or host(s)
    given as O(_input), trimmed.
  - Refuses an empty pattern or one with a line break (an AWX survey answer pasted with one), naming C(target),
    before any host is contacted.
  - >-
    Why on the C(hosts) line - a play's C(hosts) is templated in ansible-playbook's main process, so this first
    use of a C(maverick.rollback) filter loads the collection's filters there once. Otherwise ansible-core
    2.19 loads every filter file of the collection again in the worker process of each task that uses one
    (about 70 ms of CPU a task and host, measured, docs/performance.md).
options:
  _input:
    description: The pattern (a group, a host, or Ansible's pattern syntax such as C(web:&eu)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Quick rollback
  hosts: "{{ target | default('lifetracker') | maverick.rollback.host_pattern }}"
  gather_facts: false
  tasks: []
"""

RETURN = r"""
_value:
  description: The pattern, trimmed.
  type: str
"""


def host_pattern(value):
    pattern = "" if value is None else str(value).strip()
    if not pattern or "\n" in pattern or "\r" in pattern:
        raise AnsibleFilterError(
            "target %r is not a host pattern: name the inventory group or host(s) to run on "
            "(-e target=<group>). Nothing was changed." % (value,))
    return pattern


class FilterModule:
    """maverick.rollback play filters."""

    def filters(self):
        return {"host_pattern": host_pattern}
