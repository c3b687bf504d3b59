# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image id per built service for one tag (a commit SHA, or the compose tag)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: release_image_ids
short_description: Image id per built service for a commit tag
version_added: 0.1.0
description:
  - Takes the C(images) list of M(community.docker.docker_host_info) (verbose) and the
    output of P(maverick.rollback.compose_built_images#filter), and returns service name
    to the id of C(<repository>:<tag>) for the services that have such an image.
  - With an empty O(tag), looks up the reference compose runs (C(<repository>:latest)
    or the tag in the compose file).
options:
  _input:
    description: The C(images) list of M(community.docker.docker_host_info).
    type: list
    elements: dict
    required: true
  built:
    description: Output of the C(compose_built_images) filter.
    type: dict
    required: true
  tag:
    description: Tag to look up, usually a full commit SHA; empty for the compose reference.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Images kept for a commit
  ansible.builtin.debug:
    msg: "{{ host_info.images | maverick.rollback.release_image_ids(built, target_sha) }}"
"""

RETURN = r"""
_value:
  description: Service name to image id, only for services whose image exists.
  type: dict
"""


def release_image_ids(images, built, tag=""):
    ids_by_ref = {}
    for image in images or []:
        for ref in image.get("RepoTags") or []:
            ids_by_ref[ref] = image.get("Id")
    found = {}
    for service, names in (built or {}).items():
        ref = "%s:%s" % (names["repository"], tag) if tag else names["ref"]
        if ref in ids_by_ref:
            found[service] = ids_by_ref[ref]
    return found


class FilterModule:
    """maverick.rollback image filters."""

    def filters(self):
        return {"release_image_ids": release_image_ids}
