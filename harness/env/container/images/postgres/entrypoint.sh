#!/bin/sh
# Makes a cluster in $PGDATA at first start (as the postgres user, trust
# auth: the container is reachable only through a loopback-published port),
# then runs postgres listening on every interface of the container. Extra
# arguments are passed to postgres (e.g. -c fsync=off).
set -e
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
mkdir -p "$PGDATA"
chown postgres:postgres "$PGDATA"
chmod 700 "$PGDATA"
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	as_pg "$BIN/initdb" -D "$PGDATA" -U "${POSTGRES_USER:-postgres}" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
	echo "host all all all trust" >>"$PGDATA/pg_hba.conf"
	echo "edkit-postgres: initialised $PGDATA"
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups \
	"$BIN/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp "$@"
