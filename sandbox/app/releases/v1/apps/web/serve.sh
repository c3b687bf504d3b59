#!/bin/sh
# PID 1 ignores signals it has no handler for, and BusyBox httpd sets none for SIGTERM,
# so `docker compose stop` would wait 10 s before its SIGKILL. This shell stays PID 1,
# forwards the signal and exits at once.
busybox httpd -f -vv -p 8080 -h /srv/www &
trap 'kill "$!"; exit 0' TERM INT
wait
