// Package admin is podfwd's operator interface: an HTTP API on a unix
// socket that only root may use (the socket is mode 0600 and every
// connection's SO_PEERCRED uid is checked), serving live packet traces,
// what-if simulations and status; and an HTTP listener for Prometheus
// metrics, /healthz and /readyz. Metrics are read from the engine's atomic
// counters at scrape time, so forwarding pays nothing for them.
package admin
