#!/usr/bin/env bash
# End-to-end check of the offline Prisma CLI (bunx --bun prisma + our wasm
# schema-engine host) against a real PostgreSQL, walking the runbook's
# "migration failed mid-way" story with the example-core project.
#
#   DATABASE_URL=postgresql://user:pw@host:port/any selftest.sh [--capture DIR]
#
# env:
#   DATABASE_URL     server + credentials to use (required). The test never uses
#                    the database named in it: it works in its own database
#                    SELFTEST_DB (default prisma_selftest), which it DROPS first
#                    and at the end (the user needs CREATEDB: deploy creates the
#                    database, diff --from-migrations a shadow database).
#   PRISMA_CLI_DIR   the directory made by install.sh (default /opt/prisma-cli)
#   SELFTEST_DB      database name (default prisma_selftest)
#   KEEP_DB=1        keep the database at the end
#
# --capture DIR writes the real stdout/stderr/exit code of every CLI run to
# DIR/<case>.{stdout,stderr,rc} (passwords replaced by REDACTED) and lists the
# cases in DIR/commands.tsv.
#
# Prints PASS/FAIL per step and "N passed, M failed"; exits 1 on any failure.
set -uo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
CAPTURE=""
while [ $# -gt 0 ]; do
  case $1 in
    --capture) CAPTURE=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

: "${DATABASE_URL:?set DATABASE_URL (server and credentials to test against)}"
CLI_DIR=${PRISMA_CLI_DIR:-/opt/prisma-cli}
DB_NAME=${SELFTEST_DB:-prisma_selftest}
if [ ! -x "$CLI_DIR/bin/bunx" ] || [ ! -d "$CLI_DIR/node_modules/prisma" ]; then
  echo "no offline Prisma CLI in $CLI_DIR; run: $HERE/install.sh $CLI_DIR (or set PRISMA_CLI_DIR)" >&2
  exit 2
