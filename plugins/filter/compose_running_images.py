# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image id of each running compose service container."""

from __future__ import annotations

DOCUMENTATION = r"""
name: compose_running_images
short_description: Image id of each running compose service
version_added: 0.1.0
description:
  - Takes the C(containers) list of M(community.docker.docker_host_info) (with
    C(verbose_output=true)) and returns service name to image id for the running
    containers of one compose project.
options:
  _input:
    description: The C(containers) list of M(community.docker.docker_host_info).
    type: list
    elements: dict
    required: true
  project:
    description: Compose project name.
    type: str
    required: true
  services:
    description: Only these services; all when empty.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: What runs now
  ansible.builtin.debug:
    msg: "{{ host_info.containers | maverick.rollback.compose_running_images('lifetracker', ['api', 'web']) }}"
"""

RETURN = r"""
_value:
  description: Service name to image id (C(sha256:...)).
  type: dict
"""

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def compose_running_images(containers, project, services=()):
    running = {}
    for container in containers or []:
        labels = container.get("Labels") or {}
        service = labels.get(SERVICE_LABEL)
        if labels.get(PROJECT_LABEL) != project or container.get("State") != "running":
            continue
        if services and service not in services:
            continue
        running[service] = container.get("ImageID")
    return running


class FilterModule:
    """maverick.rollback compose filters."""

    def filters(self):
        return {"compose_running_images": compose_running_images}
