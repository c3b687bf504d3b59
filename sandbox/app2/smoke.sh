#!/usr/bin/env bash
# Smoke test of the second sample app (Ledgerly): generates the repo into a temp dir,
# runs its Compose stack under its own project name and ports (26600-26602), checks
# the behaviour the collection's tests rely on, then removes the stack, its volume and
# the temp dir. Last, starts the minimal server image once (as Molecule would: host
# network, docker socket) and checks what it has and what it must not have.
# Keeps the images (<project>-app, -worker, -proxy) so the next run builds from cache.
#
#   sandbox/app2/smoke.sh        prints PASS/FAIL per check; exit 1 if any failed
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PG_IMAGE=maverick-sandbox/postgres:15
SERVER_IMAGE=maverick-sandbox/server-minimal:latest
export COMPOSE_PROJECT_NAME=smoke-ledgerly COMPOSE_BAKE=false
APP_HTTP_PORT=26600 PROXY_PORT=26601 APP_DB_PORT=26602
DB_USER=ledger_svc DB_NAME=ledgerdb
SERVER_CONTAINER=$COMPOSE_PROJECT_NAME-server

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
	if [ -f "$WORK/repo/docker-compose.yml" ]; then
		(cd "$WORK/repo" && docker compose down -v --remove-orphans --timeout 5 >/dev/null 2>&1) || true
	fi
	docker rm -f "$SERVER_CONTAINER" >/dev/null 2>&1 || true
	rm -rf "$WORK"
	# Old builds this run left untagged; the tagged images stay as build cache.
	docker image prune -f --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# http PORT METHOD PATH [JSON]: sets STATUS, BODY and HEADERS. --max-time bounds a hang.
