# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which built services get a different image when switching releases."""

from __future__ import annotations

DOCUMENTATION = r"""
name: services_to_change
short_description: Built services whose running image differs from the target's
version_added: 0.1.0
description:
  - Compares service-to-image-id maps. A service changes when it has no kept target
    image (it will be built) or its running image is not the target image.
options:
  _input:
    description: Service names built from the checkout.
    type: list
    elements: str
    required: true
  running:
    description: Service to running image id.
    type: dict
    required: true
  target:
    description: Service to image id kept for the target commit.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Services that will be recreated
  ansible.builtin.debug:
    msg: "{{ ['api', 'web'] | maverick.rollback.services_to_change(running_ids, target_ids) }}"
"""

RETURN = r"""
_value:
  description: Service names, in input order.
  type: list
  elements: str
"""


def services_to_change(services, running, target):
    return [s for s in services if s not in target or running.get(s) != target[s]]


class FilterModule:
    """maverick.rollback release filters."""

    def filters(self):
        return {"services_to_change": services_to_change}
