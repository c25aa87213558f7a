package main

import (
	"strings"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// io xdp over an IPv6 underlay: the program takes tunnel traffic to our
// IPv6 address, frames leave with Ethernet type 0x86DD to the next hop
// neighbour discovery found, and IPv4 and IPv6 pods reach each other.
func TestEndToEndXDPOverIPv6Underlay(t *testing.T) {
	testenv.RequireRoot(t)
	for _, c := range []e2eCase{{"xdp", "vxlan", 8472, false}, {"xdp", "geneve", 6081, false}, {"xdp", "ipip", 0, false}} {
		t.Run(c.encap, func(t *testing.T) {
			tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "x6", IPv6: true})
			var ds []*daemon
			for _, n := range tp.Nodes {
				ds = append(ds, startDaemon(t, n, ipv6UnderlayConfig(tp, n, c)))
			}
			pingBothWays(t, tp)
			a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[1]
			transfer(t, a, b, b.IPv4, 8<<20)
			transfer(t, b, a, a.IPv6, 8<<20)
			for _, n := range tp.Nodes {
				checkConservation(t, n)
			}
			for _, d := range ds {
				log := d.stop(t)
				t.Logf("%s: %s", d.node.Namespace, linesWith(log, "next hop", "counters"))
				if !strings.Contains(log, "underlay=fd99::") {
					t.Errorf("%s: no peer over the IPv6 underlay in the log:\n%s", d.node.Namespace, log)
				}
			}
		})
	}
}

// ipv6UnderlayConfig is nodeConfig with every underlay address, ours and
// the peers', the node's IPv6 one.
func ipv6UnderlayConfig(tp *topo.Topology, self *topo.Node, c e2eCase) string {
	var lines []string
	for _, l := range strings.Split(nodeConfig(tp, self, c.io, c.encap, c.port), "\n") {
		if strings.Contains(l, "underlay6:") {
			continue
		}
		lines = append(lines, l)
	}
	cfg := strings.Join(lines, "\n")
	for _, n := range tp.Nodes {
		cfg = strings.ReplaceAll(cfg, "address: "+n.UnderlayIPv4.String()+"\n", "address: "+n.UnderlayIPv6.String()+"\n")
		cfg = strings.ReplaceAll(cfg, "underlay: "+n.UnderlayIPv4.String()+"\n", "underlay: "+n.UnderlayIPv6.String()+"\n")
	}
	return cfg
}
