"""Compose and release filters, from real `docker compose config` / host_info shapes."""

import pytest

from ansible_collections.maverick.rollback.plugins.filter.compose_built_images import (
    compose_built_images, split_image_ref)
from ansible_collections.maverick.rollback.plugins.filter.compose_running_images import compose_running_images
from ansible_collections.maverick.rollback.plugins.filter.release_image_ids import release_image_ids
from ansible_collections.maverick.rollback.plugins.filter.release_lines import release_lines
from ansible_collections.maverick.rollback.plugins.filter.services_to_change import services_to_change

SHA1, SHA2 = "4" * 40, "b" * 40
CONFIG = {  # trimmed `docker compose config --format json` of the sample app
    "name": "lifetracker",
    "services": {
        "api": {"build": {"context": "/opt/lifetracker"}, "environment": {"DATABASE_URL": "postgresql://u:SECRET@x/db"}},
        "postgres": {"image": "maverick-sandbox/postgres:15"},
        "web": {"build": {"context": "/opt/lifetracker/apps/web"}, "image": "registry:5000/lt/web:2.1"},
    },
}
BUILT = compose_built_images(CONFIG)


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
    containers = [
        {"State": "running", "ImageID": "sha256:api1", "Labels": {"com.docker.compose.project": "lifetracker", "com.docker.compose.service": "api"}},
        {"State": "exited", "ImageID": "sha256:web0", "Labels": {"com.docker.compose.project": "lifetracker", "com.docker.compose.service": "web"}},
        {"State": "running", "ImageID": "sha256:pg", "Labels": {"com.docker.compose.project": "lifetracker", "com.docker.compose.service": "postgres"}},
        {"State": "running", "ImageID": "sha256:other", "Labels": {"com.docker.compose.project": "other", "com.docker.compose.service": "api"}},
    ]
    assert compose_running_images(containers, "lifetracker", ["api", "web"]) == {"api": "sha256:api1"}
    assert compose_running_images(containers, "lifetracker") == {"api": "sha256:api1", "postgres": "sha256:pg"}


def test_release_image_ids_by_commit_and_reference():
    images = [
        {"Id": "sha256:v1api", "RepoTags": ["lifetracker-api:" + SHA1]},
        {"Id": "sha256:v2api", "RepoTags": ["lifetracker-api:" + SHA2, "lifetracker-api:latest"]},
        {"Id": "sha256:web", "RepoTags": ["registry:5000/lt/web:" + SHA1, "registry:5000/lt/web:2.1"]},
    ]
    assert release_image_ids(images, BUILT, SHA1) == {"api": "sha256:v1api", "web": "sha256:web"}
    assert release_image_ids(images, BUILT, SHA2) == {"api": "sha256:v2api"}
    assert release_image_ids(images, BUILT) == {"api": "sha256:v2api", "web": "sha256:web"}


@pytest.mark.parametrize("running,target,expected", [
    ({"api": "x", "web": "w"}, {"api": "y", "web": "w"}, ["api"]),
    ({"api": "y", "web": "w"}, {"api": "y", "web": "w"}, []),
    ({"web": "w"}, {"api": "y", "web": "w"}, ["api"]),
    ({"api": "y", "web": "w"}, {}, ["api", "web"]),
])
def test_services_to_change(running, target, expected):
    assert services_to_change(["api", "web"], running, target) == expected


def test_release_lines_annotate():
    log = [SHA2 + "\t2025-02-03\ttag: v2\tfeat: moods", SHA1 + "\t2025-01-02\tHEAD, tag: v1, origin/main\tfeat: first"]
    ledger = {SHA1: {"deploys": 2, "last_time": "T1", "last_outcome": "healthy", "last_action": "rollback"}}
    lines = release_lines(log, ledger, [SHA1], SHA1)
    assert lines[0] == "bbbbbbbbbbbb 2025-02-03 [v2] feat: moods"
    assert lines[1] == "444444444444 2025-01-02 [v1] feat: first | rollback healthy at T1 (2x) | images kept <= running"
