package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// tightHopMTU is the router's MTU in front of node 1, 100 bytes below the
// links': every tunnel MTU podfwd derives from the 1500-byte underlay is
// too large for the path.
const tightHopMTU = 1400

// pmtuCase is one io × encap × underlay family crossing the tight hop.
type pmtuCase struct {
	e2eCase
	underlay6 bool
}

func (c pmtuCase) name() string {
	if c.underlay6 {
		return c.encap + "-ipv6"
	}
	return c.encap + "-ipv4"
}

// pmtuMatrix holds every io with every encap it carries, over each
// underlay family it supports: tun and udp-process open IPIP only as raw
// IPv4 sockets (no IPv6 underlay), udp-process carries no IPIP.
var pmtuMatrix = map[string][]pmtuCase{
	"tun": {
		{e2eCase{"tun", "vxlan", 8472, false}, false},
		{e2eCase{"tun", "geneve", 6081, false}, false},
		{e2eCase{"tun", "ipip", 0, false}, false},
		{e2eCase{"tun", "vxlan", 8472, false}, true},
		{e2eCase{"tun", "geneve", 6081, false}, true},
	},
	"udp-process": {
		{e2eCase{"udp-process", "vxlan", 8472, false}, false},
		{e2eCase{"udp-process", "geneve", 6081, false}, false},
		{e2eCase{"udp-process", "vxlan", 8472, false}, true},
		{e2eCase{"udp-process", "geneve", 6081, false}, true},
	},
	"xdp": {
		{e2eCase{"xdp", "vxlan", 8472, false}, false},
		{e2eCase{"xdp", "geneve", 6081, false}, false},
		{e2eCase{"xdp", "ipip", 0, false}, false},
		{e2eCase{"xdp", "vxlan", 8472, false}, true},
		{e2eCase{"xdp", "geneve", 6081, false}, true},
		{e2eCase{"xdp", "ipip", 0, false}, true},
	},
}

// newTightHop builds 2 nodes × 1 dual-stack pod with a router of MTU
// tightHopMTU in front of node 1. Each case gets its own: the pods' and
// nodes' kernels remember a learned path MTU, which would let a later
// case pass on an earlier one's ICMP errors.
func newTightHop(t *testing.T, mode topo.Mode) *topo.Topology {
	return topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "m", PodsPerNode: 1, IPv6: true,
		TightHopMTU: tightHopMTU, Mode: mode})
}

// pmtuTransfers moves data both ways between node 1's pod and node 2's,
// with pods whose MTU (1430) is above what the path leaves for the inner
// packet: TCP (DF always set) completes only if the tunnel endpoint
// answers with the path's MTU, or the outer packets are fragmented.
func pmtuTransfers(t *testing.T, tp *topo.Topology) {
	t.Helper()
	a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]
	transfer(t, a, b, b.IPv4, 4<<20)
	transfer(t, b, a, a.IPv6, 4<<20)
	transfer(t, a, b, b.IPv6, 4<<20)
	transfer(t, b, a, a.IPv4, 4<<20)
}

// The kernel's own VXLAN device is the judge: in the same topology a TCP
// transfer completes both ways, over the IPv4 underlay (IPv4 pods) and the
// IPv6 underlay (IPv6 pods).
func TestPathMTUKernelVXLAN(t *testing.T) {
	testenv.RequireRoot(t)
	tp := newTightHop(t, topo.KernelVXLAN)
	pmtuTransfers(t, tp)
	pingWithoutDF(t, tp)
}

// pingWithoutDF pings both ways with full-size IPv4 packets without DF:
// they fit the tunnel but not the path, so something must fragment.
func pingWithoutDF(t *testing.T, tp *topo.Topology) {
	t.Helper()
	a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]
	for _, pair := range [][2]*topo.Pod{{a, b}, {b, a}} {
		if err := topo.Ping(context.Background(), pair[0], pair[1].IPv4, 2, tp.Config.PodMTU-28, false); err != nil {
			t.Errorf("full-size ping without DF: %v", err)
		}
	}
}

