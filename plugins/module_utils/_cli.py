# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that builds git and docker (compose) command lines.

The pattern of community.docker's `_common_cli.py`: modules and the other
module_utils never spell `git -C ...` or `docker compose --project-directory ...`
themselves; they call these builders and run the result as an argument list
(never a shell string). Read-only git calls run with GIT_OPTIONAL_LOCKS=0, so
`git status` never rewrites .git/index behind a concurrent checkout.
"""

from __future__ import annotations

# Every CLI runs with the C locale: its output is parsed.
BASE_ENV = {"LC_ALL": "C"}
# git skips the optional index refresh (and its lock) on read-only commands.
GIT_READONLY_ENV = {"GIT_OPTIONAL_LOCKS": "0"}


def git_argv(project_dir, *args, git="git"):
    """`git -C <project_dir> <args>`."""
    return [git, "-C", project_dir] + [str(a) for a in args]


def compose_argv(project_dir, project, *args, docker="docker"):
    """`docker compose --project-directory <project_dir> [--project-name <project>] <args>`.

    An empty project lets Compose derive the name (COMPOSE_PROJECT_NAME in the .env, else
    the directory name), as `docker compose` run in the checkout does.
    """
    argv = [docker, "compose", "--project-directory", project_dir]
    if project:
        argv += ["--project-name", project]
    return argv + [str(a) for a in args]


def compose_exec_argv(project_dir, project, service, command, env_values=None, env_names=(), docker="docker"):
    """`docker compose ... exec -T [-e K=V]... [-e NAME]... <service> <command>`.

    env_names are passed by name only (`-e PGPASSWORD`): docker takes the value from its
    own environment, so a secret never appears in an argument list.
    """
    argv = compose_argv(project_dir, project, "exec", "-T", docker=docker)
    for key, value in sorted((env_values or {}).items()):
        argv += ["-e", "%s=%s" % (key, value)]
    for name in env_names:
        argv += ["-e", name]
    return argv + [service] + list(command)


def docker_argv(*args, docker="docker"):
    """`docker <args>` (ps, inspect, images, version, info)."""
    return [docker] + [str(a) for a in args]


def cli_environ(readonly=True):
    """The environment additions every CLI call gets (read-only: no optional git locks)."""
    env = dict(BASE_ENV)
    if readonly:
        env.update(GIT_READONLY_ENV)
    return env


class Cli:
    """Runs the argument lists above through AnsibleModule.run_command.

    `run(argv)` returns (rc, stdout, stderr) and never raises on a non-zero exit; the
    caller decides what a failure means. A program that is not there is exit code 127, as a
    shell says, not AnsibleModule's fail_json: a module's reads in threads (release_facts) would
    each print a result, and Ansible could not parse any of them.
    """

    def __init__(self, module, readonly=True):
        self.module = module
        self.readonly = readonly

    def run(self, argv, data=None, cwd=None):
        try:
            return self.module.run_command(argv, environ_update=cli_environ(self.readonly), data=data,
                                           cwd=cwd, check_rc=False, handle_exceptions=False)
        except OSError as exc:
            return 127, "", "%s: %s" % (argv[0], exc.strerror or exc)

    def __call__(self, argv):
        return self.run(argv)

    def git(self, project_dir, *args):
        return self.run(git_argv(project_dir, *args))

    def compose(self, project_dir, project, *args):
        return self.run(compose_argv(project_dir, project, *args))
