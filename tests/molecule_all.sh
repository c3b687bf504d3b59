#!/usr/bin/env bash
# Every Molecule scenario, MOLECULE_JOBS at a time (default 3): the scenarios
# spend most of their time waiting on containers, health gates and dumps, so
# three streams on this 2-core machine take 25 min where one takes about 60.
# Scenarios are independent: each has its own server container, Compose project and ports.
# Longest first, so the streams end together. One log per scenario under
# .sandbox/molecule/; the failed tests are repeated at the end because CI
# keeps only the tail of the output.
#   bash tests/molecule_all.sh            # all scenarios
#   bash tests/molecule_all.sh deploy     # some
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
JOBS="${MOLECULE_JOBS:-3}"
LOGS=.sandbox/molecule
# Longest first (seconds, three streams, nothing else running, 2026-12-07):
# fleet 1145, deploy 728, db_backup_restore 699, ledgerly 563, migration_resolve
# 457, quick_rollback 451, emergency_restart 293, ecosystem 226, github_redeploy
# 193, health_check 138 (1665 s wall). CI's machine ran the same suite about
# 1.9x slower. The run is CPU-bound (docs/performance.md, "What one task costs"):
# a fourth stream would not shorten it.
# A scenario not listed here runs last.
ORDER=(fleet db_backup_restore deploy ledgerly quick_rollback migration_resolve
       emergency_restart ecosystem github_redeploy health_check)

scenarios() {
  local s
  if (($#)); then printf '%s\n' "$@"; return; fi
  for s in "${ORDER[@]}"; do [[ -f molecule/$s/molecule.yml ]] && echo "$s"; done
  for s in molecule/*/molecule.yml; do
    s=$(basename "$(dirname "$s")")
    [[ " ${ORDER[*]} " == *" $s "* ]] || echo "$s"
  done
}

# One scenario: its log, its exit code and its time in $LOGS/<scenario>.result.
run_one() {
  local s=$1 t0=$SECONDS rc
  echo "[molecule] $s: started"
  # The lock keeps two runs of one scenario on this machine apart (same
  # container names and ports): a developer's run and this one.
  flock "/tmp/molecule-$s.lock" molecule test -s "$s" >"$LOGS/$s.log" 2>&1
  rc=$?
  echo "$rc $((SECONDS - t0))" >"$LOGS/$s.result"
  echo "[molecule] $s: $([[ $rc == 0 ]] && echo passed || echo FAILED) in $((SECONDS - t0))s"
}
export -f run_one
export LOGS

mkdir -p "$LOGS"
rm -f "$LOGS"/*.result
t0=$SECONDS
scenarios "$@" | xargs -P "$JOBS" -I{} bash -c 'run_one "$@"' _ {}

failed=()
for f in "$LOGS"/*.result; do
  s=$(basename "$f" .result)
  read -r rc secs <"$f"
  printf '[molecule] %-20s %s %5ss\n' "$s" "$([[ $rc == 0 ]] && echo ok || echo FAILED)" "$secs"
  [[ $rc == 0 ]] || failed+=("$s")
done
echo "[molecule] wall ${JOBS} streams: $((SECONDS - t0))s"
if ((${#failed[@]})); then
  for s in "${failed[@]}"; do
    echo "[molecule] $s failed (log: $LOGS/$s.log):"
    # Molecule boxes its output ("  │ ") and wraps it at 80 columns (continuation lines
    # indented two more): unwrap, then pick pytest's summary lines (FAILED <path>::<test>).
    sed 's/\x1b\[[0-9;]*m//g; s/^  │ //' "$LOGS/$s.log" |
      awk 'NR > 1 && /^  [^ ]/ {sub(/^  /, ""); line = line $0; next} NR > 1 {print line} {line = $0} END {print line}' \
      >"$LOGS/$s.plain"
    grep -aoE '^(FAILED|ERROR) ?[^ ]*tests/[^ ]+' "$LOGS/$s.plain" | sed -E 's/^(FAILED|ERROR) ?/\1 /' | sort -u
    grep -aoE '^E +.*(Error|assert).*|CRITICAL .*|fatal: .*' "$LOGS/$s.plain" | cut -c1-300 | tail -10
  done
  exit 1
fi