// Path MTU discovery across a hop tighter than the underlay links, for
// every io, encap and underlay family podfwd carries (issue 13, item 3).
func TestPathMTUAcrossTightHop(t *testing.T) {
	testenv.RequireRoot(t)
	for _, io := range []string{"tun", "udp-process", "xdp"} {
		t.Run(io, func(t *testing.T) {
			for _, c := range pmtuMatrix[io] {
				t.Run(c.name(), func(t *testing.T) {
					tp := newTightHop(t, topo.Unprogrammed)
					var ds []*daemon
					for _, n := range tp.Nodes {
						cfg := c.config(tp, n)
						if c.underlay6 {
							cfg = ipv6UnderlayConfig(tp, n, c.e2eCase)
						}
						ds = append(ds, startDaemon(t, n, cfg))
					}
					defer func() {
						if t.Failed() {
							for _, d := range ds {
								t.Logf("podfwd on %s: %s", d.node.Namespace, linesWith(d.stop(t), "counters", "path MTU", "WARN", "ERROR"))
							}
							for _, p := range []*topo.Pod{tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]} {
								out, _ := p.Command(context.Background(), "ip", "route", "show", "cache").CombinedOutput()
								out6, _ := p.Command(context.Background(), "ip", "-6", "route", "show", "cache").CombinedOutput()
								t.Logf("pod %s route cache: %s%s", p.Namespace, out, out6)
							}
						}
					}()
					pmtuTransfers(t, tp)
					// The path's MTU is known by now: the kernel's sockets
					// fragment the outer packet, xdp io (no kernel behind
					// its frames) fragments the inner one.
					pingWithoutDF(t, tp)
					for _, n := range tp.Nodes {
						checkConservation(t, n)
					}
					// The transfers must have completed because podfwd
					// learned the path and answered the pods, not because
					// something fragmented the outer packets.
					peers := []netip.Addr{tp.Nodes[1].UnderlayIPv4, tp.Nodes[0].UnderlayIPv4}
					if c.underlay6 {
						peers = []netip.Addr{tp.Nodes[1].UnderlayIPv6, tp.Nodes[0].UnderlayIPv6}
					}
					for i, d := range ds {
						body, _ := httpGetIn(t, d.node, "/metrics")
						if want := fmt.Sprintf("podfwd_path_mtu_bytes{underlay=%q} %d\n", peers[i], tightHopMTU); !strings.Contains(body, want) {
							t.Errorf("podfwd on %s: /metrics lacks %s", d.node.Namespace, strings.TrimSpace(want))
						}
						log := d.stop(t)
						want := fmt.Sprintf("msg=\"path MTU learned\" peer=%s mtu=%d", peers[i], tightHopMTU)
						if !strings.Contains(log, want) {
							t.Errorf("podfwd on %s did not log %s", d.node.Namespace, want)
						}
						if n, _ := logCounter(log, "drop.path-too-big"); n == 0 {
							t.Errorf("podfwd on %s answered no packet as path-too-big: %s", d.node.Namespace, linesWith(log, "counters"))
						}
					}
				})
			}
		})
	}
}

// IPv4 without DF as the first traffic across the tight hop, before any
// path MTU is known. The kernel's UDP and raw sockets set DF on every
// outer packet (IP_PMTUDISC_WANT), and so does xdp io on its frames: the
// router refuses the first one, the path is learned, and from then on the
// kernel fragments the outer packets (tun, udp-process) or podfwd the
// inner ones (xdp, which has no kernel to fragment its frames).
func TestPathMTUWithoutDFFirst(t *testing.T) {
	testenv.RequireRoot(t)
	for _, io := range []string{"tun", "udp-process", "xdp"} {
		t.Run(io, func(t *testing.T) {
			tp := newTightHop(t, topo.Unprogrammed)
			for _, n := range tp.Nodes {
				startDaemon(t, n, nodeConfig(tp, n, io, "vxlan", 8472))
			}
			pingWithoutDF(t, tp)
		})
	}
}
