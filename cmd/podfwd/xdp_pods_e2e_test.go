package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
	"github.com/vishvananda/netlink"
)

// xdp.pods: AF_XDP sockets on the pods' host-side veths as well as on the
// underlay. Once the daemons have found the pods (their first packets take
// the TUN, which makes the kernel learn them), pod-to-pod traffic between
// nodes must never touch the TUN on either node — the TUN's own packet
// counters, read from the kernel, are the judge — and must arrive intact;
// after SIGTERM no program is left on any pod veth.
func TestEndToEndXDPPods(t *testing.T) {
	testenv.RequireRoot(t)
	for _, c := range []e2eCase{{"xdp", "vxlan", 8472, false}, {"xdp", "geneve", 6081, false}, {"xdp", "ipip", 0, false}} {
		t.Run(c.name(), func(t *testing.T) {
			tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "xp", IPv6: true, PodMTU: 1500})
			var ds []*daemon
			for _, n := range tp.Nodes {
				ds = append(ds, startDaemon(t, n, nodeConfig(tp, n, c.io, c.encap, c.port)+"xdp:\n  pods: true\n"))
			}
			defer func() {
				if t.Failed() {
					for _, d := range ds {
						t.Logf("podfwd on %s:\n%s", d.node.Namespace, d.stop(t))
					}
				}
			}()
			// A pod's first packet resolves its gateway, and the node
			// learns the pod from that ARP / neighbour solicitation.
			for _, p := range tp.Pods() {
				for _, gw := range []netip.Addr{p.Node.GatewayV4, p.Node.GatewayV6} {
					if err := topo.Ping(context.Background(), p, gw, 1, 56, false); err != nil {
						t.Fatalf("pod %s pings its gateway %s: %v", p.Namespace, gw, err)
					}
				}
			}
			for _, n := range tp.Nodes {
				waitPodVethsServed(t, n)
			}
			before := tunPackets(t, tp)
			pingBothWays(t, tp)
			a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[1]
			transfer(t, a, b, b.IPv4, 64<<20)
			transfer(t, b, a, a.IPv6, 8<<20)
			after := tunPackets(t, tp)
			for _, n := range tp.Nodes {
				checkConservation(t, n)
			}
			t.Logf("TUN packets during the pod traffic: node 1 %d, node 2 %d", after[0]-before[0], after[1]-before[1])
			for i := range before {
				// With xdp.pods off, the same traffic put 2,686 and 4,040
				// packets (GSO super-packets) through the two TUNs; with it
				// on, 0-2 TUN packets per node were seen over
				// three encaps (go test -run TestEndToEndXDPPods -v
				// ./cmd/podfwd/, 2 cores shared with other test runs; what
				// they were was not captured). The bound leaves room for a
				// few more such stragglers, not for a path that is not used.
				if d := after[i] - before[i]; d > maxTUNDuringBypass {
					t.Errorf("node %d's TUN carried %d packets during pod-to-pod traffic: the direct path was not used", i+1, d)
				}
			}
			nodeTrafficPasses(t, tp.Nodes[1], tp.Nodes[0])
			metrics, _ := httpGetIn(t, tp.Nodes[0], "/metrics")
			for _, want := range []string{"podfwd_xdp_pod_veths 2", "podfwd_xdp_pod_routes 4", "podfwd_xdp_pod_undelivered_total 0"} {
				if !strings.Contains(metrics, want+"\n") {
					t.Errorf("node 1's metrics lack %q:\n%s", want, linesWith(metrics, "podfwd_xdp_pod"))
				}
			}
			if c.encap == "vxlan" {
				podLeaves(t, tp, ds[0])
			}
			for _, d := range ds {
				log := d.stop(t)
				t.Logf("%s: %s", d.node.Namespace, linesWith(log, "pod veth", "counters"))
				for _, p := range d.node.Pods {
					if got := xdpOn(t, d.node, p.HostVeth); got {
						t.Errorf("after SIGTERM %s still has an XDP program on %s", d.node.Namespace, p.HostVeth)
					}
				}
			}
		})
	}
}

// maxTUNDuringBypass bounds the packets a node's TUN may carry while its
// pods' traffic to the other node takes the AF_XDP path.
const maxTUNDuringBypass = 10

// podLeaves deletes pod 2's veth on node 1 as a CNI DEL would: the daemon
// lets go of it, keeps serving pod 1, and its reader does not spin on the
// dead socket.
func podLeaves(t *testing.T, tp *topo.Topology, d *daemon) {
	t.Helper()
	n := tp.Nodes[0]
	ctx := context.Background()
	if out, err := n.Command(ctx, "ip", "link", "del", n.Pods[1].HostVeth).CombinedOutput(); err != nil {
		t.Fatalf("delete %s: %v: %s", n.Pods[1].HostVeth, err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(d.log.String(), "pod veth no longer served") {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not let go of the deleted veth within 5 s:\n%s", d.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := topo.Ping(ctx, n.Pods[0], tp.Nodes[1].Pods[0].IPv4, 3, 56, false); err != nil {
		t.Errorf("pod 1 after pod 2 left: %v", err)
	}
	metrics, _ := httpGetIn(t, n, "/metrics")
	if !strings.Contains(metrics, "podfwd_xdp_pod_veths 1\n") {
		t.Errorf("after pod 2 left, metrics say:\n%s", linesWith(metrics, "podfwd_xdp_pod"))
	}
}

// waitPodVethsServed waits until every pod veth of n has an XDP program.
func waitPodVethsServed(t *testing.T, n *topo.Node) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range n.Pods {
		for !xdpOn(t, n, p.HostVeth) {
			if time.Now().After(deadline) {
				t.Fatalf("%s's pod veth %s has no XDP program 10 s after its pod talked", n.Namespace, p.HostVeth)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// xdpOn reports whether an XDP program is attached to link in n (false
// when the link is gone).
func xdpOn(t *testing.T, n *topo.Node, link string) bool {
	t.Helper()
	var on bool
	if err := n.Do(func() error {
		l, err := netlink.LinkByName(link)
		if _, gone := err.(netlink.LinkNotFoundError); gone {
			return nil
		}
		if err != nil {
			return err
		}
		on = l.Attrs().Xdp != nil && l.Attrs().Xdp.Attached
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return on
}

// tunPackets returns each node's TUN rx+tx packet count as the kernel
// counts it.
func tunPackets(t *testing.T, tp *topo.Topology) []uint64 {
	t.Helper()
	var out []uint64
	for _, n := range tp.Nodes {
		var c uint64
		if err := n.Do(func() error {
			l, err := netlink.LinkByName("podfwd0")
			if err != nil {
				return err
			}
			s := l.Attrs().Statistics
			if s == nil {
				return fmt.Errorf("no statistics for podfwd0")
			}
			c = s.RxPackets + s.TxPackets
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}
