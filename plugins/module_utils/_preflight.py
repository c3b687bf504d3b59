# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a server needs for the collection, checked read-only (modules preflight, release_facts, pg_backup,
pg_restore).

One copy of the checks: the preflight module reports them on their own; release_facts runs them in
the quick rollback's one planning call, pg_backup in db_backup.yml's dump call and pg_restore in
db_restore's first read (a remote call less on the 3 a.m. path).
"""

from __future__ import annotations

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.maverick.rollback.plugins.module_utils._cli import Cli, compose_argv, docker_argv, git_argv
from ansible_collections.maverick.rollback.plugins.module_utils._connection import database_settings, EnvFileError, read_env

from ansible_collections.maverick.rollback.plugins.module_utils._pg import failure_cause, major_version, parse_tool_version
from ansible_collections.maverick.rollback.plugins.module_utils._prisma import is_package_runner, local_prisma_cli

PG_TOOLS = ("pg_dump", "pg_restore", "psql", "pg_isready")
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
# The options of the check, shared by the modules that run it.
SERVER_ARGUMENT_SPEC = dict(
    prisma_dir=dict(type="str"),
    prisma_command=dict(type="list", elements="str", default=["bunx", "--bun", "prisma"]),
    require=dict(type="list", elements="str", default=[], choices=list(PG_TOOLS)),
    min_python=dict(type="str", default="3.9"),
    timeout=dict(type="int", default=30),
)

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
        self.cli = Cli(module, readonly=True)  # a program that cannot start is exit code 127, not fail_json
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
        rc, out, err = self.cli.run(argv)
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


def collect(probe, params, python_version, pg_tools=PG_TOOLS, compose_config=True):
    """Every check, read-only. Returns (tools, app, prisma or None, missing). pg_tools: the PostgreSQL
    client tools whose versions are read (the others are None); compose_config: load the compose file
    (False when the caller's own read runs `docker compose config` and reports its failure)."""
    tools = dict.fromkeys(("git", "docker", "compose", "docker_server", "python") + PG_TOOLS + ("prisma",))
    missing = []

    def lack(what, problem, fix):
        missing.append({"what": what, "problem": problem, "fix": fix})

    tools["python"] = python_version
    if older(python_version, params["min_python"]):
        lack("python3", "%s is older than %s" % (python_version, params["min_python"]), FIX["python"])

    git, docker, argvs = probes(probe, params, pg_tools, compose_config)
    probe.prefetch(argvs.values())
    if git:
        rc, out, _err = probe.run(argvs["git"])
        tools["git"] = version_of(out) if rc == 0 else None
    if not tools["git"]:
        lack("git", "not found", FIX["git"])

    rc, out, err = probe.run(argvs["docker"]) if docker else (None, "", "")
    tools["docker"] = version_of(out) if rc == 0 else None
    if not docker:
        lack("docker", "not found", FIX["docker"])
    elif not tools["docker"]:  # there, but it did not answer (a timeout under load, a broken install): why
        problem, fix = docker_problem(rc, err)
        lack("docker", "%s --version %s" % (docker, problem), fix if "timed out after" in (err or "") else FIX["docker"])
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


def probes(probe, params, pg_tools=PG_TOOLS, compose_config=True):
    """(git, docker, {name: argv}): every version and app probe collect() may run, for prefetch."""
    git, docker = probe.which("git"), probe.which("docker")
    project_dir = params["project_dir"]
    argvs = {tool: [path, "--version"] for tool, path in ((t, probe.which(t)) for t in pg_tools) if path}
    if git:
        argvs["git"] = [git, "--version"]
        if os.path.isdir(project_dir):
            argvs["work_tree"] = git_argv(project_dir, "rev-parse", "--is-inside-work-tree", "HEAD", git=git)
    if docker:
        argvs["docker"] = docker_argv("--version", docker=docker)
        argvs["compose"] = docker_argv("compose", "version", "--short", docker=docker)
        argvs["docker_server"] = docker_argv("version", "--format", "{{.Server.Version}}", docker=docker)
        if compose_config and compose_files(project_dir):
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
        elif docker and "compose_config" in argvs:
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


def server_result(probe, params, pg_tools=PG_TOOLS, compose_config=True):
    """(the check's result - ok, tools, app, missing, database, prisma when asked -, what is missing as
    one line each with its fix, or ''). params: the preflight module's options; pg_tools and
    compose_config as collect()."""
    if not re.match(r"^\d+\.\d+$", params["min_python"]):
        return None, "min_python must be major.minor, got %r" % params["min_python"]
    tools, app, prisma, missing = collect(probe, params, "%d.%d.%d" % sys.version_info[:3], pg_tools, compose_config)
    result = dict(ok=not missing, tools=tools, app=app, missing=missing, database=app_database(params, app))
    if prisma is not None:
        result["prisma"] = prisma
    return result, "\n".join("%s: %s - %s" % (m["what"], m["problem"], m["fix"]) for m in missing)


def check_server(module, compose_config=True, **failure):
    """The checks inside another module's call (O(check_server) of release_facts, pg_backup, pg_restore): its
    options, the env file named only when it is not the checkout's .env, as the app role calls preflight.
    Only the required PostgreSQL tools' versions are read (30 ms of CPU each: Debian's wrappers are
    Perl); compose_config as collect(). Fails the module with what is missing (plus failure's keys);
    returns the check's result."""
    params = dict(module.params)
    if params["env_file"] == os.path.join(params["project_dir"] or "", ".env"):
        params["env_file"] = None
    result, missing = server_result(Probe(module, params["timeout"]), params, tuple(params["require"]), compose_config)
    if result is None:
        module.fail_json(msg=missing, **failure)
    if missing:
        module.fail_json(msg=missing, server=result, **failure)
    return result


def user_facts():
    """The fact `setup` (gather_subset user) gives as effective_user_id: returned with the check, so the
    roles' backup-directory checks need no `setup` call of their own (a remote call less)."""
    return {"effective_user_id": os.geteuid()}