http() {
	local args=(-s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' --max-time 10 -X "$2")
	[ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data "$4")
	STATUS=$(curl "${args[@]}" "http://127.0.0.1:$1$3") || STATUS=000
	BODY=$(cat "$WORK/body" 2>/dev/null || true)
	HEADERS=$(cat "$WORK/headers" 2>/dev/null || true)
}
app() { http "$APP_HTTP_PORT" "$@"; }
# json EXPR: evaluate a Python expression over the last response (as "j"), print it.
json() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$BODY" "$1" 2>/dev/null; }
expect() { # expect STATUS EXPR VALUE: last response had STATUS and EXPR == VALUE
	if [ "$STATUS" != "$1" ] || [ "$(json "$2")" != "$3" ]; then
		echo "  got $STATUS $BODY" >&2
		return 1
	fi
}
status_poll() { # status_poll STATUS: wait up to 20 s for /status to answer STATUS
	for _ in $(seq 40); do
		app GET /status
		[ "$STATUS" = "$1" ] && return 0
		sleep 0.5
	done
	echo "  last answer: $STATUS $BODY" >&2
	return 1
}

# Compose, with the commit passed to the build as a deploy would.
up() { BUILD_SHA=$(git rev-parse HEAD) docker compose up -d --build --wait "$@" >"$WORK/up.log" 2>&1 || { tail -20 "$WORK/up.log" >&2; return 1; }; }
sql() { docker compose exec -T pg psql -X -q -At -v ON_ERROR_STOP=1 -U "$DB_USER" -d "$DB_NAME" -c "$1"; }
image_id() { docker image inspect -f '{{.Id}}' "$COMPOSE_PROJECT_NAME-$1"; }
# The app's apt layer (first above the base image), and whether the last `up` took it
# from the cache (BuildKit's plain progress prints "#N CACHED" for a cached step).
deps_layer() { docker image inspect -f '{{index .RootFS.Layers 1}}' "$COMPOSE_PROJECT_NAME-app"; }
deps_cache() {
	local step
	# app and worker share the step; either may be named in the log.
	step=$(grep -oE '^#[0-9]+ \[(app|worker) [0-9/]+\] RUN apt-get' "$WORK/up.log" | head -1 | cut -d' ' -f1)
	if [ -z "$step" ]; then echo "unknown"
	elif grep -q "^$step CACHED" "$WORK/up.log"; then echo "cached"
	else echo "built"; fi
}
deps_reused() { [ "$(deps_layer)" = "$deps_r1" ] || [ "$(deps_cache)" = cached ]; }
beats() { sql "SELECT coalesce(sum(beats), 0) FROM worker_heartbeat"; }
worker_build() { sql "SELECT string_agg(build, ',') FROM worker_heartbeat WHERE beat_at > now() - interval '3 seconds'"; }
beats_advance() { # the worker's heartbeat count grows within 5 s
	local before
	before=$(beats) || return 1
	for _ in $(seq 10); do
		sleep 0.5
		[ "$(beats)" -gt "$before" ] && return 0
	done
	return 1
}
worker_build_is() { # worker_build_is SHA: the live heartbeat comes from that build (10 s)
	for _ in $(seq 20); do
		[ "$(worker_build 2>/dev/null)" = "$1" ] && return 0
		sleep 0.5
	done
	echo "  worker build: $(worker_build 2>/dev/null)" >&2
	return 1
}

schema_noop_logged() { docker compose logs --since 30s app | grep -q 'schema: applied nothing (up to date)'; }
in_server() { docker exec "$SERVER_CONTAINER" "$@" >/dev/null 2>&1; }
absent() { ! in_server sh -c "command -v $1"; }
lacks_module() { ! in_server python3 -c "import $1"; }
server_checkout() { # branch, HEAD, r1's commit and origin of the server's app checkout
	local git=(docker exec -w /srv/ledgerly "$SERVER_CONTAINER" git)
	echo "$("${git[@]}" symbolic-ref --short HEAD) $("${git[@]}" rev-parse HEAD 'r1^{commit}' | tr '\n' ' ')$("${git[@]}" remote get-url origin)"
}

# --- setup -----------------------------------------------------------------------
if ! docker image inspect "$PG_IMAGE" >/dev/null 2>&1; then
	echo "building $PG_IMAGE"
	docker build -q -t "$PG_IMAGE" "$HERE/../images/postgres" >/dev/null
fi

"$HERE/generate.sh" "$WORK/repo" >"$WORK/tags" 2>/dev/null
check "generate.sh creates tags r1..r3" \
	test "$(cut -d' ' -f1 "$WORK/tags" | tr '\n' ' ')" = "r1 r2 r3 "
check "generate.sh is idempotent (same SHAs, repo untouched)" \
	cmp -s "$WORK/tags" <("$HERE/generate.sh" "$WORK/repo" 2>/dev/null)
readme_lists_tags() { # every "TAG SHA" line appears as a table row in README.md
	local tag sha
	while read -r tag sha; do
		grep -q "^| $tag | \`$sha\` |" "$HERE/README.md" || { echo "  README.md lacks $tag $sha" >&2; return 1; }
	done <"$WORK/tags"
}
check "README.md lists these tags and SHAs" readme_lists_tags
cd "$WORK/repo"
check "production (default branch) is checked out at r3" \
	test "$(git symbolic-ref HEAD) $(git rev-parse HEAD)" = "refs/heads/production $(git rev-parse 'r3^{commit}')"
check "tags are annotated" test "$(git cat-file -t r1)" = tag

R1=$(git rev-parse 'r1^{commit}') R2=$(git rev-parse 'r2^{commit}') R3=$(git rev-parse 'r3^{commit}')
git checkout -q r1
sed -e "s/^COMPOSE_PROJECT_NAME=.*/COMPOSE_PROJECT_NAME=$COMPOSE_PROJECT_NAME/" \
	-e "s/^APP_DB_PASS=.*/APP_DB_PASS=smoke-$RANDOM$RANDOM/" \
	-e "s/^APP_DB_PORT=.*/APP_DB_PORT=$APP_DB_PORT/" \
	-e "s/^APP_HTTP_PORT=.*/APP_HTTP_PORT=$APP_HTTP_PORT/" -e "s/^PROXY_PORT=.*/PROXY_PORT=$PROXY_PORT/" \
	.env.example >.env
check ".env is ignored by git" test -z "$(git status --porcelain)"

# --- r1 --------------------------------------------------------------------------
t=$(now)
check "r1: compose up --build --wait" up
echo "  timing: r1 up -d --build --wait: $(elapsed "$t") s (app apt layer $(deps_cache))"
check "r1: /status 200 once the app applied its schema" status_poll 200
check "r1: /status is up, db ok, schema 1, with the r1 commit under build" \
	expect 200 'j["state"], j["db"], j["schema"], j["build"]["commit"]' "('up', 'ok', 1, '$R1')"
check "r1: schema_version records 001_init.sql" test "$(sql 'SELECT version, name FROM schema_version')" = "1|001_init.sql"
app POST /entries '{"memo": "opening balance", "amount_cents": 250000}'
check "r1: POST /entries 201" expect 201 'j["memo"], j["amount_cents"]' "('opening balance', 250000)"
app GET /entries
check "r1: GET /entries lists it" expect 200 '[e["memo"] for e in j]' "['opening balance']"
check "r1: worker heartbeat advances" beats_advance
check "r1: ... written by the r1 build" worker_build_is "$R1"
check "r1: worker holds a database session (pg_stat_activity)" \
	test "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ledgerly-worker'")" -ge 1
