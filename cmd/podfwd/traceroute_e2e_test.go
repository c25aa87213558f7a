package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// traceroute from a pod on node 1 to a pod on node 2, with the real tool,
// shows the hops the kernel's own datapaths show: node 1, node 2 (its
// kernel's time-exceeded, from its underlay address or a pod-network
// address, crosses the overlay back; issue 13 item 3), and the pod —
// IPv4 and IPv6, in every io.
func TestTracerouteAcrossNodes(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "traceroute")
	for _, c := range []e2eCase{
		{"tun", "vxlan", 8472, false},
		{"tun", "geneve", 6081, false},
		{"tun", "ipip", 0, false},
		{"udp-process", "vxlan", 8472, false},
		{"xdp", "vxlan", 8472, false},
	} {
		t.Run(c.name(), func(t *testing.T) {
			tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "tr", IPv6: true})
			for _, n := range tp.Nodes {
				d := startDaemon(t, n, c.config(tp, n))
				defer d.stop(t)
			}
			a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]
			pingBothWays(t, tp)
			for _, v6 := range []bool{false, true} {
				dst, flag := b.IPv4.String(), "-4"
				if v6 {
					dst, flag = b.IPv6.String(), "-6"
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				out, err := a.Command(ctx, "traceroute", flag, "-n", "-q", "1", "-w", "2", "-m", "6", dst).CombinedOutput()
				cancel()
				if err != nil {
					t.Fatalf("traceroute %s: %v\n%s", dst, err, out)
				}
				hops := strings.Split(strings.TrimSpace(string(out)), "\n")[1:]
				if len(hops) != 3 {
					t.Fatalf("traceroute %s: %d hops, want 3 (node 1, node 2, the pod):\n%s", dst, len(hops), out)
				}
				for i, h := range hops {
					if strings.Contains(h, "*") {
						t.Errorf("traceroute %s: hop %d unanswered:\n%s", dst, i+1, out)
					}
				}
				addr := func(i int) string {
					if f := strings.Fields(hops[i]); len(f) >= 2 {
						return f[1]
					}
					return ""
				}
				// Hop 2 is node 2's kernel, never node 1 again: podfwd
				// forwards a packet whose TTL the next node must take.
				if addr(2) != dst || addr(1) == addr(0) || addr(1) == dst {
					t.Errorf("traceroute %s: hops %s, %s, %s; want node 1, node 2, the pod", dst, addr(0), addr(1), addr(2))
				}
				t.Logf("traceroute %s:\n%s", dst, out)
			}
		})
	}
}
