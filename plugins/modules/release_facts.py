#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: release_facts
short_description: Read-only facts a rollback decides on, in one pass
version_added: 0.1.0
description:
  - Resolves the current commit and a target ref with git (one call, argument list,
    revisions ended with C(--)), lists modified tracked files, lists the target's Prisma
    migrations from git without checking out, reads C(docker compose config) (keeping
    only service and image names, because the configuration holds the app's secrets), and the
    running containers and release images of the compose project.
  - Derives the plan, that is whether every built service has an image kept for the target
    (C(<repository>:<full sha>)), which services would change, whether nothing is to do.
  - Changes nothing; one task instead of many keeps a 3 a.m. rollback fast.
options:
  project_dir:
    description: The git work tree, also the compose project directory.
    type: path
    required: true
  target:
    description:
      - Ref to resolve (hex SHA, tag, branch). Must match C(^[A-Za-z0-9][A-Za-z0-9._/-]*$)
        without C(..); the caller validates intent, the module refuses anything else.
      - Defaults to C(HEAD) (facts about the current release only).
    type: str
    default: HEAD
  compose_project:
    description: Compose project name; empty lets compose derive it.
    type: str
    default: ""
  migrations_dir:
    description: Path of the Prisma migrations directory inside the repository; empty skips it.
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
extends_documentation_fragment:
  - maverick.rollback.attributes
author:
  - Maverick Applications SRE (@maverickapplications)
"""

EXAMPLES = r"""
- name: Plan a rollback to v1
  maverick.rollback.release_facts:
    project_dir: /opt/lifetracker
    target: v1
    migrations_dir: packages/core/prisma/migrations
  register: release
"""

RETURN = r"""
from:
  description: Current commit (C(sha), C(subject)).
  type: dict
  returned: success
target:
  description: Resolved target commit (C(sha), C(subject)).
  type: dict
  returned: success
dirty_files:
  description: C(git status --porcelain) lines of modified tracked files.
  type: list
  elements: str
  returned: success
target_migrations:
  description: Migration directory names at the target; null when not read (same commit or no O(migrations_dir)).
  type: list
  elements: str
  returned: success
from_migrations:
  description: Migration directory names at the current commit; null when not read (as RV(target_migrations)).
  type: list
  elements: str
  returned: success
project:
  description: Compose project name.
  type: str
  returned: success
built:
  description: Service to C({ref, repository, tag}) for services built from the checkout.
  type: dict
  returned: success
running:
  description: Service to image id of its running container.
  type: dict
  returned: success
target_images:
  description: Service to image id kept for the target commit.
  type: dict
  returned: success
from_images:
  description: Service to image id kept for the current commit.
  type: dict
  returned: success
ref_images:
  description: Service to image id the compose reference (e.g. C(app-api:latest)) points at.
  type: dict
  returned: success
kept_commits:
  description: Full SHAs that have images kept.
  type: list
  elements: str
  returned: success
reuse:
  description: Every built service has a kept image for the target (no build needed).
  type: bool
  returned: success
changing:
  description: Built services whose image would change.
  type: list
  elements: str
  returned: success
noop:
  description: Already on the target, running its kept images.
  type: bool
  returned: success
recent:
  description: C(git log --oneline -10 --all) when the target does not resolve.
  type: list
  elements: str
  returned: failure to resolve
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maverick.rollback.plugins.module_utils._release import ReleaseError, gather

REF_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._/-]{0,199}\Z")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project_dir=dict(type="path", required=True),
            target=dict(type="str", default="HEAD"),
            compose_project=dict(type="str", default=""),
            migrations_dir=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not REF_PATTERN.match(params["target"]) or ".." in params["target"]:
        module.fail_json(msg="refusing target %r: not a SHA, tag or branch name" % params["target"])

    def run(argv):
        return module.run_command(argv, environ_update={"LC_ALL": "C"})

    try:
        facts = gather(run, params["project_dir"], params["target"], params["compose_project"], params["migrations_dir"])
    except ReleaseError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    except ValueError as exc:  # unreadable JSON from docker
        module.fail_json(msg="cannot parse docker output: %s" % exc)
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
