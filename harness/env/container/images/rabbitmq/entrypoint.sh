#!/bin/sh
# Runs rabbitmq-server as the rabbitmq user with node name rabbit@localhost,
# so a restarted container finds its own mnesia directory again.
set -e
mkdir -p /var/lib/rabbitmq /var/log/rabbitmq
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
	/usr/lib/rabbitmq/bin/rabbitmq-server "$@"
