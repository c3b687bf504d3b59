#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: release_switch
short_description: Switch an app's checkout and containers to a release in one call
version_added: 0.1.0
description:
  - The change step of a rollback or deploy, in the order the runbook does it - C(git checkout) of
    O(commit), C(docker tag) of each of O(tags) (the compose image names pointed at images kept for
    the release), then one C(docker compose up --detach).
  - One remote call instead of one task per command - each task costs about 0.35 s over the docker
    connection, on the 3 a.m. path (docs/performance.md).
  - Stops at the first step that fails and reports it (RV(step), RV(stderr_lines)) with the steps
    done before it (RV(steps)); the caller decides the way back (the role switches back to the
    commit that ran).
  - The checkout is local on purpose - C(ansible.builtin.git) fetches from the remote first, and a
    rollback must work while the remote is down; the caller resolved O(commit) with git itself.
  - Every command is an argument list built by the collection's one place for git and compose
    command lines; nothing goes through a shell.
  - Compose recreates only the services whose image or configuration changed; O(services) narrows
    C(up) to C(--no-deps) and those services when the caller knows that is the same (no wait on
    dependencies that are healthy already).
  - With O(lock), the call takes the run's app lock itself before any step (the run protocol's
    request, as M(maverick.rollback.app_lock) V(acquired) takes it, re-entered with the same run
    id) - one remote call fewer on a one-server quick rollback. When another run holds the lock,
    or the checkout is no longer O(expect_head) (another run switched since the plan), nothing
    runs, a lock taken here is given back, and the failure says RV(lock_refused).
  - With O(gate), the call then gates its own C(up) - M(maverick.rollback.health_probe)'s probes
    in this call (RV(gate)), not a remote call of its own. The caller judges the answers (filter
    M(maverick.rollback.health_result)) and decides the way back; an unhealthy gate does not fail
    the call.
  - In check mode nothing runs; RV(steps) lists the commands that would (and a lock held by
    another run is refused).
options:
  project_dir:
    description: The app's checkout, its Compose project directory.
    type: path
    required: true
  compose_project:
    description: Compose project name (empty - the name Compose derives, as in the checkout).
    type: str
    default: ""
  commit:
    description: Full or abbreviated hex SHA to check out (detached). Empty - no checkout.
    type: str
    default: ""
  tags:
    description:
      - Names to point at images, in order, as C(repository:tag) to source image (an id or a reference)
        - C(docker tag <image> <name>) for each.
    type: dict
    default: {}
  up:
    description: Run C(docker compose up --detach) after the checkout and the tags.
    type: bool
    default: true
  build:
    description: V(true) C(--build) (build from the checkout), V(false) C(--no-build) (images must exist).
    type: bool
    default: false
  services:
    description: Start only these, with C(--no-deps). Empty - every service.
    type: list
    elements: str
    default: []
  project:
    description:
      - The Compose project name the containers carry (the C(project) that M(maverick.rollback.release_facts)
        returns), for RV(running).
    type: str
    default: ""
  report:
    description:
      - Services whose running image RV(running) reports after C(up) (with O(project)) - what the release
        ledger records, read in this call instead of another task.
    type: list
    elements: str
    default: []
  gate:
    description:
      - After a successful C(up), probe the app's health URL until the gate passes or its deadline - the
        options of M(maverick.rollback.health_probe) (C(url) required; C(status_codes), C(expected_commit),
        C(commit_field), C(successes), C(interval), C(deadline), C(request_timeout), C(validate_certs)), with
        its types and defaults. Refused before any step when they are not valid.
      - Omitted, or O(up=false), or check mode - no probe.
    type: dict
  expect_head:
    description:
      - With O(lock) - the full SHA the checkout was at when the run planned. Another commit checked
        out now refuses the switch before any step.
    type: str
    default: ""
extends_documentation_fragment:
  - maverick.rollback.lock_request
author:
  - Maverick Applications SRE (@maverickapplications)
notes:
  - Build arguments such as C(GIT_COMMIT) come from the task's C(environment).
