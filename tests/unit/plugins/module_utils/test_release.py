"""_release: the one-pass facts behind a rollback, from captured command outputs."""

import json
import re

import pytest

from ansible_collections.maverick.rollback.plugins.module_utils._pg import PgError
from ansible_collections.maverick.rollback.plugins.module_utils._release import (
    ReleaseError, applied_migrations, built_images, gather, image_ids, kept_commits, migration_names,
    migrations_sql, parse_cat_file_batch, running_images, services_to_change, split_image_ref)

V1, V2 = "425da83ab2e6e51e85116ef52ea6119fe9b4e709", "b65522e1bab699cd5a9a58211cf8067bb51b2527"
CONFIG = {  # trimmed `docker compose config --format json` of the sample app
    "name": "lifetracker",
    "services": {
        "api": {"build": {"context": "/opt/lifetracker"}, "environment": {"DATABASE_URL": "postgresql://u:SECRET@x/db"}},
        "postgres": {"image": "maverick-sandbox/postgres:15"},
        "web": {"build": {"context": "/opt/lifetracker/apps/web"}, "image": "registry:5000/lt/web:2.1"},
    },
}
BUILT = built_images(CONFIG)


def container(service, image, running=True, project="lifetracker", files="/opt/lifetracker/compose.yaml"):
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": service}
    if files:
        labels["com.docker.compose.project.config_files"] = files
    return {"Image": image, "State": {"Running": running}, "Config": {"Labels": labels}}


@pytest.mark.parametrize("ref,expected", [
    ("app-api", ("app-api", "latest")),
    ("app-api:1.2", ("app-api", "1.2")),
    ("registry:5000/lt/web", ("registry:5000/lt/web", "latest")),
    ("registry:5000/lt/web:2.1", ("registry:5000/lt/web", "2.1")),
])
def test_split_image_ref(ref, expected):
    assert split_image_ref(ref) == expected


def test_built_images_only_built_services_and_no_secrets():
    assert BUILT == {
        "api": {"ref": "lifetracker-api:latest", "repository": "lifetracker-api", "tag": "latest"},
        "web": {"ref": "registry:5000/lt/web:2.1", "repository": "registry:5000/lt/web", "tag": "2.1"},
    }
    assert "SECRET" not in repr(BUILT)


def test_running_images_by_service():
    containers = [container("api", "sha256:api1"), container("web", "sha256:web0", running=False),
                  container("postgres", "sha256:pg"), container("api", "sha256:other", project="other")]
    assert running_images(containers, "lifetracker", ["api", "web"]) == {"api": "sha256:api1"}


def test_image_ids_by_commit_and_reference():
    ids = {"lifetracker-api:" + V1: "sha256:v1api", "lifetracker-api:" + V2: "sha256:v2api",
           "lifetracker-api:latest": "sha256:v2api", "registry:5000/lt/web:" + V1: "sha256:web",
           "registry:5000/lt/web:2.1": "sha256:web"}
    assert image_ids(ids, BUILT, V1) == {"api": "sha256:v1api", "web": "sha256:web"}
    assert image_ids(ids, BUILT, V2) == {"api": "sha256:v2api"}
    assert image_ids(ids, BUILT) == {"api": "sha256:v2api", "web": "sha256:web"}
    assert kept_commits(ids) == sorted([V1, V2])


@pytest.mark.parametrize("running,target,expected", [
    ({"api": "x", "web": "w"}, {"api": "y", "web": "w"}, ["api"]),
    ({"api": "y", "web": "w"}, {"api": "y", "web": "w"}, []),
    ({"web": "w"}, {"api": "y", "web": "w"}, ["api"]),
    ({"api": "y", "web": "w"}, {}, ["api", "web"]),
])
def test_services_to_change(running, target, expected):
    assert services_to_change(["api", "web"], running, target) == expected


def test_migration_names_ignore_lock_file():
    assert migration_names("20250101000000_init\n20250201000000_add_tags\nmigration_lock.toml\n") == [
        "20250101000000_init", "20250201000000_add_tags"]