fi
export PATH="$CLI_DIR/bin:$PATH"
export PRISMA_SCHEMA_ENGINE_BINARY=${PRISMA_SCHEMA_ENGINE_BINARY:-$CLI_DIR/schema-engine-host}
export CHECKPOINT_DISABLE=1 NO_COLOR=1 PRISMA_HIDE_UPDATE_MESSAGE=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/prisma-selftest.XXXXXX")
cp -r "$HERE/example-core/." "$WORK/"
ln -s "$CLI_DIR/node_modules" "$WORK/node_modules"
OUT=${CAPTURE:-$WORK/.captured}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/*.stdout "$OUT"/*.stderr "$OUT"/*.rc
printf 'case\texit_code\tcommand (run as: bunx --bun prisma ...)\n' >"$OUT/commands.tsv"
cd "$WORK" || exit 2

# Small pg/URL helper run by the same bun (pg comes from the install).
cat >"$WORK/.helper.mjs" <<'EOF'
import pg from "pg";
const [cmd, url, arg] = process.argv.slice(2);
const u = new URL(url);
if (cmd === "with-db") { u.pathname = "/" + arg; console.log(u.toString()); }
else if (cmd === "with-password") { u.password = arg; console.log(u.toString()); }
else if (cmd === "with-port") { u.hostname = "127.0.0.1"; u.port = arg; console.log(u.toString()); }
else if (cmd === "password") { console.log(decodeURIComponent(u.password)); console.log(u.password); }
else if (cmd === "sql") {
  const c = new pg.Client({ connectionString: url });
  try {
    await c.connect();
    const r = await c.query({ text: arg, rowMode: "array" });
    for (const row of r.rows) console.log(row.map((v) => (v === null ? "NULL" : v instanceof Date ? v.toISOString() : String(v))).join("\t"));
  } catch (e) { console.error(e.message); process.exitCode = 1; } finally { await c.end(); }
}
EOF
helper() { bun "$WORK/.helper.mjs" "$@"; }

TEST_URL=$(helper with-db "$DATABASE_URL" "$DB_NAME")
ADMIN_URL=$(helper with-db "$DATABASE_URL" postgres)
mapfile -t PASSWORDS < <(helper password "$DATABASE_URL" | awk 'length > 0' | sort -u)
sql() { helper sql "$TEST_URL" "$1"; }
admin_sql() { helper sql "$ADMIN_URL" "$1"; }

BROKEN=20250301000000_add_mood_constraint
NEVER=20991231000000_never_existed
PASSED=0 FAILED=0

pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }

redact() {
  local f=$1 c p
  c=$(cat "$f"; printf x); c=${c%x}
  for p in "${PASSWORDS[@]}"; do c=${c//"$p"/REDACTED}; done
  printf '%s' "$c" >"$f"
}

# run_cli CASE URL ARGS...: run `bunx --bun prisma ARGS` with DATABASE_URL=URL,
# capture into $OUT/CASE.*, set RC and TEXT (stdout+stderr).
run_cli() {
  local name=$1 url=$2; shift 2
  DATABASE_URL=$url bunx --bun prisma "$@" >"$OUT/$name.stdout" 2>"$OUT/$name.stderr"
  RC=$?
  echo "$RC" >"$OUT/$name.rc"
  printf '%s\t%s\t%s\n' "$name" "$RC" "prisma $*" >>"$OUT/commands.tsv"
  redact "$OUT/$name.stdout"; redact "$OUT/$name.stderr"
  TEXT=$(cat "$OUT/$name.stdout" "$OUT/$name.stderr")
}

# step CASE EXPECTED_RC 'REGEX1|...' ... -- PRISMA ARGS
# Every REGEX (grep -E) must match the combined output. Uses TEST_URL unless URL is set.
step() {
  local name=$1 want_rc=$2; shift 2
  local pats=()
  while [ "$1" != "--" ]; do pats+=("$1"); shift; done
  shift
  run_cli "$name" "${URL:-$TEST_URL}" "$@"
  if [ "$RC" != "$want_rc" ]; then
    fail "$name" "exit code $RC, expected $want_rc"; show "$name"; return 1
  fi
  local p
  for p in "${pats[@]}"; do
    if ! grep -Eq -- "$p" <<<"$TEXT"; then
      fail "$name" "output does not match /$p/"; show "$name"; return 1
    fi
  done
  pass "$name"
}
show() { sed 's/^/    | /' "$OUT/$1.stdout" "$OUT/$1.stderr" | head -40; }

# check NAME ACTUAL EXPECTED: compare a value read from the database.
check() {
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "got '$2', expected '$3'"; fi
}

drop_db() { admin_sql "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null; }
shadow_dbs() { admin_sql "SELECT count(*) FROM pg_database WHERE datname LIKE 'prisma_migrate_shadow_db_%'"; }
row() { sql "SELECT finished_at IS NOT NULL, rolled_back_at IS NOT NULL FROM _prisma_migrations WHERE migration_name = '$1' ORDER BY started_at" | tr '\t\n' ',,' | sed 's/,$//'; }

echo "selftest: prisma $(bunx --bun prisma --version 2>/dev/null | awk '/^prisma /{print $3}'), bun $(bun --version), database $DB_NAME, work dir $WORK"
drop_db || { echo "cannot reach the server of DATABASE_URL as admin" >&2; exit 2; }
shadow_before=$(shadow_dbs)

# --- fresh database: missing, then created and migrated by deploy -----------
step status_db_missing 1 'P1003' "Database \`$DB_NAME\` does not exist" -- migrate status
step deploy_ok 0 "PostgreSQL database $DB_NAME created" '20250101000000_init' '20250201000000_add_tags' \
  'All migrations have been successfully applied' -- migrate deploy
check deploy_ok.rows "$(sql "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 2
step deploy_no_pending 0 'No pending migrations to apply' -- migrate deploy
step status_up_to_date 0 'Database schema is up to date!' -- migrate status
step diff_empty 0 'This is an empty migration' -- \
  migrate diff --from-config-datasource --to-schema prisma/schema.prisma --script --exit-code
step diff_from_migrations_ok 0 'This is an empty migration' -- \
  migrate diff --from-migrations prisma/migrations --to-schema prisma/schema.prisma --script --exit-code
check diff_from_migrations_ok.shadow_db_dropped "$(shadow_dbs)" "$shadow_before"

# --- release 3: a migration that fails half-way ----------------------------
cp -r "broken/$BROKEN" prisma/migrations/
step status_pending 1 'have not yet been applied' "$BROKEN" -- migrate status
step deploy_p3018 1 'Error: P3018' "Migration name: $BROKEN" 'Database error code: 42703' \
  'column "mood_score" does not exist' -- migrate deploy
check deploy_p3018.failed_row "$(sql "SELECT finished_at IS NULL, rolled_back_at IS NULL, applied_steps_count FROM _prisma_migrations WHERE migration_name = '$BROKEN'")" \
  "$(printf 'true\ttrue\t0')"
check deploy_p3018.partial_change_committed \
  "$(sql "SELECT count(*) FROM information_schema.columns WHERE table_name = 'Entry' AND column_name = 'mood_note'")" 1
step deploy_p3009 1 'Error: P3009' "The \`$BROKEN\` migration started at .* failed" -- migrate deploy
step status_failed 1 'have failed' "migrate resolve --rolled-back \"$BROKEN\"" -- migrate status
step diff_script 0 'ALTER TABLE "Entry" DROP COLUMN "mood_note"' -- \
  migrate diff --from-config-datasource --to-schema prisma/schema.prisma --script
step diff_exit_code_changes 2 'DROP COLUMN "mood_note"' -- \
  migrate diff --from-config-datasource --to-schema prisma/schema.prisma --script --exit-code
step diff_p3006 1 'Error: P3006' "Migration \`$BROKEN\` failed to apply cleanly to the shadow database" 'Error code: P3018' -- \
  migrate diff --from-migrations prisma/migrations --to-schema prisma/schema.prisma --script
check diff_p3006.shadow_db_dropped "$(shadow_dbs)" "$shadow_before"

# --- resolve --rolled-back and its error cases ------------------------------
step resolve_rolled_back_ok 0 "Migration $BROKEN marked as rolled back" -- migrate resolve --rolled-back "$BROKEN"
rolled_at=$(sql "SELECT rolled_back_at FROM _prisma_migrations WHERE migration_name = '$BROKEN'")
check resolve_rolled_back_ok.rolled_back_at_set "$([ -n "$rolled_at" ] && [ "$rolled_at" != NULL ] && echo set)" set
# Second call on an already rolled-back migration: Prisma accepts it (exit 0,
# same message) and changes nothing (no failed row left to roll back).
step resolve_rolled_back_again 0 "Migration $BROKEN marked as rolled back" -- migrate resolve --rolled-back "$BROKEN"
check resolve_rolled_back_again.unchanged \
  "$(sql "SELECT rolled_back_at FROM _prisma_migrations WHERE migration_name = '$BROKEN'")" "$rolled_at"
step resolve_p3011 1 'Error: P3011' "Migration \`$NEVER\` cannot be rolled back because it was never applied" -- \
  migrate resolve --rolled-back "$NEVER"
step resolve_p3012 1 'Error: P3012' 'cannot be rolled back because it is not in a failed state' -- \
  migrate resolve --rolled-back 20250201000000_add_tags
step resolve_applied_p3008 1 'Error: P3008' 'is already recorded as applied' -- \
  migrate resolve --applied 20250201000000_add_tags
step resolve_applied_p3017 1 'Error: P3017' "The migration $NEVER could not be found" -- \
  migrate resolve --applied "$NEVER"
# A rolled-back migration counts as not applied.
step status_rolled_back 1 'have not yet been applied' "$BROKEN" -- migrate status

# --- deploy again without reversing the partial change, then --applied ------
step deploy_p3018_rerun 1 'Error: P3018' 'Database error code: 42701' 'column "mood_note" of relation "Entry" already exists' -- \
  migrate deploy
check deploy_p3018_rerun.rows "$(row "$BROKEN")" "false,true,false,false"
step resolve_applied_ok 0 "Migration $BROKEN marked as applied" -- migrate resolve --applied "$BROKEN"
# The failed row is marked rolled back and a finished row is added.
check resolve_applied_ok.rows "$(row "$BROKEN")" "false,true,false,true,true,false"
step status_after_applied 0 'Database schema is up to date!' -- migrate status

# --- connection errors -----------------------------------------------------
URL=$(helper with-port "$TEST_URL" 1) step status_unreachable 1 'P1001' "Can't reach database server" -- migrate status
BAD_URL=$(helper with-password "$TEST_URL" wrong-password-for-selftest)
if helper sql "$BAD_URL" "SELECT 1" >/dev/null 2>&1; then
  echo "SKIP status_auth_failed (server accepts any password)"
else
  URL=$BAD_URL step status_auth_failed 1 'P1000' 'Authentication failed' -- migrate status
fi

# --- cleanup ----------------------------------------------------------------
[ "${KEEP_DB:-}" = 1 ] || drop_db
cd / && rm -rf "$WORK"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