"""

EXAMPLES = r"""
- name: Switch to the target on its kept images
  maverick.rollback.release_switch:
    project_dir: /opt/lifetracker
    commit: 425da83ab2e6e51e85116ef52ea6119fe9b4e709
    tags:
      lifetracker-api:latest: sha256:0c5e0b1d9f2a
    services: [api]
  environment:
    GIT_COMMIT: 425da83ab2e6e51e85116ef52ea6119fe9b4e709

- name: Take the app lock and switch (one server, nothing held yet)
  maverick.rollback.release_switch:
    project_dir: /opt/lifetracker
    commit: 425da83ab2e6e51e85116ef52ea6119fe9b4e709
    expect_head: b65522e1bab699cd5a9a58211cf8067bb51b2527
    lock:
      path: /var/lib/maverick-rollback/lifetracker/lock
      run_id: "{{ run_id }}"
      owner: "{{ lookup('ansible.builtin.env', 'USER') }}"

- name: Start the services only (after a deploy's migrations)
  maverick.rollback.release_switch:
    project_dir: /opt/lifetracker
    compose_project: lifetracker
"""

RETURN = r"""
steps:
  description: The commands run (in check mode - that would run), in order, with exit code and seconds.
  returned: always
  type: list
  elements: dict
  contains:
    step:
      description: V(checkout), V(tag) or V(up).
      type: str
    argv:
      description: The argument list.
      type: list
      elements: str
    rc:
      description: Exit code (null in check mode).
      type: int
    seconds:
      description: How long it took.
      type: float
  sample: [{step: checkout, argv: [git, -C, /opt/lifetracker, checkout, --quiet, --detach, 425da83ab2e6], rc: 0, seconds: 0.02}]
running:
  description: Service -> image id of its running container after C(up), for the services in O(report).
  returned: success, when O(up) and O(report)
  type: dict
  sample: {api: "sha256:0c5e0b1d9f2a"}
gate:
  description:
    - With O(gate), the probes after C(up), as M(maverick.rollback.health_probe) returns them - C(first),
      C(more), C(elapsed_s), C(verdict), C(healthy).
  returned: success, with O(gate) and O(up), not in check mode
  type: dict
  sample: {first: [{status: 200, url: "http://127.0.0.1:3000/health", json: {commit: 425da83ab2e6}}], more: [], elapsed_s: 1.02,
           verdict: "", healthy: true}
lock_taken:
  description: This call took the app lock (false - re-entered, refused, or no O(lock)); the caller gives it back.
  returned: always
  type: bool
  sample: true
lock_refused:
  description:
    - The switch was refused before any step - another run holds the lock, or the checkout moved since
      the plan - and this run holds no lock it took here. Nothing was changed.
  returned: failure, with O(lock)
  type: bool
  sample: true
holder:
  description: The lock's holder (another run's, when RV(lock_refused)).
  returned: with O(lock)
  type: dict
step:
  description: The step that failed.
  returned: failure
  type: str
  sample: up
stderr_lines:
  description: The failed command's error output.
  returned: failure
  type: list
  elements: str
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maverick.rollback.plugins.module_utils._cli import Cli, compose_argv, docker_argv, git_argv
from ansible_collections.maverick.rollback.plugins.module_utils._health import gate_options, probe_gate
from ansible_collections.maverick.rollback.plugins.module_utils._lock import (
    LOCK_REQUEST_SPEC, read_holder, release, take_in_call)
from ansible_collections.maverick.rollback.plugins.module_utils._release import ReleaseError, running_now
from ansible_collections.maverick.rollback.plugins.module_utils._rules import is_valid

_FLAGS = ["--detach", "--no-color", "--quiet-pull"]


def plan(params):
    """[(step, argv)] in the runbook's order: checkout, tags, up."""
    steps = []
    if params["commit"]:
        steps.append(("checkout", git_argv(params["project_dir"], "checkout", "--quiet", "--detach", params["commit"])))
    steps += [("tag", docker_argv("tag", image, ref)) for ref, image in params["tags"].items()]
    if params["up"]:
        targeted = (["--no-deps", "--"] + params["services"]) if params["services"] else []
        steps.append(("up", compose_argv(params["project_dir"], params["compose_project"], "up", *_FLAGS,
                                         "--build" if params["build"] else "--no-build", *targeted)))
    return steps


