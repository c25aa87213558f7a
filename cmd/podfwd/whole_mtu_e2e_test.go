package main

import (
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// Pods whose links are smaller than the tunnel MTU (1430 here, the
// topology's room for an IPv6 underlay, against a 1450 tunnel): a
// super-packet delivered whole must still fit the receiving pod's link
// once the node forwards it. With a segment size taken from the tunnel MTU
// every one was refused with frag-needed and the transfer stalled.
func TestWholeSuperPacketsToPodsBelowTheTunnelMTU(t *testing.T) {
	testenv.RequireRoot(t)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "w", IPv6: true})
	if tp.Config.PodMTU >= 1450 {
		t.Fatalf("pod MTU %d: the test needs pods below the tunnel MTU", tp.Config.PodMTU)
	}
	var ds []*daemon
	for _, n := range tp.Nodes {
		ds = append(ds, startDaemon(t, n, nodeConfig(tp, n, "tun", "vxlan", topo.DefaultVXLANPort)))
	}
	a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]
	transfer(t, a, b, b.IPv4, 16<<20)
	transfer(t, b, a, a.IPv6, 8<<20)
	for _, n := range tp.Nodes {
		checkConservation(t, n)
	}
	checkGSOPath(t, e2eCase{"tun", "vxlan", topo.DefaultVXLANPort, false}, ds[0].stop(t), ds[1].stop(t))
}
