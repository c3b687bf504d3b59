#!/usr/bin/env bash
# Every plugin and role renders with ansible-doc (DOCUMENTATION/argument_specs complete).
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_COLLECTIONS_PATH="$PWD/.collections"
fail=0
for f in plugins/modules/*.py; do
  [[ -e "$f" ]] || continue
  name="maverick.rollback.$(basename "$f" .py)"
  ansible-doc -t module "$name" >/dev/null || { echo "ansible-doc failed: $name"; fail=1; }
done
for f in plugins/filter/*.py; do
  [[ -e "$f" ]] || continue
  name="maverick.rollback.$(basename "$f" .py)"
  ansible-doc -t filter "$name" >/dev/null || { echo "ansible-doc failed: $name"; fail=1; }
done
for f in plugins/callback/*.py; do
  [[ -e "$f" ]] || continue
  name="maverick.rollback.$(basename "$f" .py)"
  ansible-doc -t callback "$name" >/dev/null || { echo "ansible-doc failed: $name"; fail=1; }
done
for d in roles/*/; do
  name="maverick.rollback.$(basename "$d")"
  ansible-doc -t role "$name" >/dev/null || { echo "ansible-doc failed: $name"; fail=1; }
done
[[ $fail == 0 ]] && echo "ansible-doc: every module, filter, callback and role renders"
exit $fail
