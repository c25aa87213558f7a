package main

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/podfwd/podfwd/control"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

func TestHybridSplit(t *testing.T) {
	cfg := &dataplane.Config{Peers: []dataplane.Peer{
		{Name: "near", Underlay: netip.MustParseAddr("10.99.0.2"), PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24")}},
		{Name: "far", Underlay: netip.MustParseAddr("10.98.0.3"), PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.3.0/24")}},
	}}
	plan := &routePlan{log: slog.Default(), tunIndex: 7, direct: netip.MustParsePrefix("10.99.0.0/24")}
	engineCfg, routes := plan.split(cfg)
	if len(engineCfg.Peers) != 1 || engineCfg.Peers[0].Name != "far" {
		t.Fatalf("engine peers %+v, want only the peer off our subnet", engineCfg.Peers)
	}
	if len(cfg.Peers) != 2 {
		t.Fatal("split changed the caller's config")
	}
	want := map[control.Route]bool{
		{Dst: netip.MustParsePrefix("10.244.3.0/24"), LinkIndex: 7}:                              true,
		{Dst: netip.MustParsePrefix("10.244.2.0/24"), Gateway: netip.MustParseAddr("10.99.0.2")}: true,
	}
	if len(routes) != 2 || !want[routes[0]] || !want[routes[1]] {
		t.Fatalf("routes %+v", routes)
	}
	off := &routePlan{log: slog.Default(), tunIndex: 7}
	if e, r := off.split(cfg); len(e.Peers) != 2 || len(r) != 2 || r[0].LinkIndex != 7 || r[1].LinkIndex != 7 {
		t.Fatalf("without hybrid every peer is tunnelled: %+v %+v", e.Peers, r)
	}
}

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
