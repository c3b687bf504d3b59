#!/usr/bin/env bash
# Smoke test of the sandbox's sample app: generates the repo into a temp dir, runs its
# Compose stack under its own project name and ports, checks the behaviour the
# collection's tests rely on, then removes the stack, its volume and the temp dir.
# Keeps the images (maverick-sandbox/postgres:15, smoketest-api, smoketest-web) so
# the next run builds from cache.
#
#   sandbox/app/smoke.sh        prints PASS/FAIL per check; exit 1 if any failed
#
# Prisma is not used here: migrations are applied with psql inside the postgres
# container, which is enough to exercise the api.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PG_IMAGE=maverick-sandbox/postgres:15
export COMPOSE_PROJECT_NAME=smoketest
POSTGRES_PORT=25433 API_PORT=23000 WEB_PORT=28080
API=http://127.0.0.1:$API_PORT
MIGRATIONS=packages/core/prisma/migrations

failures=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
# check NAME COMMAND...: run a check, report it, go on either way.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
now() { date +%s.%N; }
elapsed() { awk -v t0="$1" -v t1="$(now)" 'BEGIN { printf "%.1f", t1 - t0 }'; }
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; } # below A B: A < B, decimals

WORK=$(mktemp -d)
cleanup() {
	if [ -f "$WORK/repo/compose.yaml" ]; then
		(cd "$WORK/repo" && docker compose down -v --remove-orphans --timeout 5 >/dev/null 2>&1) || true
	fi
	rm -rf "$WORK"
	# Old api builds this run left untagged; the tagged images stay as build cache.
	docker image prune -f --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# http METHOD PATH [JSON]: sets STATUS and BODY. --max-time bounds a hung server.
http() {
	local args=(-s -o "$WORK/body" -w '%{http_code}' --max-time 10 -X "$1")
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data "$3")
	STATUS=$(curl "${args[@]}" "$API$2") || STATUS=000
	BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
# json EXPR: evaluate a Python expression over the last response (as "j"), print it.
json() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$BODY" "$1" 2>/dev/null; }
expect() { # expect STATUS EXPR VALUE: last response had STATUS and EXPR == VALUE
	if [ "$STATUS" != "$1" ] || [ "$(json "$2")" != "$3" ]; then
		echo "  got $STATUS $BODY" >&2
		return 1
	fi
}

# Compose, with the commit passed to the api build as the runbook's deploy would.
up() { GIT_COMMIT=$(git rev-parse HEAD) docker compose up -d --build --wait "$@" >"$WORK/up.log" 2>&1 || { tail -20 "$WORK/up.log" >&2; return 1; }; }
psql_c() { docker compose exec -T postgres psql -X -q -v ON_ERROR_STOP=1 -U smoke -d smoke "$@"; }
migrate() { psql_c <"$MIGRATIONS/$1/migration.sql" >/dev/null; }
image_id() { docker image inspect -f '{{.Id}}' "$COMPOSE_PROJECT_NAME-$1"; }
# The api's dependency (apt) layer: the first layer above the base image.
api_deps_layer() { docker image inspect -f '{{index .RootFS.Layers 1}}' "$COMPOSE_PROJECT_NAME-api"; }
# Whether the last `up` took that layer from the build cache (BuildKit's plain progress
# output prints "#N CACHED" for a cached step).
api_deps_cache() {
	local step
	step=$(grep -o '^#[0-9]* \[api [0-9/]*\] RUN apt-get' "$WORK/up.log" | head -1 | cut -d' ' -f1)
	if [ -z "$step" ]; then echo "unknown"
	elif grep -q "^$step CACHED" "$WORK/up.log"; then echo "cached"
	else echo "built"; fi
}
# Same apt layer as v1's, or at least a cache hit: after a `build --no-cache`, BuildKit
# may hold two equal records for the step and hand out either.
deps_reused() { [ "$(api_deps_layer)" = "$deps_v1" ] || [ "$(api_deps_cache)" = cached ]; }
health_poll() { # health_poll STATUS: wait up to 20 s for /health to answer STATUS
	for _ in $(seq 40); do
		http GET /health
		[ "$STATUS" = "$1" ] && return 0
		sleep 0.5
	done
	return 1
}

# --- setup ---------------------------------------------------------------------
if ! docker image inspect "$PG_IMAGE" >/dev/null 2>&1; then
	echo "building $PG_IMAGE"
	docker build -q -t "$PG_IMAGE" "$HERE/../images/postgres" >/dev/null
fi

"$HERE/generate.sh" "$WORK/repo" >"$WORK/tags" 2>/dev/null
check "generate.sh creates tags v1..v4" \
	test "$(cut -d' ' -f1 "$WORK/tags" | tr '\n' ' ')" = "v1 v2 v3 v4 "
check "generate.sh is idempotent (same SHAs, repo untouched)" \
	cmp -s "$WORK/tags" <("$HERE/generate.sh" "$WORK/repo" 2>/dev/null)
cd "$WORK/repo"
check "main is checked out at v4" test "$(git rev-parse HEAD)" = "$(git rev-parse v4)"

git checkout -q v1
sed -e "s/^COMPOSE_PROJECT_NAME=.*/COMPOSE_PROJECT_NAME=$COMPOSE_PROJECT_NAME/" \
	-e 's/^POSTGRES_USER=.*/POSTGRES_USER=smoke/' -e 's/^POSTGRES_DB=.*/POSTGRES_DB=smoke/' \
	-e "s/^POSTGRES_PASSWORD=.*/POSTGRES_PASSWORD=smoke-$RANDOM$RANDOM/" \
	-e "s/^POSTGRES_PORT=.*/POSTGRES_PORT=$POSTGRES_PORT/" \
	-e "s/^API_PORT=.*/API_PORT=$API_PORT/" -e "s/^WEB_PORT=.*/WEB_PORT=$WEB_PORT/" \
	.env.example >.env
check ".env is ignored by git" test -z "$(git status --porcelain)"

# --- v1 ------------------------------------------------------------------------
t=$(now)
check "v1: compose up --build --wait" up
echo "  timing: v1 up -d --build --wait: $(elapsed "$t") s (api apt layer $(api_deps_cache))"
check "v1: apply migration 20250101000000_init" migrate 20250101000000_init

http GET /health
check "v1: /health 200 ok with the v1 commit" expect 200 'j["status"], j["commit"], j["database"]' \
	"('ok', '$(git rev-parse v1)', 'ok')"
http POST /entries '{"title": "smoke entry"}'
check "v1: POST /entries 201" expect 201 'j["title"]' "smoke entry"
http GET /entries
check "v1: GET /entries lists it" expect 200 '[e["title"] for e in j]' "['smoke entry']"
check "web: page served" sh -c "curl -sf --max-time 10 http://127.0.0.1:$WEB_PORT/ | grep -q LifeTracker"
check "postgres: port published on 127.0.0.1 only" \
	test "$(docker compose port postgres 5432)" = "127.0.0.1:$POSTGRES_PORT"

docker compose stop postgres >/dev/null 2>&1
t=$(now)
http GET /health
check "v1: /health 503 degraded while postgres is stopped" \
	expect 503 'j["status"], j["database"], j["commit"]' "('degraded', 'unreachable', '$(git rev-parse v1)')"
check "v1: ... and answers within 3 s" below "$(elapsed "$t")" 3
docker compose start postgres >/dev/null 2>&1
check "v1: /health back to 200 after postgres restarts" health_poll 200

# --- v2: migration + cache checks -------------------------------------------------
web_v1=$(image_id web || true)
deps_v1=$(api_deps_layer || true)
git checkout -q v2
t=$(now)
check "v2: compose up --build --wait" up
echo "  timing: v2 up -d --build --wait: $(elapsed "$t") s (api apt layer $(api_deps_cache))"
check "v2: api rebuild reused the cached apt layer" deps_reused
check "v2: web image unchanged since v1" test "$(image_id web)" = "$web_v1"
check "v2: apply migration 20250201000000_add_tags" migrate 20250201000000_add_tags
http GET /health
check "v2: /health 200 with the v2 commit" expect 200 'j["commit"]' "$(git rev-parse v2)"
http POST /entries '{"title": "with mood", "mood": 4}'
check "v2: POST /entries with mood" expect 201 'j["mood"]' 4
http GET /entries
check "v2: old entries kept, mood null" expect 200 '[(e["title"], e["mood"]) for e in j]' \
	"[('smoke entry', None), ('with mood', 4)]"
http GET /tags
check "v2: GET /tags" expect 200 'j' '[]'

# --- v3: the /health bug ----------------------------------------------------------
git checkout -q v3
check "v3: rebuild api" up api
http GET /health
check "v3: /health 500, commit still reported" expect 500 'j["commit"]' "$(git rev-parse v3)"

# --- v4: the half-way migration ---------------------------------------------------
# Sent as ONE query, as Prisma sends a migration file (psql -c does the same; psql -f
# would send statement by statement).
git checkout -q v4
if psql_c -c "$(cat "$MIGRATIONS/20250301000000_entry_mood_required/migration.sql")" \
	>"$WORK/v4.log" 2>&1; then
	fail "v4: migration fails"
else
	check "v4: migration fails on the typo" grep -q 'column "mod" does not exist' "$WORK/v4.log"
fi
cols=$(psql_c -At -c "SELECT column_name || ':' || is_nullable FROM information_schema.columns
	WHERE table_name = 'Entry' AND column_name IN ('mood', 'mood_note') ORDER BY 1" || true)
check "v4: ... half-way: mood_note added, mood still nullable" \
	test "$cols" = "$(printf 'mood:YES\nmood_note:YES')"

# --- shutdown -------------------------------------------------------------------
t=$(now)
docker compose stop >/dev/null 2>&1
stop_s=$(elapsed "$t")
check "compose stop takes < 5 s (SIGTERM/SIGINT handled) [${stop_s} s]" \
	below "$stop_s" 5
docker compose down -v --remove-orphans >/dev/null 2>&1
check "down -v removed containers and the volume" test -z "$(docker ps -aq \
	--filter label=com.docker.compose.project=$COMPOSE_PROJECT_NAME)$(docker volume ls -q \
	--filter label=com.docker.compose.project=$COMPOSE_PROJECT_NAME)"

echo
if [ "$failures" -eq 0 ]; then
	echo "smoke: all checks passed"
else
	echo "smoke: $failures check(s) failed"
	exit 1
fi
