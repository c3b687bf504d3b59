"""preflight: one read-only call, a table of server states -> tools found and missing pieces.

Each case: which programs are on PATH, what the probes answer (captured shapes of the real
outputs), the options -> the facts reported and one line per missing piece with its fix.
"""

import json
import os
import threading

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.maverick.rollback.plugins.module_utils import _preflight
from ansible_collections.maverick.rollback.plugins.modules import preflight

PATHS = {"git": "/usr/bin/git", "docker": "/usr/bin/docker", "pg_dump": "/usr/bin/pg_dump",
         "pg_restore": "/usr/bin/pg_restore", "psql": "/usr/bin/psql", "pg_isready": "/usr/bin/pg_isready",
         "bunx": "/usr/local/bin/bunx", "timeout": "/usr/bin/timeout"}
SHA = "b65522e1bab699cd5a9a58211cf8067bb51b2527"
ANSWERS = {  # captured from Debian bookworm (git 2.39.5, docker 28.2.2, compose 2.40.3, PostgreSQL 15.18)
    "git --version": (0, "git version 2.39.5\n", ""),
    "docker --version": (0, "Docker version 28.2.2, build 28.2.2-0ubuntu1~24.04.1\n", ""),
    "docker compose version --short": (0, "2.40.3\n", ""),
    "docker version --format {{.Server.Version}}": (0, "20.10.24+dfsg1\n", ""),
    "rev-parse --is-inside-work-tree HEAD": (0, "true\n%s\n" % SHA, ""),
    "config --quiet": (0, "", ""),
    "pg_dump --version": (0, "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", ""),
    "pg_restore --version": (0, "pg_restore (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", ""),
    "psql --version": (0, "psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", ""),
    "pg_isready --version": (0, "pg_isready (PostgreSQL) 16.4 (Debian 16.4-1.pgdg120+1)\n", ""),
}
DAEMON_DOWN = (1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n")
DAEMON_DENIED = (1, "", "permission denied while trying to connect to the Docker daemon socket at "
                        "unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.24/version\": dial unix "
                        "/var/run/docker.sock: connect: permission denied\n")
NO_COMPOSE = (1, "", "docker: 'compose' is not a docker command.\nSee 'docker --help'\n")
DUBIOUS = (128, "", "fatal: detected dubious ownership in repository at '/opt/app'\n")


class FakeProbe(_preflight.Probe):
    """The module's Probe (prefetch, the answers it keeps) over canned answers."""

    def __init__(self, absent=(), answers=None):  # pylint: disable=super-init-not-called
        self.paths = {k: v for k, v in PATHS.items() if k not in absent}
        self.answers = dict(ANSWERS, **(answers or {}))
        self.calls = []
        self._answers = {}

    def which(self, name):
        return self.paths.get(name)

    def execute(self, argv):
        self.calls.append(argv)
        words = [os.path.basename(argv[0])] + list(argv[1:])
        joined = " ".join(words)
        for key, answer in self.answers.items():
            if joined.endswith(key):
                return answer
        raise AssertionError("unexpected probe %r" % argv)


@pytest.fixture
def app(tmp_path):
    path = tmp_path / "app"
    (path / "packages" / "core" / "node_modules" / ".bin").mkdir(parents=True)
    (path / "packages" / "core" / "node_modules" / ".bin" / "prisma").write_text("")
    (path / "compose.yaml").write_text("services: {}\n")
    (path / ".env").write_text("POSTGRES_DB=x\n")
    return path


def params(app, **kw):
    out = {"project_dir": str(app), "compose_project": None, "env_file": None, "prisma_dir": None,
           "prisma_command": ["bunx", "--bun", "prisma"], "require": [], "min_python": "3.9", "timeout": 30}
    out.update(kw)
    return out


CASES = [
    # (id, absent programs, probe answers, options, python, expected tools subset, expected missing lines)
    ("all-there", (), {}, {}, "3.11.2",
     {"git": "2.39.5", "docker": "28.2.2", "compose": "2.40.3", "docker_server": "20.10.24", "python": "3.11.2",
      "pg_dump": 15, "pg_isready": 16, "prisma": None}, []),
    ("no-git", ("git",), {}, {}, "3.11.2", {"git": None}, ["git: not found - apt-get install git"]),
    ("no-docker", ("docker",), {}, {}, "3.11.2", {"docker": None, "compose": None, "docker_server": None},
     ["docker: not found - apt-get install docker.io (or docker-ce-cli from Docker's apt repository)"]),
    ("docker-hangs", (), {"docker --version": (124, "", "timed out after 30 s. ")}, {}, "3.11.2",
     {"docker": None, "compose": None},
     ["docker: /usr/bin/docker --version did not answer in time - check the docker daemon (systemctl status docker; "
      "journalctl -u docker)"]),
    ("docker-broken", (), {"docker --version": (127, "", "docker: error while loading shared libraries\n")}, {},
     "3.11.2", {"docker": None},
     ["docker: /usr/bin/docker --version failed (exit code 127): docker: error while loading shared libraries - "
      "apt-get install docker.io (or docker-ce-cli from Docker's apt repository)"]),
    ("no-compose-v2", (), {"docker compose version --short": NO_COMPOSE}, {}, "3.11.2", {"compose": None},
     ["docker compose: not found (the v2 plugin) - apt-get install docker-compose-plugin (Docker's apt repository; "
      "the v1 docker-compose is not enough)"]),
    ("daemon-down", (), {"docker version --format {{.Server.Version}}": DAEMON_DOWN}, {}, "3.11.2",
     {"docker_server": None, "docker": "28.2.2"},
     ["docker daemon: the docker daemon does not answer - systemctl start docker (and systemctl enable docker)"]),
    ("daemon-denied", (), {"docker version --format {{.Server.Version}}": DAEMON_DENIED}, {}, "3.11.2", {},
     ["docker daemon: this user may not use docker - run as root (become: true) or add the user to the docker group "
      "(usermod -aG docker <user>)"]),
    ("daemon-hangs", (), {"docker version --format {{.Server.Version}}": (124, "", "timed out after 30 s. ")}, {},
     "3.11.2", {}, ["docker daemon: did not answer in time - check the docker daemon (systemctl status docker; "
                    "journalctl -u docker)"]),
    ("old-python", (), {}, {}, "3.7.3", {"python": "3.7.3"},
     ["python3: 3.7.3 is older than 3.9 - apt-get install python3 (Debian 11 or newer ships 3.9+), or set "
      "ansible_python_interpreter"]),
    ("pg-tools-reported-not-required", ("pg_dump", "pg_restore", "psql", "pg_isready"), {}, {}, "3.11.2",
     {"pg_dump": None, "psql": None}, []),
    ("pg-tool-required", ("pg_dump",), {}, {"require": ["pg_dump", "psql"]}, "3.11.2", {"pg_dump": None, "psql": 15},
     ["pg_dump: not found - apt-get install postgresql-client (the server's major version or newer)"]),
    ("dubious-ownership", (), {"rev-parse --is-inside-work-tree HEAD": DUBIOUS}, {}, "3.11.2", {},
     ["app checkout: git refuses APP (dubious ownership: another user owns it) - git config --global --add "
      "safe.directory APP (or run as the owner)"]),
    ("not-a-work-tree", (), {"rev-parse --is-inside-work-tree HEAD": (128, "", "fatal: not a git repository\n")}, {},
     "3.11.2", {}, ["app checkout: APP is not a git work tree - clone the app there (git clone <repository> APP) or "
                    "set project_dir"]),
    ("compose-file-broken", (), {"config --quiet": (15, "", "yaml: line 2: did not find expected key\n")}, {},
     "3.11.2", {}, ["compose file: APP/compose.yaml does not load (exit code 15): yaml: line 2: did not find expected "
                    "key - run docker compose config in APP to see the error"]),
    ("prisma-local-cli", (), {}, {"prisma_dir": "packages/core"}, "3.11.2",
     {"prisma": "APP/packages/core/node_modules/.bin/prisma"}, []),
    ("prisma-no-bunx", ("bunx",), {}, {"prisma_dir": "packages/core"}, "3.11.2", {},
     ["prisma command: bunx not found - npm install -g bun (bunx comes with bun)"]),
    ("prisma-would-download", (), {}, {"prisma_dir": "packages/web"}, "3.11.2", {"prisma": None},
     ["prisma CLI: no node_modules/.bin/prisma in APP/packages/web or APP (bunx would download it) - install the "
      "app's dependencies in APP (bun install, or npm ci)"]),
]


@pytest.mark.parametrize("absent,answers,options,python,tools,lines", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_collect(app, absent, answers, options, python, tools, lines):
    if options.get("prisma_dir") == "packages/web":
        (app / "packages" / "web").mkdir()
    probe = FakeProbe(absent, answers)
    found, facts, _prisma, missing = _preflight.collect(probe, params(app, **options), python)
    expected_tools = {k: (v.replace("APP", str(app)) if isinstance(v, str) else v) for k, v in tools.items()}
    assert {k: found[k] for k in expected_tools} == expected_tools
    assert ["%s: %s - %s" % (m["what"], m["problem"], m["fix"]) for m in missing] == [
        line.replace("APP", str(app)) for line in lines]
    assert facts["compose_file"] == str(app / "compose.yaml") and facts["env_file"] == str(app / ".env")


def test_every_probe_only_reads(app):
    probe = FakeProbe()
    _preflight.collect(probe, params(app, prisma_dir="packages/core"), "3.11.2")
    verbs = [" ".join(call[1:]) for call in probe.calls]
    assert "compose version --short" in verbs and "version --format {{.Server.Version}}" in verbs
    git = [c for c in probe.calls if c[0].endswith("git") and "-C" in c]
    assert git == [["/usr/bin/git", "-C", str(app), "rev-parse", "--is-inside-work-tree", "HEAD"]]
    compose = [c for c in probe.calls if c[1:3] == ["compose", "--project-directory"]]
    assert compose == [["/usr/bin/docker", "compose", "--project-directory", str(app), "config", "--quiet"]]
    for call in probe.calls:
        assert not any(word in call for word in ("install", "pull", "up", "checkout", "build", "fetch"))


def test_app_facts(app):
    _tools, facts, prisma, _missing = _preflight.collect(FakeProbe(), params(app, prisma_dir="packages/core"), "3.11.2")
    assert facts == {"project_dir": str(app), "exists": True, "work_tree": True, "commit": SHA,
                     "compose_file": str(app / "compose.yaml"), "env_file": str(app / ".env"), "env_readable": True}
    assert prisma == {"dir": str(app / "packages" / "core"), "command": ["bunx", "--bun", "prisma"],
                      "command_path": "/usr/local/bin/bunx",
                      "local_cli": str(app / "packages" / "core" / "node_modules" / ".bin" / "prisma")}


def test_missing_checkout_and_unreadable_env_file(tmp_path):
    probe = FakeProbe()
    _tools, facts, _prisma, missing = _preflight.collect(
        probe, params(tmp_path / "nope", env_file=str(tmp_path)), "3.11.2")  # a directory cannot be read as a file
    assert facts["exists"] is False and facts["env_readable"] is False
    assert [m["what"] for m in missing] == ["app checkout", "env file"]
    assert missing[1]["problem"] == "%s is not readable by this user" % tmp_path


def run_main(app, capsys, monkeypatch, probe, **args):
    monkeypatch.setattr(preflight, "Probe", lambda module, timeout: probe)
    with patch_module_args(dict({"project_dir": str(app), "_ansible_check_mode": True}, **args)):
        with pytest.raises(SystemExit) as exc:
            preflight.main()
    result = json.loads(capsys.readouterr().out)
    result["_rc"] = exc.value.code
    return result


def test_module_fails_with_one_line_per_missing_piece(app, capsys, monkeypatch):
    probe = FakeProbe(absent=("git", "pg_dump"), answers={"docker version --format {{.Server.Version}}": DAEMON_DOWN})
    result = run_main(app, capsys, monkeypatch, probe, require=["pg_dump"])
    assert result["_rc"] == 1 and result["ok"] is False and result["changed"] is False
    assert result["msg"].split("\n") == [
        "git: not found - apt-get install git",
        "docker daemon: the docker daemon does not answer - systemctl start docker (and systemctl enable docker)",
        "pg_dump: not found - apt-get install postgresql-client (the server's major version or newer)"]
    assert [m["what"] for m in result["missing"]] == ["git", "docker daemon", "pg_dump"]


def test_a_docker_that_cannot_start_is_one_missing_piece(app, capsys, monkeypatch, tmp_path):
    """The real probes, in threads: a docker on PATH that the kernel cannot run (an empty file) and no
    `timeout` wrapper (timeout 0) is a missing piece of the one result, not a failure printed by the
    thread that ran it."""
    (tmp_path / "bin").mkdir()
    docker = tmp_path / "bin" / "docker"
    docker.write_text("")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with patch_module_args({"project_dir": str(app), "timeout": 0, "_ansible_check_mode": True}):
        with pytest.raises(SystemExit) as exc:
            preflight.main()
    result = json.loads(capsys.readouterr().out)
    assert exc.value.code == 1
    assert [m["what"] for m in result["missing"]] == ["git", "docker"]
    assert result["missing"][1]["problem"].startswith("%s --version failed (exit code 127)" % docker)


def test_module_passes_in_check_mode(app, capsys, monkeypatch):
    result = run_main(app, capsys, monkeypatch, FakeProbe(), prisma_dir="packages/core")
    assert result["_rc"] == 0 and result["ok"] is True and result["missing"] == [] and result["changed"] is False
    assert result["tools"]["prisma"].endswith("node_modules/.bin/prisma") and result["prisma"]["command_path"]


def test_module_returns_the_database_settings_from_the_apps_own_env_keys(app, capsys, monkeypatch):
    (app / ".env").write_text("APP_DB_NAME=ledgerdb\nAPP_DB_USER=ledger_svc\nAPP_DB_PASS=s3cret-pw\nAPP_DB_PORT=26432\n")
    keys = {"database": "APP_DB_NAME", "user": "APP_DB_USER", "password": "APP_DB_PASS", "port": "APP_DB_PORT"}
    result = run_main(app, capsys, monkeypatch, FakeProbe(), env_keys=keys)
    assert result["_rc"] == 0
    assert {k: result["database"][k] for k in ("host", "port", "name", "user")} == {
        "host": "127.0.0.1", "port": 26432, "name": "ledgerdb", "user": "ledger_svc"}
    assert "s3cret-pw" not in json.dumps(result)


def test_module_explicit_database_settings_win_and_no_env_gives_the_default_port(app, capsys, monkeypatch):
    (app / ".env").unlink()
    result = run_main(app, capsys, monkeypatch, FakeProbe(), login_user="ops", database="appdb")
    assert {k: result["database"][k] for k in ("port", "name", "user")} == {"port": 5433, "name": "appdb", "user": "ops"}
    assert result["database"]["sources"]["port"] == "default"


def test_the_module_needs_only_the_standard_library():
    """Imports: stdlib, ansible.module_utils and this collection's module_utils - nothing to pip install."""
    import ast
    tree = ast.parse(open(preflight.__file__).read())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module if node.module.startswith("ansible") else node.module.split(".")[0])
    third_party = {r for r in roots if r not in ("__future__", "concurrent", "os", "re", "sys")
                   and not r.startswith(("ansible.module_utils", "ansible_collections.maverick.rollback.plugins.module_utils"))}
    assert third_party == set()


class BarrierProbe(FakeProbe):
    """Each probe waits until every prefetched probe has started: probes run one after
    another break the barrier (its timeout only ends a failing test)."""

    def __init__(self, parties):
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=10)

    def execute(self, argv):
        self.barrier.wait()
        return super().execute(argv)


def test_prefetch_runs_every_probe_at_once_and_collect_reads_its_answers(app):
    _git, _docker, argvs = _preflight.probes(FakeProbe(), params(app))
    assert set(argvs) == {"git", "work_tree", "docker", "compose", "docker_server", "compose_config"} | set(_preflight.PG_TOOLS)
    probe = BarrierProbe(len(argvs))
    tools, facts, _prisma, missing = _preflight.collect(probe, params(app), "3.11.2")
    assert missing == [] and tools["compose"] == "2.40.3" and facts["work_tree"] is True
    assert sorted(map(tuple, probe.calls)) == sorted(map(tuple, argvs.values()))  # each once, none again


def test_the_user_the_modules_run_as_is_a_fact_like_setups(app, capsys, monkeypatch):
    """ansible_facts.effective_user_id, the key `setup` (gather_subset user) sets: the roles'
    backup-directory checks then skip their own `setup` call."""
    result = run_main(app, capsys, monkeypatch, FakeProbe())
    assert result["_rc"] == 0, result
    assert result["ansible_facts"] == {"effective_user_id": os.geteuid()}
