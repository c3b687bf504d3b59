#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: preflight
short_description: Check in one call that the app server has what the rollback needs
version_added: 0.1.0
description:
  - Read-only checks of the managed server, in one remote call - git, the docker CLI, Docker
    Compose v2 (C(docker compose version)), the docker daemon answering, the Python running the
    module (3.9 or newer), the app checkout (exists, is a git work tree), a Compose file in it
    that loads (C(docker compose config --quiet)), and the env file readable when one is given.
  - Resolves the app's database settings that are not secret (RV(database)) with the rule the
    database modules apply - an explicit option, else the app's env file under O(env_keys), else
    the default - so a playbook knows them without reading the env file itself. The password is
    never read into the result.
  - Reported, never required unless named in O(require) - the PostgreSQL client tools
    (C(pg_dump), C(pg_restore), C(psql), C(pg_isready)) with their major versions.
  - With O(prisma_dir) - whether the Prisma CLI can run without a download - the program of
    O(prisma_command) is on PATH and, when that program is a package runner (C(bunx), C(npx),
    ...), C(node_modules/.bin/prisma) exists in C(<project_dir>/<prisma_dir>) or in
    O(project_dir). Nothing is installed or downloaded.
  - Fails with one line per missing piece, each saying how to install or fix it (Debian
    package names), for example C(git - not found - apt-get install git).
  - Needs only the Python standard library on the server.
options:
  project_dir:
    description: The app checkout (git work tree and Compose project directory).
    type: path
    required: true
  compose_project:
    description: Compose project name (C(docker compose --project-name)) for the read-only C(docker compose config --quiet) that checks the Compose file loads.
    type: str
  env_file:
    description:
      - The app's env file; when given it must exist and be readable. Without it, RV(app.env_file)
        reports C(<project_dir>/.env) when that exists.
    type: path
  prisma_dir:
    description:
      - The Prisma project relative to O(project_dir) (for example C(packages/core)). When set,
        the Prisma CLI is checked (see the description).
    type: str
  prisma_command:
    description: The Prisma CLI as an argument list, as given to M(maverick.rollback.prisma_migrate).
    type: list
    elements: str
    default: [bunx, --bun, prisma]
  login_host:
    description: The database host, when the app sets it explicitly.
    type: str
    default: 127.0.0.1
  login_port:
    description: The database port, when set explicitly; else the env file's port key, else 5433.
    type: int
  login_user:
    description: The database user, when set explicitly; else the env file's user key.
    type: str
  database:
    description: The database name, when set explicitly; else the env file's database key.
    type: str
  env_keys:
    description:
      - The app's env file keys for the settings (as for M(maverick.rollback.pg_backup)); defaults
        are the official postgres image's C(POSTGRES_DB), C(POSTGRES_USER), C(POSTGRES_PASSWORD),
        C(POSTGRES_PORT).
    type: dict
    suboptions:
      database:
        description: Key of the database name.
        type: str
        default: POSTGRES_DB
      user:
        description: Key of the user.
        type: str
        default: POSTGRES_USER
      password:
        description: Key of the password (named only; its value is never returned).
        type: str
        default: POSTGRES_PASSWORD
      port:
        description: Key of the port.
        type: str
        default: POSTGRES_PORT
  require:
    description: PostgreSQL client tools that must be on the host (they are only reported otherwise).
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
extends_documentation_fragment:
  - maverick.rollback.attributes
attributes:
  check_mode:
    support: full
    description: Every check only reads; the module runs the same in check mode.
notes:
  - Git runs with C(GIT_OPTIONAL_LOCKS=0), so checking the work tree never writes to C(.git).
  - The Compose file is looked up as Compose does without C(-f) - C(compose.yaml), C(compose.yml),
    C(docker-compose.yaml), C(docker-compose.yml).
seealso:
  - module: maverick.rollback.pg_backup
  - module: maverick.rollback.prisma_migrate
author:
  - Maverick Applications SRE (@maverickapplications)
