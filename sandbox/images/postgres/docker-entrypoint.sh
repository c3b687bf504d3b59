#!/bin/bash
# Entrypoint compatible with the official postgres image for what the sandbox needs:
#   POSTGRES_USER (default postgres)   superuser created by initdb
#   POSTGRES_PASSWORD (required)       its password, scram-sha-256
#   POSTGRES_DB (default $POSTGRES_USER)  database created on first start
#   /docker-entrypoint-initdb.d/*.sql|*.sh  run once, after the database is created
# The data directory ($PGDATA) is initialised only when it holds no cluster yet, so a
# volume keeps its data across container re-creation.
set -Eeuo pipefail

# `docker run IMAGE -c foo=bar` means `postgres -c foo=bar`, as in the official image.
if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" != 'postgres' ]; then
	exec "$@"
fi

# Root only prepares directories, then re-runs this script as user postgres:
# PostgreSQL refuses to run as root. setpriv execs (no extra process stays around),
# so postgres ends up as PID 1 and receives `docker stop`'s signal directly.
if [ "$(id -u)" = '0' ]; then
	mkdir -p "$PGDATA"
	chown postgres:postgres "$PGDATA"
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "${POSTGRES_PASSWORD:-}" ]; then
		echo >&2 'error: database is uninitialized and POSTGRES_PASSWORD is not set'
		exit 1
	fi
	echo "initialising database cluster in $PGDATA"
	# The password goes through a file descriptor, never argv (visible in ps).
	# Local (socket) connections are trusted, as in the official image, so
	# `docker compose exec postgres psql -U <user>` works; TCP needs the password.
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
		--encoding=UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=scram-sha-256 >/dev/null
	{
		echo
		echo '# added by docker-entrypoint.sh: accept password logins from any address'
		echo 'host all all all scram-sha-256'
	} >> "$PGDATA/pg_hba.conf"
	echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"

	# Temporary server on the Unix socket only: nothing outside the container can
	# connect (and the TCP healthcheck stays red) until setup is complete.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
	psql=(psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --no-password)
	if [ "$POSTGRES_DB" != 'postgres' ]; then
		# Through stdin: psql expands :"db" (quoted identifier) there, not in -c.
		echo 'CREATE DATABASE :"db";' | "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB"
	fi
	shopt -s nullglob
	for f in /docker-entrypoint-initdb.d/*; do
		# shellcheck disable=SC1090  # the user's scripts, sourced as in the official image
		case "$f" in
			*.sh)  echo "running $f"; . "$f" ;;
			*.sql) echo "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
			*)     echo "ignoring $f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	echo 'initialisation complete; starting server'
fi

exec "$@"
