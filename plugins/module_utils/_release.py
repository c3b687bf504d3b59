# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about the releases of a git + Compose app, gathered in one pass.

Pure functions plus `gather(run, ...)`, which takes a `run(argv) -> (rc, out,
err)` callable so tests can feed captured outputs. Every command is an
argument list; the target ref is validated by the caller and passed after
git's own revision parsing ends (`--`).
"""

from __future__ import annotations

import json

from ansible_collections.maverick.rollback.plugins.module_utils._cli import compose_argv, docker_argv, git_argv
from ansible_collections.maverick.rollback.plugins.module_utils._pg import failure_cause, psql_argv
from ansible_collections.maverick.rollback.plugins.module_utils._rules import is_valid

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
CONFIG_FILES_LABEL = "com.docker.compose.project.config_files"


class ReleaseError(Exception):
    """A command failed; .details carries what the caller should show."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.details = details


def split_image_ref(ref):
    """'reg:5000/app-api:1.2' -> ('reg:5000/app-api', '1.2'); default tag latest."""
    name, _sep, tag = ref.rpartition(":")
    if name and "/" not in tag:
        return name, tag
    return ref, "latest"


def built_images(config):
    """Service -> {ref, repository, tag} for services with a build section.

    Only names leave this function: the configuration's environment holds the
    app's secrets.
    """
    project = config.get("name", "")
    built = {}
    for service, spec in sorted((config.get("services") or {}).items()):
        if "build" not in spec:
            continue
        repository, tag = split_image_ref(spec.get("image") or "%s-%s" % (project, service))
        built[service] = {"ref": "%s:%s" % (repository, tag), "repository": repository, "tag": tag}
    return built


def running_images(containers, project, services):
    """Service -> image id of its running container (docker inspect output)."""
    running = {}
    for container in containers:
        labels = (container.get("Config") or {}).get("Labels") or {}
        service = labels.get(SERVICE_LABEL)
        if labels.get(PROJECT_LABEL) == project and service in services and (container.get("State") or {}).get("Running"):
            running[service] = container.get("Image")
    return running


def project_containers(containers, project):
    """(running services, compose files) of the project's containers, from their labels."""
    services, files = set(), set()
    for container in containers:
        labels = (container.get("Config") or {}).get("Labels") or {}
        if labels.get(PROJECT_LABEL) != project:
            continue
        if (container.get("State") or {}).get("Running"):
            services.add(labels.get(SERVICE_LABEL))
        files.update(f for f in (labels.get(CONFIG_FILES_LABEL) or "").split(",") if f)
    return services, sorted(files)


def compose_files_differ(run, project_dir, from_sha, to_sha, files):
    """Whether the compose files the project was started from differ between two commits."""
    if not files:
        return True  # unknown files: assume they do
    if from_sha == to_sha:
        return False
    prefix = project_dir.rstrip("/") + "/"
    inside = [f[len(prefix):] for f in files if f.startswith(prefix)]
    if not inside:
        return False  # files outside the work tree do not change with the commit
    rc, _out, _err = run(git_argv(project_dir, "diff", "--quiet", from_sha, to_sha, "--") + inside)
    return rc != 0  # 1: they differ; anything else: unknown, so assume they do


def image_ids(ids_by_ref, built, tag=""):
    """Service -> id of <repository>:<tag> (or the compose reference when no tag)."""
    found = {}
    for service, names in built.items():
        ref = "%s:%s" % (names["repository"], tag) if tag else names["ref"]
        if ref in ids_by_ref:
            found[service] = ids_by_ref[ref]
    return found


def services_to_change(services, running, target):
    return [s for s in services if s not in target or running.get(s) != target[s]]


def kept_commits(ids_by_ref):
    """Full SHAs that have at least one image tagged with them."""
    commits = set()
    for ref in ids_by_ref:
        tag = ref.rpartition(":")[2]
        if len(tag) == 40 and all(c in "0123456789abcdef" for c in tag):
            commits.add(tag)
    return sorted(commits)


