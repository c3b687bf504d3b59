"""_cli: the one builder of git and docker compose command lines (a table of cases)."""

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils._cli import (
    Cli, cli_environ, compose_argv, compose_exec_argv, docker_argv, git_argv)

ARGV_CASES = [
    # (id, builder, args, kwargs, expected argv)
    ("git", git_argv, ("/opt/app", "rev-parse", "HEAD"), {}, ["git", "-C", "/opt/app", "rev-parse", "HEAD"]),
    ("git-path", git_argv, ("/opt/app", "status", "--porcelain"), {"git": "/usr/bin/git"},
     ["/usr/bin/git", "-C", "/opt/app", "status", "--porcelain"]),
    ("compose", compose_argv, ("/opt/app", "mr-dev", "config", "--format", "json"), {},
     ["docker", "compose", "--project-directory", "/opt/app", "--project-name", "mr-dev", "config", "--format", "json"]),
    ("compose-derived-name", compose_argv, ("/opt/app", "", "ps"), {},
     ["docker", "compose", "--project-directory", "/opt/app", "ps"]),
    ("compose-none-name", compose_argv, ("/opt/app", None, "version"), {"docker": "/usr/bin/docker"},
     ["/usr/bin/docker", "compose", "--project-directory", "/opt/app", "version"]),
    ("exec", compose_exec_argv, ("/opt/app", "p", "postgres", ["psql", "-X"]),
     {"env_values": {"LC_ALL": "C", "A": "1"}, "env_names": ["PGPASSWORD"]},
     ["docker", "compose", "--project-directory", "/opt/app", "--project-name", "p", "exec", "-T",
      "-e", "A=1", "-e", "LC_ALL=C", "-e", "PGPASSWORD", "postgres", "psql", "-X"]),
    ("exec-plain", compose_exec_argv, ("/opt/app", None, "db", []), {},
     ["docker", "compose", "--project-directory", "/opt/app", "exec", "-T", "db"]),
    ("docker", docker_argv, ("ps", "-q"), {}, ["docker", "ps", "-q"]),
]


@pytest.mark.parametrize("builder,args,kwargs,expected", [c[1:] for c in ARGV_CASES], ids=[c[0] for c in ARGV_CASES])
def test_argv(builder, args, kwargs, expected):
    assert builder(*args, **kwargs) == expected


def test_read_only_calls_take_no_optional_git_locks():
    assert cli_environ() == {"LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
    assert cli_environ(readonly=False) == {"LC_ALL": "C"}


class FakeModule:
    def __init__(self):
        self.calls = []

    def run_command(self, argv, **kw):
        self.calls.append((argv, kw))
        return 0, "out", ""


def test_cli_runs_argument_lists_with_the_one_environment():
    module = FakeModule()
    cli = Cli(module)
    assert cli.git("/opt/app", "status", "--porcelain") == (0, "out", "")
    cli.compose("/opt/app", "p", "config")
    (argv, kw), (argv2, _kw2) = module.calls
    assert argv == ["git", "-C", "/opt/app", "status", "--porcelain"]
    assert kw["environ_update"] == {"LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"} and kw["check_rc"] is False
    assert argv2[:5] == ["docker", "compose", "--project-directory", "/opt/app", "--project-name"]
    Cli(module, readonly=False)(["git", "checkout", "x"])
    assert module.calls[-1][1]["environ_update"] == {"LC_ALL": "C"}