"""

EXAMPLES = r"""
- name: Check the app server before anything changes
  maverick.rollback.preflight:
    project_dir: /opt/lifetracker
    prisma_dir: packages/core
  register: preflight

- name: The database of an app whose env file uses its own keys
  maverick.rollback.preflight:
    project_dir: /srv/ledgerly
    env_keys: {database: APP_DB_NAME, user: APP_DB_USER, password: APP_DB_PASS, port: APP_DB_PORT}
  register: preflight  # preflight.database.port, .name, .user

- name: A backup from the host needs the host's pg_dump
  maverick.rollback.preflight:
    project_dir: /opt/lifetracker
    require: [pg_dump, pg_restore]

- name: Only report (never fail), then decide
  maverick.rollback.preflight:
    project_dir: /opt/lifetracker
  register: preflight
  failed_when: false

- name: Show what is missing
  ansible.builtin.debug:
    msg: "{{ preflight.missing | map(attribute='fix') | list }}"
  when: preflight.missing | length > 0
"""

RETURN = r"""
ok:
  description: Nothing required is missing.
  type: bool
  returned: always
tools:
  description:
    - Versions found - C(git), C(docker) (the CLI), C(compose) (v2), C(docker_server) (the daemon),
      C(python) as strings; C(pg_dump), C(pg_restore), C(psql), C(pg_isready) as major versions
      (int); C(prisma) the path of the local Prisma CLI. Null when not found.
  type: dict
  returned: always
  sample: {git: "2.39.5", docker: "28.2.2", compose: "2.40.3", docker_server: "20.10.24", python: "3.11.2",
           pg_dump: 15, pg_restore: 15, psql: 15, pg_isready: null, prisma: null}
app:
  description: The checkout.
  type: dict
  returned: always
  contains:
    project_dir:
      description: O(project_dir).
      type: str
    exists:
      description: O(project_dir) is a directory.
      type: bool
    work_tree:
      description: It is a git work tree.
      type: bool
    commit:
      description: Its C(HEAD), null when not a work tree.
      type: str
    compose_file:
      description: The Compose file found, null when none.
      type: str
    env_file:
      description: O(env_file), else C(<project_dir>/.env) when it exists, else null.
      type: str
    env_readable:
      description: Whether RV(app.env_file) can be read; null when there is none.
      type: bool
database:
  description:
    - The app's database settings without the password - C(host), C(port) (int), C(name) and
      C(user) (empty when unknown), C(sources) (per setting C(option), C(env_file:<KEY>),
      C(default) or null).
  type: dict
  returned: always
  sample: {host: 127.0.0.1, port: 5433, name: lifetracker, user: lifetracker,
           sources: {port: "env_file:POSTGRES_PORT", database: "env_file:POSTGRES_DB", user: "env_file:POSTGRES_USER"}}
prisma:
  description:
    - With O(prisma_dir) - C(dir), C(command), C(command_path) (where its program is, or null),
      C(local_cli) (C(node_modules/.bin/prisma) found, or null).
  type: dict
  returned: when O(prisma_dir) is set
missing:
  description: Each missing piece - C(what), C(problem), C(fix) (how to install or fix it); empty when all is there.
  type: list
  elements: dict
  returned: always
  sample: [{what: git, problem: not found, fix: apt-get install git}]