def parse_log_lines(text):
    """`git log --format=%H%x09%s` lines -> [(sha, subject)]."""
    pairs = []
    for line in text.splitlines():
        sha, _sep, subject = line.partition("\t")
        if sha:
            pairs.append((sha, subject))
    return pairs


def migration_names(ls_tree_output):
    """The Prisma migration directories (the migration_name rule) of a `git ls-tree --name-only` listing."""
    return [name for name in ls_tree_output.split() if is_valid("migration_name", name)]


def command_failed(what, program, rc, err):
    return ReleaseError("%s failed (%s exited %d): %s" % (what, program, rc, err.strip()[-500:]),
                        rc=rc, stderr=err.strip()[-2000:])


def must(run, argv, what):
    rc, out, err = run(argv)
    if rc != 0:
        raise command_failed(what, argv[0], rc, err)
    return out


def resolve(run, project_dir, ref):
    """Current and target commit with subjects, in one git call."""
    rc, out, err = run(git_argv(project_dir, "log", "--no-walk=unsorted", "--format=%H%x09%s",
                                "HEAD", ref + "^{commit}", "--"))
    if rc != 0:
        recent = must(run, git_argv(project_dir, "log", "--oneline", "-10", "--all"), "git log")
        raise ReleaseError("commit %s does not resolve in %s" % (ref, project_dir),
                           recent=recent.splitlines(), stderr=err.strip()[-500:])
    pairs = parse_log_lines(out)
    # git lists a commit once: one line means the target is the current commit.
    return pairs[0], pairs[-1]


def inspect_containers(run, ids):
    """docker inspect of the listed containers. One removed since `docker ps`
    listed it (a concurrent run recreating it) is no longer running: dropped,
    not an error, so that run's lock is what the caller hears about."""
    if not ids:
        return []
    rc, out, err = run(docker_argv("inspect", *ids))
    errors = err.strip().splitlines()
    if rc != 0 and not (errors and all(line.startswith("Error: No such object") for line in errors)):
        raise command_failed("docker inspect", "docker", rc, err)
    return json.loads(out or "[]")


def running_now(run, project, services):
    """(project containers, service -> image id of its running container) for the listed services."""
    ids = must(run, docker_argv("ps", "-q", "--no-trunc", "--filter", "label=%s=%s" % (PROJECT_LABEL, project)),
               "docker ps").split()
    containers = inspect_containers(run, ids)
    return containers, running_images(containers, project, list(services))


def docker_state(run, project, built):
    """(project containers, running service -> image id, image ref -> id) for the project's built images."""
    containers, running = running_now(run, project, built)
    ids_by_ref = {}
    if built:
        filters = []
        for names in built.values():
            filters += ["--filter", "reference=%s" % names["repository"]]
        listing = must(run, docker_argv("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", *filters),
                       "docker images")
        for line in listing.splitlines():
            ref, _sep, image_id = line.partition(" ")
            if image_id:
                ids_by_ref[ref] = image_id
    return containers, running, ids_by_ref


def migrations_at(run, project_dir, sha, migrations_dir):
    """Migration directory names in a commit's tree (read from git, no checkout)."""
    rc, out, _err = run(git_argv(project_dir, "ls-tree", "--name-only", "%s:%s" % (sha, migrations_dir)))
    return migration_names(out) if rc == 0 else []  # no directory: the commit knows none


def parse_cat_file_batch(output, count):
    """The contents of `git cat-file --batch` answers, in request order: text, or None for an
    object git reports missing (or ambiguous). output is bytes (or text holding them)."""
    if isinstance(output, str):
        output = output.encode("utf-8", "surrogateescape")
    contents, pos = [], 0
    while len(contents) < count and pos < len(output):
        end = output.find(b"\n", pos)
        header = output[pos:end if end >= 0 else len(output)].decode("utf-8", "replace").split()
        pos = len(output) if end < 0 else end + 1
        if len(header) == 3 and header[2].isdigit():
            size = int(header[2])
            contents.append(output[pos:pos + size].decode("utf-8", "replace") if header[1] == "blob" else None)
            pos += size + 1  # the contents end with a newline of git's own
        else:  # "<request> missing" / "<request> ambiguous"
            contents.append(None)
    return contents + [None] * (count - len(contents))


