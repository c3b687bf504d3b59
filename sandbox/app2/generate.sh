#!/usr/bin/env bash
# Generate the second sample app's git repository (Ledgerly, a small bookkeeping
# service) used by the sandbox tests.
#
#   sandbox/app2/generate.sh DEST
#
# History: one commit per release, each with an ANNOTATED tag (tag object SHA differs
# from the commit SHA: peel with r1^{commit}); branch production (checked out, the
# default branch) ends at r3.
#   r1  good: entries API, worker heartbeat, proxy, schema/001_init.sql
#   r2  good: schema/002_accounts.sql (table accounts, nullable entries.account_id)
#   r3  bad:  /status answers 500 while the database is up (sums a missing table)
#
# Release contents are plain files in releases/: releases/r1 is the full tree, each
# later releases/rN holds only the files that release adds or changes.
#
# Names, dates and git settings are fixed, so the SHAs are the same on every machine
# and every run. If DEST already has these tags on these objects, it is left alone
# (whatever is checked out there, and its .env, stay); otherwise it is emptied and
# regenerated. Prints "TAG COMMIT-SHA" lines.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DEST=${1:?usage: generate.sh DEST}

# Ignore the caller's git configuration (hooks, commit signing, autocrlf, templates...).
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Priya Natarajan" GIT_AUTHOR_EMAIL="priya@ledgerly.example"
export GIT_COMMITTER_NAME="Priya Natarajan" GIT_COMMITTER_EMAIL="priya@ledgerly.example"
export LC_ALL=C TZ=UTC

# release TAG DATE SUBJECT BODY: lay releases/TAG over the work tree, commit, tag.
release() {
	local tag=$1 date=$2 subject=$3 body=$4
	cp -R "$HERE/releases/$tag/." .
	# Git stores only the executable bit: pin it (all 644) so a checkout's modes
	# cannot change the SHAs.
	find . -path ./.git -prune -o -type f -exec chmod 644 {} +
	git add -A
	GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
		git commit -q -m "$subject" -m "$body"
	# The tagger date comes from GIT_COMMITTER_DATE as well.
	GIT_COMMITTER_DATE=$date git tag -a "$tag" -m "Ledgerly $tag"
}

build() {
	git init -q -b production "$1"
	cd "$1"
	release r1 2025-04-07T08:30:00+00:00 "Ledgerly r1: journal entries, worker, proxy" \
		"HTTP API with GET/POST /entries and /status (build commit, database state);
a worker that writes a heartbeat row every second; a reverse proxy in front of
the API. The app applies schema/001_init.sql itself at start."
	release r2 2025-05-12T13:05:00+00:00 "Ledgerly r2: accounts" \
		"schema/002_accounts.sql adds the table accounts and the nullable column
entries.account_id. GET/POST /accounts; entries may name an account."
	release r3 2025-06-02T17:40:00+00:00 "Ledgerly r3: report the balance in /status" \
		"/status sums the amounts of all entries, a quick sign that the books are
really there."
}

# Tag objects and the commits they point at (a changed tag message regenerates too);
# branches are not compared, so one created in DEST does not get it wiped.
refs() { git -C "$1" for-each-ref --format='%(refname) %(objectname) %(*objectname)' refs/tags; }
tags() { git -C "$1" for-each-ref --format='%(refname:short) %(*objectname)' refs/tags; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(build "$tmp/repo")

if [ -d "$DEST/.git" ]; then
	have=$(refs "$DEST")  # an unreadable repository stops the script here
	if [ "$have" = "$(refs "$tmp/repo")" ]; then
		echo "generate.sh: $DEST is up to date" >&2
		tags "$DEST"
		exit 0
	fi
elif [ -n "$(ls -A "$DEST" 2>/dev/null)" ]; then
	echo "generate.sh: $DEST is not empty and not a git repository; not touching it" >&2
	exit 1
fi

# Empty the directory rather than replace it: DEST may be a bind-mount point.
mkdir -p "$DEST"
find "$DEST" -mindepth 1 -delete
cp -a "$tmp/repo/." "$DEST/"
echo "generate.sh: generated $DEST" >&2
tags "$DEST"