http "$PROXY_PORT" GET /status
check "proxy: relays /status with the r1 commit" expect 200 'j["build"]["commit"]' "$R1"
check "proxy: adds its Via header" grep -qi '^via: 1.1 ledgerly-proxy' <<<"$HEADERS"
http "$PROXY_PORT" POST /entries '{"memo": "via proxy", "amount_cents": -1999}'
check "proxy: relays POST /entries" expect 201 'j["memo"]' "via proxy"
for svc_port in "pg 5432 $APP_DB_PORT" "app 8000 $APP_HTTP_PORT" "proxy 8080 $PROXY_PORT"; do
	read -r svc port host_port <<<"$svc_port"
	check "$svc: port published on 127.0.0.1:$host_port only" \
		test "$(docker compose port "$svc" "$port")" = "127.0.0.1:$host_port"
done
check "worker: publishes no port" test "$(docker inspect -f '{{len .HostConfig.PortBindings}}' "$(docker compose ps -q worker)")" = 0

docker compose stop pg >/dev/null 2>&1
t=$(now)
app GET /status
check "r1: /status 503 degraded/unreachable while pg is stopped" \
	expect 503 'j["state"], j["db"], j["build"]["commit"]' "('degraded', 'unreachable', '$R1')"
check "r1: ... and answers within 3 s" below "$(elapsed "$t")" 3
http "$PROXY_PORT" GET /status
check "proxy: relays the 503" test "$STATUS" = 503
docker compose start pg >/dev/null 2>&1
check "r1: /status back to 200 after pg restarts" status_poll 200
check "r1: worker reconnects, heartbeat advances again" beats_advance

# --- r2: schema change, cache ------------------------------------------------------
proxy_r1=$(image_id proxy || true)
deps_r1=$(deps_layer || true)
git checkout -q r2
t=$(now)
check "r2: compose up --build --wait" up
echo "  timing: r2 up -d --build --wait: $(elapsed "$t") s (app apt layer $(deps_cache))"
check "r2: app rebuild reused the cached apt layer" deps_reused
check "r2: proxy image unchanged since r1" test "$(image_id proxy)" = "$proxy_r1"
check "r2: /status 200" status_poll 200
check "r2: /status schema 2 with the r2 commit" expect 200 'j["schema"], j["build"]["commit"]' "(2, '$R2')"
check "r2: schema_version records 001 and 002" \
	test "$(sql 'SELECT version FROM schema_version ORDER BY 1' | tr '\n' ' ')" = "1 2 "
check "r2: table accounts exists, entries.account_id is nullable" \
	test "$(sql "SELECT to_regclass('accounts') IS NOT NULL, (SELECT is_nullable FROM information_schema.columns
		WHERE table_name = 'entries' AND column_name = 'account_id')")" = "t|YES"
