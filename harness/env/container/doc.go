// Package container is edkit's container provider: it runs brokers (Kafka,
// RabbitMQ, Redis, NATS JetStream, PostgreSQL) as Docker containers through
// testcontainers-go and hands back env.Component handles with real fault
// capabilities (stop, kill, restart, pause, network partition, logs).
//
// Images: by default the official images at pinned tags (redis:7.2.5,
// postgres:16.4, nats:2.10.18, rabbitmq:3.13.7, apache/kafka:3.8.0), for
// machines that can pull them. EDKIT_IMAGES=local in the environment, the
// LocalImages option, or a spec Image beginning with "edkit/" selects the
// local set instead (edkit/<kind>:local), which `make images`
// (images/build.sh) builds offline from Debian packages and from edkit's
// own kfake binary.
//
// Every container publishes its port 1:1 on a free port of 127.0.0.1 chosen
// before it starts, so a restarted container keeps its address (Kafka
// advertises it to clients). Containers carry the labels
// dev.edkit.managed=true, dev.edkit.owner-pid and dev.edkit.owner-host; New
// removes those whose owner process on this host is gone (a crashed earlier
// run) and never touches other containers.
//
// The Ryuk reaper of testcontainers is disabled (its image is usually not
// available offline): New (through Prepare) sets
// TESTCONTAINERS_RYUK_DISABLED=true and TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1
// unless they are already set, and every handle removes its container (and
// its anonymous volumes) on Close. A partition is a docker network
// disconnect: through Docker's userland proxy, clients see refused and
// reset connections rather than silent drops.
package container
