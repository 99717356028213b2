// Package process is the env provider that runs Debian's own servers —
// redis-server, PostgreSQL, nats-server, rabbitmq-server — as child
// processes of the test or run, so integration tests talk to the real thing
// without Docker.
//
// Each instance lives in its own temp dir (edkit-<kind>-*) and listens on
// free 127.0.0.1 ports; it is never the machine's system service, and Close
// removes both the processes and the dir. Every child runs in its own
// process group with a parent-death signal, so a crashed test binary does
// not leave servers behind. When edkit runs as root the servers run as
// their package's system user (initdb refuses root).
//
// Handles implement env.Stopper, env.Killer, env.Restarter, env.Pauser and
// env.LogSource on top of env.Component, so chaos code can bounce, kill and
// freeze brokers by signal.
package process
