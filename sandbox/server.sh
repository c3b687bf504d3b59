#!/usr/bin/env bash
# Start (or keep) a sandbox app-server container NAME from the current server
# image: host networking (the app publishes on 127.0.0.1) and the host's
# Docker socket (compose in the server drives the host's daemon).
set -euo pipefail
NAME="${1:?usage: server.sh NAME}"
IMAGE="maverick-sandbox/server:latest"
want=$(docker image inspect --format '{{.Id}}' "$IMAGE")
have=$(docker inspect --format '{{.Image}}' "$NAME" 2>/dev/null || true)
running=$(docker inspect --format '{{.State.Running}}' "$NAME" 2>/dev/null || true)
if [[ "$have" == "$want" && "$running" == "true" ]]; then
  echo "[server] $NAME is running the current image"
  exit 0
fi
docker rm -f "$NAME" >/dev/null 2>&1 || true
docker run -d --name "$NAME" --hostname "$NAME" --network host \
  -v /var/run/docker.sock:/var/run/docker.sock "$IMAGE" >/dev/null
echo "[server] $NAME started from $IMAGE"
