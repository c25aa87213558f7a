package main

import (
	"strings"
	"testing"

	"github.com/podfwd/podfwd/internal/topo"
)

// probesAnswer checks what the DaemonSet's probes and a Prometheus scrape
// see on node n when the kernel forwards (encap none, io kernel): healthy,
// ready, and the config in force in the metrics. (That a trace is refused
// with the reason is the admin package's test.)
func probesAnswer(t *testing.T, n *topo.Node) {
	t.Helper()
	for _, path := range []string{"/healthz", "/readyz"} {
		if body, code := httpGetIn(t, n, path); code != 200 {
			t.Errorf("%s on %s: %d %s", path, n.Namespace, code, body)
		}
	}
	metrics, _ := httpGetIn(t, n, "/metrics")
	for _, want := range []string{"podfwd_config_applied 1\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics on %s lack %q:\n%s", n.Namespace, want, linesWith(metrics, "podfwd_config", "podfwd_info", "podfwd_peers"))
		}
	}
}