class FakeHost:
    """Answers the commands gather() runs with captured-shape outputs; logs argv."""

    def __init__(self, head=V2, target=V1, resolves=True, images=None, containers=None, dirty="", compose_diff_rc=0,
                 inspect_error=""):
        self.calls = []
        self.inspect_error = inspect_error
        self.head, self.target, self.resolves, self.dirty = head, target, resolves, dirty
        self.compose_diff_rc = compose_diff_rc
        self.images = images if images is not None else {"lifetracker-api:" + V1: "sha256:v1api", "lifetracker-api:latest": "sha256:v2api"}
        self.containers = containers if containers is not None else [container("api", "sha256:v2api")]

    def __call__(self, argv):
        self.calls.append(argv)
        joined = " ".join(argv)
        if "--no-walk=unsorted" in argv:
            if not self.resolves:
                return 128, "", "fatal: ambiguous argument 'zzz^{commit}': unknown revision"
            lines = [self.head + "\tfeat: current"] + ([self.target + "\tfeat: target"] if self.target != self.head else [])
            return 0, "\n".join(lines) + "\n", ""
        if "--oneline" in argv:
            return 0, "b65522e feat: moods\n425da83 feat: first\n", ""
        if "diff" in argv:
            return self.compose_diff_rc, "", ""
        if "status" in argv:
            return 0, self.dirty, ""
        if "ls-tree" in argv:
            if argv[-1].startswith(V2 + ":"):  # the newer commit adds a migration
                return 0, "20250101000000_init\n20250201000000_add_tags\nmigration_lock.toml\n", ""
            return 0, "20250101000000_init\nmigration_lock.toml\n", ""
        if joined.endswith("config --format json"):
            return 0, json.dumps({"name": "lifetracker", "services": {"api": {"build": {}}}}), ""
        if argv[:2] == ["docker", "ps"]:
            return 0, "c1\n" if self.containers or self.inspect_error else "", ""
        if argv[:2] == ["docker", "inspect"]:
            return (1 if self.inspect_error else 0), json.dumps(self.containers), self.inspect_error
        if argv[:2] == ["docker", "images"]:
            return 0, "".join("%s %s\n" % kv for kv in self.images.items()), ""
        raise AssertionError("unexpected command %r" % argv)


def test_gather_plans_a_reuse_rollback():
    host = FakeHost()
    facts = gather(host, "/opt/lifetracker", "v1", migrations_dir="packages/core/prisma/migrations")
    assert facts["from"] == {"sha": V2, "subject": "feat: current"}
    assert facts["target"] == {"sha": V1, "subject": "feat: target"}
    assert facts["target_migrations"] == ["20250101000000_init"]
    # what the current commit knows, read from its tree too (deploys compare the two)
    assert facts["from_migrations"] == ["20250101000000_init", "20250201000000_add_tags"]
    assert (facts["reuse"], facts["changing"], facts["noop"]) == (True, ["api"], False)
    assert facts["running"] == {"api": "sha256:v2api"} and facts["ref_images"] == {"api": "sha256:v2api"}
    # the ref goes to git after HEAD and is peeled; '--' ends the revisions
    assert host.calls[0][-3:] == ["HEAD", "v1^{commit}", "--"]
    # every service runs, same compose file at both commits: a targeted up
    assert facts["up_services"] == ["api"]
    assert ["git", "-C", "/opt/lifetracker", "diff", "--quiet", V2, V1, "--", "compose.yaml"] in host.calls


@pytest.mark.parametrize("host, why", [
    (FakeHost(compose_diff_rc=1), "the compose file differs between the commits"),
    (FakeHost(compose_diff_rc=128), "git cannot tell"),
    (FakeHost(containers=[container("api", "sha256:v2api", files="")]), "unknown compose files"),
    (FakeHost(containers=[container("api", "sha256:v2api", running=False)]), "a service is not running"),
])
def test_gather_full_up_unless_a_targeted_one_is_equivalent(host, why):
    facts = gather(host, "/opt/lifetracker", "v1")
    assert facts["changing"] == ["api"] and facts["up_services"] == [], why


def test_a_container_removed_since_docker_ps_is_no_longer_running():
    """A concurrent run recreating the api between `docker ps` and `docker inspect`:
    docker prints the containers it found and fails for the gone one."""
    host = FakeHost(containers=[], inspect_error="Error: No such object: c1\n")
    facts = gather(host, "/opt/lifetracker", "v1")
    assert facts["running"] == {} and facts["up_services"] == []  # a full `up`
    assert ["docker", "inspect", "c1"] in host.calls


def test_other_docker_inspect_failures_stop_the_plan():
    host = FakeHost(inspect_error="Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n")
    with pytest.raises(ReleaseError, match="docker inspect failed .docker exited 1.: Cannot connect"):
        gather(host, "/opt/lifetracker", "v1")


def test_gather_noop_when_on_target_with_its_images():
    host = FakeHost(head=V1, target=V1, containers=[container("api", "sha256:v1api")])
    facts = gather(host, "/opt/lifetracker", "v1", migrations_dir="packages/core/prisma/migrations")
    assert facts["noop"] is True and facts["target_migrations"] is None and facts["from_migrations"] is None
    assert not any("ls-tree" in call for call in host.calls)


def test_gather_build_when_no_kept_images():
    facts = gather(FakeHost(images={}), "/opt/lifetracker", "v1")
    assert (facts["reuse"], facts["changing"]) == (False, ["api"])


def test_unknown_target_lists_recent_commits():
    with pytest.raises(ReleaseError) as error:
        gather(FakeHost(resolves=False), "/opt/lifetracker", "zzz")
    assert "commit zzz does not resolve" in str(error.value)
    assert error.value.details["recent"] == ["b65522e feat: moods", "425da83 feat: first"]


def test_dirty_files_reported():
    facts = gather(FakeHost(dirty=" M compose.yaml\n"), "/opt/lifetracker", "v1")
    assert facts["dirty_files"] == [" M compose.yaml"]