"""

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.maverick.rollback.plugins.module_utils._cli import cli_environ, compose_argv, docker_argv, git_argv
from ansible_collections.maverick.rollback.plugins.module_utils._connection import (
    CONNECTION_ARGUMENT_SPEC, database_settings, EnvFileError, read_env)
from ansible_collections.maverick.rollback.plugins.module_utils._pg import failure_cause, major_version, parse_tool_version
from ansible_collections.maverick.rollback.plugins.module_utils._prisma import is_package_runner, local_prisma_cli

PG_TOOLS = ("pg_dump", "pg_restore", "psql", "pg_isready")
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")

# How to get each piece on Debian (what the runbook's server runs).
FIX = {
    "git": "apt-get install git",
    "docker": "apt-get install docker.io (or docker-ce-cli from Docker's apt repository)",
    "compose": "apt-get install docker-compose-plugin (Docker's apt repository; the v1 docker-compose is not enough)",
    "docker_daemon": "systemctl start docker (and systemctl enable docker)",
    "docker_permission": "run as root (become: true) or add the user to the docker group (usermod -aG docker <user>)",
    "python": "apt-get install python3 (Debian 11 or newer ships 3.9+), or set ansible_python_interpreter",
    "pg": "apt-get install postgresql-client (the server's major version or newer)",
    "timeout": "check the docker daemon (systemctl status docker; journalctl -u docker)",
}

_VERSION = re.compile(r"(\d+(?:\.\d+)+)")


def version_of(text):
    """'git version 2.39.5' -> '2.39.5'; 'Docker version 28.2.2, build ...' -> '28.2.2'; v-prefix ok."""
    match = _VERSION.search(text or "")
    return match.group(1) if match else None


def major_of(text):
    """Major version of a PostgreSQL tool's --version output ('psql (PostgreSQL) 15.18 ...' -> 15)."""
    return major_version(parse_tool_version(text or ""))


def older(version, minimum):
    def parts(text):
        return tuple(int(p) for p in re.findall(r"\d+", text)[:2])
    return parts(version) < parts(minimum)


class Probe:
    """Runs the read-only probes: which(name) and run(argv) -> (rc, out, err).

    prefetch(argvs) runs probes at once, in threads: they wait on git, docker and
    PostgreSQL's Perl wrappers, not on each other (10 probes, 0.3 s in a row);
    run() then answers from what prefetch read.
    """

    def __init__(self, module, timeout):
        self.module = module
        self.timeout_bin = module.get_bin_path("timeout") if timeout > 0 else None
        self.timeout = timeout
        self._answers = {}

    def which(self, name):
        if os.path.isabs(name):
            return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
        return self.module.get_bin_path(name)

    def prefetch(self, argvs):
        argvs = [list(argv) for argv in argvs if tuple(argv) not in self._answers]
        if not argvs:
            return
        with ThreadPoolExecutor(max_workers=len(argvs)) as pool:
            for argv, answer in zip(argvs, pool.map(self.execute, argvs)):
                self._answers[tuple(argv)] = answer

    def run(self, argv):
        answer = self._answers.get(tuple(argv))
        return answer if answer is not None else self.execute(argv)

    def execute(self, argv):
        if self.timeout_bin:
            argv = [self.timeout_bin, "--kill-after=5", str(self.timeout)] + list(argv)
        rc, out, err = self.module.run_command(argv, environ_update=cli_environ(readonly=True), check_rc=False)
        if self.timeout_bin and rc in (124, 137):
            err = "timed out after %d s. %s" % (self.timeout, err)
        return rc, out, err


def docker_problem(rc, err):
    """(problem, fix) for a failed docker call, from its stderr."""
    cause, reason = failure_cause(err)
    if "timed out after" in (err or ""):
        return "did not answer in time", FIX["timeout"]
    if cause in ("docker_daemon", "docker_permission"):
        return reason.split(" (")[0], FIX[cause]
    last = [line.strip() for line in (err or "").splitlines() if line.strip()]
    return "failed (exit code %s)%s" % (rc, (": " + last[-1]) if last else ""), FIX["docker_daemon"]


