# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which compose services are built from the checkout, and under which image names."""

from __future__ import annotations

DOCUMENTATION = r"""
name: compose_built_images
short_description: Services built from the checkout and their image names
version_added: 0.1.0
description:
  - Takes the parsed output of C(docker compose config --format json) and returns, for
    every service with a C(build) section, the image reference compose builds (its
    C(image) or C(<project>-<service>)), split into repository and tag.
  - Secrets in the configuration (environment) are not part of the result.
options:
  _input:
    description: Parsed C(docker compose config --format json).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Services to tag per commit
  ansible.builtin.debug:
    msg: "{{ compose_config | maverick.rollback.compose_built_images }}"
"""

RETURN = r"""
_value:
  description: Service name to C({ref, repository, tag}).
  type: dict
"""


def split_image_ref(ref):
    """'reg:5000/app-api:1.2' -> ('reg:5000/app-api', '1.2'); default tag latest."""
    name, _, tag = ref.rpartition(":")
    if name and "/" not in tag:
        return name, tag
    return ref, "latest"


def compose_built_images(config):
    project = config.get("name", "")
    built = {}
    for service, spec in sorted((config.get("services") or {}).items()):
        if "build" not in spec:
            continue
        ref = spec.get("image") or "%s-%s" % (project, service)
        repository, tag = split_image_ref(ref)
        built[service] = {"ref": "%s:%s" % (repository, tag), "repository": repository, "tag": tag}
    return built


class FilterModule:
    """maverick.rollback compose filters."""

    def filters(self):
        return {"compose_built_images": compose_built_images}