class FakeRunner:
    """A _pg_runner.Runner stand-in: answers psql with canned (rc, stdout, stderr)."""

    conn = {"via": "compose", "user": "lt", "maintenance_db": "postgres"}

    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def run(self, argv, data=None):
        self.calls.append((argv, data))
        return self.answer

    def fail(self, argv, rc, err):
        return PgError("%s failed (exit code %d): %s" % (argv[0], rc, err.strip()), rc=rc)


APPLIED_CASES = [
    # (id, psql answer, expected names or the error's words)
    ("applied", (0, "20240101000000_init\n20240201000000_tags\n", ""), ["20240101000000_init", "20240201000000_tags"]),
    ("none-yet", (0, "", ""), []),
    ("no-table", (3, "", 'psql:<stdin>:1: ERROR:  relation "_prisma_migrations" does not exist\n'), []),
    ("container-stopped", (1, "", 'service "postgres" is not running\n'), "psql failed (exit code 1): service"),
]


@pytest.mark.parametrize("answer,expected", [c[1:] for c in APPLIED_CASES], ids=[c[0] for c in APPLIED_CASES])
def test_applied_migrations_reads_prisma_table_with_psql(answer, expected):
    runner = FakeRunner(answer)
    if isinstance(expected, str):
        with pytest.raises(PgError, match=re.escape(expected)):
            applied_migrations(runner, runner.conn, "lifetracker")
    else:
        assert applied_migrations(runner, runner.conn, "lifetracker") == expected
    (argv, sql), = runner.calls
    assert argv[0] == "psql" and "--dbname=lifetracker" in argv and "-t" in argv
    # Only finished, not rolled back migrations count.
    assert "finished_at IS NOT NULL AND rolled_back_at IS NULL" in sql


# ---------------------------------------------------------------- the SQL the database is ahead by

RENAME_SQL = 'ALTER TABLE "Tag" RENAME COLUMN "name" TO "label";\n-- étiquettes\n'


def git_repo(tmp_path):
    """A real repository with two migrations (one with non-ASCII text) at HEAD."""
    import subprocess
    repo = tmp_path / "repo"
    base = repo / "packages/core/prisma/migrations"
    for name, sql in (("20250201000000_add_tags", 'CREATE TABLE "Tag" ("id" SERIAL);\n'),
                      ("20250317000000_rename_tag_name", RENAME_SQL)):
        (base / name).mkdir(parents=True)
        (base / name / "migration.sql").write_text(sql, encoding="utf-8")
    env = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "HOME": str(tmp_path),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "m"]):
        subprocess.run(["git", "-C", str(repo)] + argv, check=True, env=env)
    return repo


class Recorder:
    """run(argv, data) through the real git (bytes decoded as run_command does), recording calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, argv, data=None):
        import subprocess
        self.calls.append((argv, data))
        proc = subprocess.run(argv, input=(data or "").encode(), capture_output=True, check=False)
        return (proc.returncode, proc.stdout.decode("utf-8", "surrogateescape"),
                proc.stderr.decode("utf-8", "surrogateescape"))


def test_migrations_sql_reads_every_file_with_one_git_call(tmp_path):
    repo = git_repo(tmp_path)
    run = Recorder()
    names = ["20250317000000_rename_tag_name", "20250201000000_add_tags", "20250401000000_not_in_this_commit",
             "bad\nname"]
    sql = migrations_sql(run, str(repo), "HEAD", "packages/core/prisma/migrations", names)
    assert sql == {"20250201000000_add_tags": 'CREATE TABLE "Tag" ("id" SERIAL);\n',
                   "20250317000000_rename_tag_name": RENAME_SQL,
                   "20250401000000_not_in_this_commit": None, "bad\nname": None}
    assert len(run.calls) == 1 and run.calls[0][0][-2:] == ["cat-file", "--batch"]
    assert "bad" not in run.calls[0][1]  # a name that is not a migration name never reaches git


def test_migrations_sql_no_names_no_git_call():
    def run(argv, data=None):
        raise AssertionError("git ran")
    assert migrations_sql(run, "/nowhere", "HEAD", "m", []) == {}


def test_migrations_sql_git_failure_is_a_release_error(tmp_path):
    with pytest.raises(ReleaseError, match="git cat-file --batch failed"):
        migrations_sql(Recorder(), str(tmp_path), "HEAD", "m", ["20250101000000_init"])


@pytest.mark.parametrize("output,count,expected", [
    (b"abc blob 3\nxyz\n", 1, ["xyz"]),
    (b"HEAD:a missing\nabc blob 2\nhi\n", 2, [None, "hi"]),
    (b"abc tree 5\n12345\nabc blob 1\n\n\n", 2, [None, "\n"]),             # a tree is not a file; a newline file
    (b"abc blob 4\n\xc3\xa9t\n\n", 1, ["\u00e9t\n"]),                       # the size counts bytes
    ("abc blob 2\n\udcff\udcfe\n", 1, ["\ufffd\ufffd"]),                     # undecodable bytes survive as U+FFFD
    (b"", 2, [None, None]),                                                  # git said nothing
    (b"HEAD:x ambiguous\n", 1, [None]),
])
def test_parse_cat_file_batch(output, count, expected):
    assert parse_cat_file_batch(output, count) == expected