def collect(probe, params, python_version):
    """Every check, read-only. Returns (tools, app, prisma or None, missing)."""
    tools = dict.fromkeys(("git", "docker", "compose", "docker_server", "python") + PG_TOOLS + ("prisma",))
    missing = []

    def lack(what, problem, fix):
        missing.append({"what": what, "problem": problem, "fix": fix})

    tools["python"] = python_version
    if older(python_version, params["min_python"]):
        lack("python3", "%s is older than %s" % (python_version, params["min_python"]), FIX["python"])

    git, docker, argvs = probes(probe, params)
    probe.prefetch(argvs.values())
    if git:
        rc, out, _err = probe.run(argvs["git"])
        tools["git"] = version_of(out) if rc == 0 else None
    if not tools["git"]:
        lack("git", "not found", FIX["git"])

    if docker:
        rc, out, _err = probe.run(argvs["docker"])
        tools["docker"] = version_of(out) if rc == 0 else None
    if not tools["docker"]:
        lack("docker", "not found", FIX["docker"])
    else:
        rc, out, err = probe.run(argvs["compose"])
        tools["compose"] = version_of(out) if rc == 0 else None
        if not tools["compose"]:
            lack("docker compose", "not found (the v2 plugin)", FIX["compose"])
        elif int(tools["compose"].split(".")[0]) < 2:
            lack("docker compose", "version %s is not v2" % tools["compose"], FIX["compose"])
        rc, out, err = probe.run(argvs["docker_server"])
        tools["docker_server"] = version_of(out) if rc == 0 else None
        if not tools["docker_server"]:
            problem, fix = docker_problem(rc, err)
            lack("docker daemon", problem, fix)

    for tool in PG_TOOLS:
        if tool in argvs:
            rc, out, _err = probe.run(argvs[tool])
            tools[tool] = major_of(out) if rc == 0 else None
        if tools[tool] is None and tool in params["require"]:
            lack(tool, "not found", FIX["pg"])

    app = check_app(probe, params, argvs, git, docker if tools["compose"] else None, lack)
    prisma = check_prisma(probe, params, lack) if params["prisma_dir"] else None
    if prisma:
        tools["prisma"] = prisma["local_cli"]
    return tools, app, prisma, missing


def probes(probe, params):
    """(git, docker, {name: argv}): every version and app probe collect() may run, for prefetch."""
    git, docker = probe.which("git"), probe.which("docker")
    project_dir = params["project_dir"]
    argvs = {tool: [path, "--version"] for tool, path in ((t, probe.which(t)) for t in PG_TOOLS) if path}
    if git:
        argvs["git"] = [git, "--version"]
        if os.path.isdir(project_dir):
            argvs["work_tree"] = git_argv(project_dir, "rev-parse", "--is-inside-work-tree", "HEAD", git=git)
    if docker:
        argvs["docker"] = docker_argv("--version", docker=docker)
        argvs["compose"] = docker_argv("compose", "version", "--short", docker=docker)
        argvs["docker_server"] = docker_argv("version", "--format", "{{.Server.Version}}", docker=docker)
        if compose_files(project_dir):
            argvs["compose_config"] = compose_argv(project_dir, params["compose_project"], "config", "--quiet",
                                                   docker=docker)
    return git, docker, argvs


def compose_files(project_dir):
    return [os.path.join(project_dir, name) for name in COMPOSE_FILES if os.path.isfile(os.path.join(project_dir, name))]


def check_app(probe, params, argvs, git, docker, lack):
    project_dir = params["project_dir"]
    app = {"project_dir": project_dir, "exists": os.path.isdir(project_dir), "work_tree": False, "commit": None,
           "compose_file": None, "env_file": None, "env_readable": None}
    if not app["exists"]:
        lack("app checkout", "%s does not exist or is not a directory" % project_dir,
             "clone the app there (git clone <repository> %s) or set project_dir" % project_dir)
    elif git:
        rc, out, err = probe.run(argvs["work_tree"])
        lines = out.split()
        app["work_tree"] = rc == 0 and bool(lines) and lines[0] == "true"
        app["commit"] = lines[1] if app["work_tree"] and len(lines) > 1 else None
        if not app["work_tree"]:
            if "dubious ownership" in (err or ""):
                lack("app checkout", "git refuses %s (dubious ownership: another user owns it)" % project_dir,
                     "git config --global --add safe.directory %s (or run as the owner)" % project_dir)
            else:
                lack("app checkout", "%s is not a git work tree" % project_dir,
                     "clone the app there (git clone <repository> %s) or set project_dir" % project_dir)
    if app["exists"]:
        found = compose_files(project_dir)
        app["compose_file"] = found[0] if found else None
        if not found:
            lack("compose file", "none of %s in %s" % (", ".join(COMPOSE_FILES), project_dir),
                 "check project_dir (the Compose project directory of the app)")
        elif docker:
            # Compose reads the file and the .env as every later compose call will (read-only).
            rc, _out, err = probe.run(argvs["compose_config"])
            if rc != 0:
                last = [line.strip() for line in (err or "").splitlines() if line.strip()]
                lack("compose file", "%s does not load (exit code %s)%s" % (found[0], rc, (": " + last[-1]) if last else ""),
                     "run docker compose config in %s to see the error" % project_dir)
    env_file = params["env_file"] or os.path.join(project_dir, ".env")
    if params["env_file"] or os.path.isfile(env_file):
        app["env_file"] = env_file
        app["env_readable"] = readable(env_file)
        if params["env_file"] and not app["env_readable"]:
            problem = "does not exist" if not os.path.exists(env_file) else "is not readable by this user"
            lack("env file", "%s %s" % (env_file, problem),
                 "create it or fix its owner and mode (it holds the database password: 0600, owned by the "
                 "user the playbooks become)")
    return app