def refusal(params):
    """Why the inputs are refused, or ''."""
    if params["commit"] and not is_valid("sha", params["commit"]):
        return "refusing commit %r: give the hex SHA the caller resolved" % params["commit"]
    bad = {ref: image for ref, image in params["tags"].items()
           if not ref or not image or ref.startswith("-") or str(image).startswith("-")}
    if bad:
        return "refusing tags %r: give repository:tag names and the images they point at" % bad
    odd = [name for name in params["services"] if not name or name.startswith("-")]
    if odd:
        return "refusing services %r: give Compose service names" % odd
    bad_gate = gate_options(params["gate"])[1] if params.get("gate") is not None else ""
    return "refusing gate: %s" % bad_gate if bad_gate else ""


def switch(cli, steps):
    """Runs the steps in order; stops at the first that fails. Returns (done, failure or None)."""
    done = []
    for step, argv in steps:
        started = time.monotonic()
        rc, _out, err = cli.run(argv)
        done.append({"step": step, "argv": argv, "rc": rc, "seconds": round(time.monotonic() - started, 2)})
        if rc != 0:
            return done, {"step": step, "rc": rc, "stderr_lines": err.splitlines()}
    return done, None


def head_commit(cli, project_dir):
    rc, out, _err = cli.run(git_argv(project_dir, "rev-parse", "--verify", "HEAD^{commit}"))
    return out.strip() if rc == 0 else ""


def take_lock(module, cli, lock, expect_head):
    """Takes (or re-enters) the run's app lock before any step. Returns (taken, holder). Fails
    with lock_refused, having run nothing and given back a lock taken here, when another run
    holds it or the checkout moved since the plan."""

    def refuse(msg, holder=None):
        module.fail_json(msg=msg, changed=False, lock_refused=True, lock_taken=False, holder=holder, steps=[])

    taken = take_in_call(module, lock, refuse)
    head = head_commit(cli, module.params["project_dir"])
    if expect_head and head != expect_head:
        if taken:
            release(lock["path"], lock["run_id"])
        refuse("the checkout is at %s, not at %s where this run planned: another run switched it since. "
               "Nothing was changed; run again to plan anew." % (head[:12] or "an unreadable commit", expect_head[:12]))
    return taken, read_holder(lock["path"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project_dir=dict(type="path", required=True),
            compose_project=dict(type="str", default=""),
            commit=dict(type="str", default=""),
            tags=dict(type="dict", default={}),
            up=dict(type="bool", default=True),
            build=dict(type="bool", default=False),
            services=dict(type="list", elements="str", default=[]),
            project=dict(type="str", default=""),
            report=dict(type="list", elements="str", default=[]),
            lock=dict(type="dict", options=LOCK_REQUEST_SPEC),
            gate=dict(type="dict"),
            expect_head=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    lock = module.params["lock"]
    refused = refusal(module.params)
    if refused:
        module.fail_json(msg=refused + ". Nothing was changed.", lock_taken=False, lock_refused=bool(lock))
    steps = plan(module.params)
    cli = Cli(module, readonly=False)
    taken, holder = take_lock(module, cli, lock, module.params["expect_head"]) if lock else (False, None)
    held = dict(lock_taken=taken, holder=holder) if lock else dict(lock_taken=False)
    if module.check_mode or not steps:
        module.exit_json(changed=bool(steps) or taken, steps=[{"step": s, "argv": a, "rc": None, "seconds": 0} for s, a in steps],
                         **held)
    done, failure = switch(cli, steps)
    if failure:
        last = [line.strip() for line in failure["stderr_lines"] if line.strip()]
        module.fail_json(msg="%s failed (exit code %s)%s" % (failure["step"], failure["rc"], (": " + last[-1]) if last else ""),
                         changed=len(done) > 1, steps=done, step=failure["step"], stderr_lines=failure["stderr_lines"], **held)
    result = dict(changed=True, steps=done, **held)
    if module.params["up"] and module.params["report"] and module.params["project"]:
        try:
            result["running"] = running_now(cli.run, module.params["project"], module.params["report"])[1]
        except ReleaseError as exc:  # switched: the caller reads the state again
            module.warn("switched, but what runs now could not be read: %s" % exc)
    if module.params["up"] and module.params["gate"] is not None:
        result["gate"] = probe_gate(module, gate_options(module.params["gate"])[0])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
