#!/usr/bin/env bash
# Build a self-contained, relocatable offline Prisma CLI directory.
#
#   install.sh DEST
#
# DEST/node_modules   prisma 7.10.1, @prisma/adapter-pg, @prisma/schema-engine-wasm, pg, bun
# DEST/bin/bun        bun runtime (relative symlink into node_modules)
# DEST/bin/bunx       same binary; bun switches to bunx mode by argv[0]
# DEST/bin/prisma     the prisma CLI, run by DEST/bin/bun
# DEST/schema-engine-host      value for PRISMA_SCHEMA_ENGINE_BINARY
# DEST/schema-engine-host.mjs  the engine host it runs
#
# Everything inside DEST is referenced relatively, so the directory can be
# copied anywhere (the sandbox image COPYs it to /opt/prisma-cli).
#
# Idempotent: `npm ci` runs only when package.json/package-lock.json changed
# since the last successful install (stamp file DEST/.install-stamp); the host
# scripts are refreshed on every run (cheap).
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 DEST" >&2
  exit 2
fi

SRC=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
mkdir -p "$1"
DEST=$(cd "$1" && pwd)

stamp_of() {
  cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -d' ' -f1
}
want=$(stamp_of)
have=$(cat "$DEST/.install-stamp" 2>/dev/null || true)

# bun's npm package ships a placeholder bin/bun.exe that its postinstall
# replaces with the binary from the platform package @oven/bun-<os>-<arch>.
# We run npm ci with --ignore-scripts (no postinstall of prisma/@prisma/engines
# trying to download native engines from the internet) and do bun's linking
# ourselves below.
find_bun_binary() {
  local cand
  for cand in "$DEST"/node_modules/@oven/bun-*/bin/bun; do
    [ -x "$cand" ] && { echo "$cand"; return 0; }
  done
  return 1
}

if [ "$want" != "$have" ] || [ ! -d "$DEST/node_modules/prisma" ] || ! find_bun_binary >/dev/null; then
  echo "install.sh: npm ci into $DEST" >&2
  rm -f "$DEST/.install-stamp"
  cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
  (cd "$DEST" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  new_install=1
else
  echo "install.sh: $DEST up to date (lockfile unchanged), skipping npm ci" >&2
  new_install=0
fi

bun_abs=$(find_bun_binary) || { echo "install.sh: no @oven/bun-* binary installed for this platform" >&2; exit 1; }
# path of the binary relative to DEST, e.g. node_modules/@oven/bun-linux-x64/bin/bun
bun_rel=${bun_abs#"$DEST"/}

# Replace bun's placeholders by relative symlinks to the real binary, as its
# postinstall would (it hardlinks; symlinks keep one copy in image layers).
ln -sfn "../../${bun_rel#node_modules/}" "$DEST/node_modules/bun/bin/bun.exe"
ln -sfn "../../${bun_rel#node_modules/}" "$DEST/node_modules/bun/bin/bunx.exe"

mkdir -p "$DEST/bin"
ln -sfn "../$bun_rel" "$DEST/bin/bun"
ln -sfn "../$bun_rel" "$DEST/bin/bunx"
# `prisma` on PATH, run by our bun (the CLI's own shebang wants node >= 20).
rm -f "$DEST/bin/prisma"
cat >"$DEST/bin/prisma" <<'WRAPPER'
#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
exec "$here/bun" "$here/../node_modules/prisma/build/index.js" "$@"
WRAPPER
chmod 0755 "$DEST/bin/prisma"

# The engine host (always refreshed).
install -m 0755 "$SRC/schema-engine-host.mjs" "$DEST/schema-engine-host.mjs"
install -m 0755 "$SRC/schema-engine-host" "$DEST/schema-engine-host"

# Sanity check: the runtime starts and the wasm engine package is there.
"$DEST/bin/bun" --version >/dev/null
[ -f "$DEST/node_modules/@prisma/schema-engine-wasm/schema_engine_bg.wasm" ]

if [ "$new_install" = 1 ]; then
  echo "$want" >"$DEST/.install-stamp"
fi
echo "install.sh: ready: $DEST (bun $("$DEST/bin/bun" --version))" >&2
