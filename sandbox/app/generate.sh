#!/usr/bin/env bash
# Generate the sample LifeTracker git repository used by the sandbox tests.
#
#   sandbox/app/generate.sh DEST
#
# History: one commit per release, each with a lightweight tag; branch main (checked
# out) ends at v4. v5 is on the side branch tag-labels, which starts at v2 (so v1..v4
# and main keep their SHAs).
#   v1  good: entries API, web page, first Prisma migration
#   v2  good: Prisma migration adding table "Tag" and column "Entry"."mood"
#   v3  bad:  /health answers 500 (queries a table that does not exist)
#   v4  bad:  its Prisma migration fails half-way (see its migration.sql)
#   v5  good, after v2: its migration renames "Tag"."name" to "label", which v2's code
#       cannot live with (the migration gate refuses a rollback across it)
#
# Release contents are plain files in releases/: releases/v1 is the full tree, each
# later releases/vN holds only the files that release adds or changes.
#
# Names, dates and git settings are fixed, so the commit SHAs are the same on every
# machine and every run. If DEST already has these tags on these commits, it is left
# alone (whatever is checked out there, and its .env, stay); otherwise it is emptied and
# regenerated. Prints "TAG SHA" lines.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DEST=${1:?usage: generate.sh DEST}

# Ignore the caller's git configuration (hooks, commit signing, autocrlf, templates...).
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Dana Reyes" GIT_AUTHOR_EMAIL="dana@lifetracker.example"
export GIT_COMMITTER_NAME="Dana Reyes" GIT_COMMITTER_EMAIL="dana@lifetracker.example"
export LC_ALL=C TZ=UTC

# release TAG DATE SUBJECT BODY: lay releases/TAG over the work tree, commit, tag.
release() {
	local tag=$1 date=$2 subject=$3 body=$4
	cp -R "$HERE/releases/$tag/." .
	# Git stores only the executable bit: pin it (all 644) so a checkout's modes
	# cannot change the SHAs. Scripts in the app are started through their interpreter.
	find . -path ./.git -prune -o -type f -exec chmod 644 {} +
	git add -A
	GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
		git commit -q -m "$subject" -m "$body"
	git tag "$tag"
}

build() {
	git init -q -b main "$1"
	cd "$1"
	release v1 2025-01-02T09:15:00+00:00 "feat: first release of LifeTracker" \
		"Entries API (GET/POST /entries) with /health reporting the running commit and
database reachability, a static web page, and the Prisma schema with its
initial migration."
	release v2 2025-02-03T14:30:00+00:00 "feat: moods on entries and a tag list" \
		"Migration 20250201000000_add_tags adds the nullable column \"Entry\".\"mood\" and
the table \"Tag\". Entries now carry a mood (1-5); GET /tags lists the tags."
	release v3 2025-02-17T16:45:00+00:00 "feat(api): report the entry count in /health" \
		"Only connection failures now mark the database as unreachable: a query error
is a bug, not an outage."
	release v4 2025-03-03T11:20:00+00:00 "feat: require a mood on every entry, add mood notes" \
		"Migration 20250301000000_entry_mood_required backfills missing moods with 3 and
makes the column required; entries get an optional mood_note.

fix(api): /health counted rows of \"entries\", which does not exist (since v3)."
	git checkout -q -b tag-labels v2
	release v5 2025-03-17T10:00:00+00:00 "feat: tags have labels" \
		"Migration 20250317000000_rename_tag_name renames the column \"Tag\".\"name\" to
\"label\" (and its unique index); GET /tags answers labels."
	git checkout -q main
}

tags() { git -C "$1" for-each-ref --format='%(refname:short) %(objectname)' refs/tags; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(build "$tmp/repo")

want=$(tags "$tmp/repo")

if [ -d "$DEST/.git" ]; then
	have=$(tags "$DEST")  # an unreadable repository stops the script here
	if [ "$have" = "$want" ]; then
		echo "generate.sh: $DEST is up to date" >&2
		echo "$have"
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
echo "$want"
