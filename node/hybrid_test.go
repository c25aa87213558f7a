package node

import (
	"log/slog"
	"net/netip"
	"testing"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/hostnet"
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
	want := map[hostnet.Route]bool{
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
