#!/bin/sh
# Runs redis-server as the redis user, listening on every interface of the
# container (the harness reaches it only through a port published on
# 127.0.0.1), with its data in /data. Extra arguments are passed to
# redis-server (e.g. --appendonly yes --appendfsync always).
set -e
mkdir -p /data
chown redis:redis /data
exec setpriv --reuid=redis --regid=redis --init-groups \
	redis-server --bind 0.0.0.0 --protected-mode no --port 6379 --dir /data --save '' "$@"