app GET /entries
check "r2: r1's entries survive, account_id null" \
	expect 200 '[(e["memo"], e["account_id"]) for e in j]' "[('opening balance', None), ('via proxy', None)]"
app POST /accounts '{"name": "Bank"}'
check "r2: POST /accounts 201" expect 201 'j["name"]' "Bank"
app POST /entries '{"memo": "fees", "amount_cents": -500, "account_id": 1}'
check "r2: POST /entries with an account" expect 201 'j["account_id"]' 1
check "r2: worker heartbeat comes from the r2 build" worker_build_is "$R2"
docker compose restart app >/dev/null 2>&1
check "r2: /status 200 after an app restart" status_poll 200
check "r2: ... schema applied again = nothing (idempotent)" schema_noop_logged
check "r2: ... schema_version still 2 rows" test "$(sql 'SELECT count(*) FROM schema_version')" = 2

# --- r1 again, on the r2 schema (a code-only rollback) ------------------------------
git checkout -q r1
check "r1 on the r2 schema: compose up --build --wait" up
status_poll 200 || true
check "r1 on the r2 schema: /status 200 with the r1 commit, schema 2" \
	expect 200 'j["build"]["commit"], j["schema"]' "('$R1', 2)"
app GET /entries
check "r1 on the r2 schema: GET /entries works (3 rows)" expect 200 'len(j)' 3

# --- r3: the /status bug -------------------------------------------------------------
git checkout -q r3
check "r3: compose up --build --wait" up
check "r3: pg is up (pg_isready)" docker compose exec -T pg pg_isready -q -h 127.0.0.1 -U "$DB_USER" -d "$DB_NAME"
sleep 1  # the schema thread: /status is 503 "starting" until it ran, then 500
status_poll 500 || true
check "r3: /status 500 while the database is up, commit still reported" \
	expect 500 'j["state"], j["build"]["commit"]' "('error', '$R3')"
check "r3: worker heartbeat still advances" beats_advance

# --- shutdown ------------------------------------------------------------------------
t=$(now)
docker compose stop >/dev/null 2>&1
stop_s=$(elapsed "$t")
check "compose stop takes < 5 s (stop signals handled) [${stop_s} s]" below "$stop_s" 5
docker compose down -v --remove-orphans >/dev/null 2>&1
check "down -v removed containers, volume and network" test -z "$(docker ps -aq \
	--filter label=com.docker.compose.project=$COMPOSE_PROJECT_NAME)$(docker volume ls -q \
	--filter label=com.docker.compose.project=$COMPOSE_PROJECT_NAME)$(docker network ls -q \
	--filter label=com.docker.compose.project=$COMPOSE_PROJECT_NAME)"

# --- the minimal server image ----------------------------------------------------------
if ! docker image inspect "$SERVER_IMAGE" >/dev/null 2>&1; then
	echo "SKIP $SERVER_IMAGE is not built (run sandbox/setup.sh)"
else
	docker run -d --name "$SERVER_CONTAINER" --network host \
		-v /var/run/docker.sock:/var/run/docker.sock "$SERVER_IMAGE" sleep infinity >/dev/null
	check "server: git works" in_server git --version
	check "server: docker compose version works" in_server docker compose version
	check "server: docker reaches the host's daemon through the socket" in_server docker ps
	check "server: python3 works" in_server python3 -c 'import json, urllib.request'
	check "server: python3 has no requests" lacks_module requests
	check "server: python3 has no psycopg2" lacks_module psycopg2
	for tool in psql pg_dump bun node prisma; do
		check "server: no $tool" absent "$tool"
	done
	check "server: /srv/ledgerly is on production at r3, origin /srv/git/ledgerly.git" \
		test "$(server_checkout)" = "production $R3 $R1 /srv/git/ledgerly.git"
	docker rm -f "$SERVER_CONTAINER" >/dev/null
fi

echo
if [ "$failures" -eq 0 ]; then
	echo "smoke: all checks passed"
else
	echo "smoke: $failures check(s) failed"
	exit 1
fi