def migrations_sql(run, project_dir, sha, migrations_dir, names):
    """Name -> text of <migrations_dir>/<name>/migration.sql at a commit (None when it is not
    there), all read by ONE `git cat-file --batch` call. run(argv, data) -> (rc, out, err).
    Names that are not migration names are never sent to git (a line each is the protocol)."""
    names = sorted(set(names or []))
    wanted = [n for n in names if is_valid("migration_name", n)]
    sql = dict.fromkeys(names)
    if not wanted:
        return sql
    requests = "".join("%s:%s/%s/migration.sql\n" % (sha, migrations_dir.strip("/"), n) for n in wanted)
    rc, out, err = run(git_argv(project_dir, "cat-file", "--batch"), requests)
    if rc != 0:
        raise command_failed("git cat-file --batch", "git", rc, err)
    sql.update(zip(wanted, parse_cat_file_batch(out, len(wanted))))
    return sql


def gather(run, project_dir, target_ref, project_name="", migrations_dir=""):
    """Everything a rollback decides on, before it changes anything."""
    (from_sha, from_subject), (to_sha, to_subject) = resolve(run, project_dir, target_ref)
    dirty = must(run, git_argv(project_dir, "status", "--porcelain", "--untracked-files=no"), "git status").splitlines()
    migrations = from_migrations = None
    if migrations_dir and to_sha != from_sha:
        migrations = migrations_at(run, project_dir, to_sha, migrations_dir)
        from_migrations = migrations_at(run, project_dir, from_sha, migrations_dir)
    config = json.loads(must(run, compose_argv(project_dir, project_name, "config", "--format", "json"), "docker compose config"))
    project = config.get("name", project_name)
    built = built_images(config)
    containers, running, ids_by_ref = docker_state(run, project, built)
    target_images = image_ids(ids_by_ref, built, to_sha)
    changing = services_to_change(list(built), running, target_images)
    # A targeted `up --no-deps <changing>` when it does what a full `up` would:
    # every service runs and the compose files are the same at both commits, so
    # only the changing images matter. It skips compose's wait on dependencies
    # that are healthy already (0.5 s with the old container gone).
    running_services, files = project_containers(containers, project)
    targeted = (changing and set(config.get("services") or {}) <= running_services
                and not compose_files_differ(run, project_dir, from_sha, to_sha, files))
    return {
        "from": {"sha": from_sha, "subject": from_subject},
        "target": {"sha": to_sha, "subject": to_subject},
        "dirty_files": dirty,
        "target_migrations": migrations,
        "from_migrations": from_migrations,
        "project": project,
        "built": built,
        "running": running,
        "target_images": target_images,
        "from_images": image_ids(ids_by_ref, built, from_sha),
        "ref_images": image_ids(ids_by_ref, built),
        "kept_commits": kept_commits(ids_by_ref),
        "reuse": bool(built) and len(target_images) == len(built),
        "changing": changing,
        "up_services": changing if targeted else [],
        "noop": from_sha == to_sha and bool(target_images) and target_images == running,
    }


APPLIED_SQL = (
    "SELECT migration_name FROM _prisma_migrations"
    " WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name;\n"
)


def applied_migrations(runner, conn, database):
    """Migrations the database has applied, as Prisma records them, read with psql.

    runner: a _pg_runner.Runner (host psql or `docker compose exec` psql; the password
    in a 0600 pgpass file or passed to docker by name). A database without a
    `_prisma_migrations` table has applied none. Raises PgError naming the real cause
    otherwise.
    """
    argv = psql_argv(runner.conn, database, tuples=True)
    rc, out, err = runner.run(argv, data=APPLIED_SQL)
    if rc == 0:
        return [line.strip() for line in out.splitlines() if line.strip()]
    if failure_cause(err)[0] == "missing_table":
        return []
    raise runner.fail(argv, rc, err)
