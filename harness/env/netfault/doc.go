// Package netfault puts network faults in front of any endpoint: latency,
// bandwidth limits, stalls, connection resets and partitions. It embeds
// Toxiproxy (github.com/Shopify/toxiproxy/v2) as a library, so there is no
// toxiproxy-server to install and no HTTP API to reach: a Proxies value owns
// an in-process Toxiproxy server and every Proxy listens on a free
// 127.0.0.1 port, forwarding to one upstream address.
//
// Clients must be given Proxy.Addr instead of the upstream address. Brokers
// that advertise their own address (Kafka) must advertise the proxy's
// address instead, or clients bypass the proxy after the first metadata
// request; the embedded provider does this for kfake.
package netfault