def app_database(params, app):
    """The database settings (no password), from the env file preflight found readable."""
    env = {}
    if app["env_readable"]:
        try:
            env = read_env(dict(params, env_file=app["env_file"]))[1]
        except EnvFileError:
            env = {}
    return database_settings(params, env)


def readable(path):
    try:
        with open(path, "rb") as handle:
            handle.read(1)
        return True
    except (IOError, OSError):
        return False


def check_prisma(probe, params, lack):
    project_dir = params["project_dir"]
    prisma_dir = os.path.normpath(os.path.join(project_dir, params["prisma_dir"]))
    command = params["prisma_command"] or ["bunx", "--bun", "prisma"]
    local = local_prisma_cli(prisma_dir, project_dir)
    info = {"dir": prisma_dir, "command": command, "command_path": probe.which(command[0]), "local_cli": local}
    if not os.path.isdir(prisma_dir):
        lack("prisma_dir", "%s does not exist" % prisma_dir, "set prisma_dir to the Prisma project in the checkout")
    elif not info["command_path"]:
        fix = ("npm install -g bun (bunx comes with bun)" if os.path.basename(command[0]) in ("bunx", "bun")
               else "install %s or set prisma_command" % command[0])
        lack("prisma command", "%s not found" % command[0], fix)
    elif is_package_runner(command) and not local:
        lack("prisma CLI", "no node_modules/.bin/prisma in %s or %s (%s would download it)"
             % (prisma_dir, project_dir, command[0]),
             "install the app's dependencies in %s (bun install, or npm ci)" % project_dir)
    return info


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project_dir=dict(type="path", required=True),
            compose_project=dict(type="str"),
            env_file=dict(type="path"),
            prisma_dir=dict(type="str"),
            prisma_command=dict(type="list", elements="str", default=["bunx", "--bun", "prisma"]),
            **dict((name, dict(CONNECTION_ARGUMENT_SPEC[name]))
                   for name in ("login_host", "login_port", "login_user", "database", "env_keys")),
            require=dict(type="list", elements="str", default=[], choices=list(PG_TOOLS)),
            min_python=dict(type="str", default="3.9"),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not re.match(r"^\d+\.\d+$", params["min_python"]):
        module.fail_json(msg="min_python must be major.minor, got %r" % params["min_python"])
    python = "%d.%d.%d" % sys.version_info[:3]
    tools, app, prisma, missing = collect(Probe(module, params["timeout"]), params, python)
    result = dict(changed=False, ok=not missing, tools=tools, app=app, missing=missing,
                  database=app_database(params, app))
    if prisma is not None:
        result["prisma"] = prisma
    if missing:
        module.fail_json(msg="\n".join("%s: %s - %s" % (m["what"], m["problem"], m["fix"]) for m in missing),
                         **result)
    module.exit_json(msg="the server has everything the rollback needs", **result)


if __name__ == "__main__":
    main()
