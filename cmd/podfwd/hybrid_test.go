package main

import (
	"context"
	"strings"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// Hybrid on one L2 underlay: every peer is on our subnet, so pods talk
// over native routes via the peers and nothing goes through the TUN.
func TestHybridEndToEnd(t *testing.T) {
	testenv.RequireRoot(t)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "h"})
	for _, n := range tp.Nodes {
		d := startDaemon(t, n, nodeConfig(tp, n, "tun", "vxlan", 8472)+"hybrid: true\n")
		if !strings.Contains(d.log.String(), "tunnelled=0") {
			t.Errorf("%s: peers on the same subnet were tunnelled:\n%s", n.Namespace, d.log)
		}
	}
	pingBothWays(t, tp)
	out, err := tp.Nodes[0].Command(context.Background(), "ip", "route", "show", "proto", "157").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if want := "10.244.2.0/24 via 10.99.0.2"; !strings.Contains(string(out), want) {
		t.Errorf("node 1's routes %q lack %q", out, want)
	}
	transfer(t, tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0], tp.Nodes[1].Pods[0].IPv4, 16<<20)
}
