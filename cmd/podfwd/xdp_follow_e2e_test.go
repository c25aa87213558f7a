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
)

// io xdp starts while a peer's underlay interface is down: the peer is
// named unresolved, frames to it are dropped as neighbour-unresolved, and
// once the interface is up the running daemon resolves it by itself and
// pods reach each other without a restart.
func TestXDPStartsWithPeerDownAndFollowsItUp(t *testing.T) {
	testenv.RequireRoot(t)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "fu", PodMTU: 1450})
	a, b := tp.Nodes[0], tp.Nodes[1]
	ipCmd(t, b, "link", "set", "dev", b.UnderlayLink, "down")
	da := startDaemon(t, a, nodeConfig(tp, a, "xdp", "vxlan", 8472))
	if !strings.Contains(da.log.String(), "next hop unresolved") && !strings.Contains(da.log.String(), "has no next hop") ||
		!strings.Contains(da.log.String(), "peer="+b.Namespace) {
		t.Fatalf("node 1 did not name node 2 unresolved at the start:\n%s", da.log)
	}
	if err := topo.Ping(context.Background(), a.Pods[0], b.Pods[0].IPv4, 2, 56, false); err == nil {
		t.Fatal("a ping to a node whose interface is down was answered")
	}

	ipCmd(t, b, "link", "set", "dev", b.UnderlayLink, "up")
	waitLog(t, da, 25*time.Second, "peer next hop resolved", "peer="+b.Namespace)
	db := startDaemon(t, b, nodeConfig(tp, b, "xdp", "vxlan", 8472))
	pingUntil(t, a.Pods[0], b.Pods[0].IPv4, 10*time.Second)
	pingUntil(t, b.Pods[0], a.Pods[0].IPv4, 10*time.Second)
	transfer(t, a.Pods[0], b.Pods[0], b.Pods[0].IPv4, 8<<20)

	logA := da.stop(t)
	db.stop(t)
	t.Logf("node 1: %s", linesWith(logA, "next hop", "counters"))
	if !strings.Contains(logA, "drop.neighbour-unresolved=") {
		t.Errorf("node 1 counted no neighbour-unresolved drops for the pings sent while node 2 was down:\n%s", logA)
	}
}

// A next hop's MAC changes (a NIC replaced): the node announces it (a
// gratuitous ARP or an unsolicited neighbour advertisement, as
// arp_notify/ndisc_notify make the kernel send), the peer's daemon
// installs the new MAC, the node's own daemon its new source MAC, and
// pods keep reaching each other; over an IPv4 and an IPv6 underlay.
func TestXDPFollowsAPeersNewMAC(t *testing.T) {
	testenv.RequireRoot(t)
	for _, v6 := range []bool{false, true} {
		name := map[bool]string{false: "ipv4-underlay", true: "ipv6-underlay"}[v6]
		t.Run(name, func(t *testing.T) {
			tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "fm", IPv6: v6, PodMTU: 1400})
			a, b := tp.Nodes[0], tp.Nodes[1]
			config, bAddr, notify := nodeConfig, b.UnderlayIPv4, "net.ipv4.conf."+b.UnderlayLink+".arp_notify=1"
			if v6 {
				config = func(tp *topo.Topology, n *topo.Node, io, encap string, port int) string {
					return ipv6UnderlayConfig(tp, n, e2eCase{io, encap, port, false})
				}
				bAddr, notify = b.UnderlayIPv6, "net.ipv6.conf."+b.UnderlayLink+".ndisc_notify=1"
			}
			da := startDaemon(t, a, config(tp, a, "xdp", "vxlan", 8472))
			db := startDaemon(t, b, config(tp, b, "xdp", "vxlan", 8472))
			pingBothWays(t, tp)

			const newMAC = "02:42:ac:11:00:b2"
			ipCmd(t, b, "sysctl", "-qw", notify)
			ipCmd(t, b, "link", "set", "dev", b.UnderlayLink, "address", newMAC)
			waitLog(t, db, 10*time.Second, "underlay interface MAC changed", "new="+newMAC)
			waitLog(t, da, 10*time.Second, "peer next hop MAC changed", "peer="+b.Namespace, "new="+newMAC)
			if out := ipOut(t, a, "neigh", "show", bAddr.String(), "dev", a.UnderlayLink); !strings.Contains(out, newMAC) {
				t.Errorf("node 1's neighbour entry for node 2: %q, want %s", out, newMAC)
			}
			pingUntil(t, a.Pods[0], b.Pods[0].IPv4, 10*time.Second)
			pingUntil(t, b.Pods[0], a.Pods[0].IPv4, 10*time.Second)
			transfer(t, b.Pods[0], a.Pods[0], a.Pods[0].IPv4, 8<<20)
			t.Logf("node 1: %s", linesWith(da.stop(t), "next hop", "MAC"))
			t.Logf("node 2: %s", linesWith(db.stop(t), "next hop", "MAC"))
		})
	}
}

// The safety net: a next hop changes its MAC and tells nobody (no
// gratuitous ARP, no podfwd on it to ask for us). The kernel never sees
// our frames, so only the follower's periodic re-confirmation of STALE
// entries finds out: the old MAC stops answering, the entry fails, the
// next hop is asked for again and resolves to the new MAC. Node 1's
// kernel is told to let entries go STALE and probe quickly; the recheck
// (30 s) bounds the wait. (On a busy machine the kernel may drop the STALE
// entry sooner in garbage collection, the neighbour table being shared by
// all namespaces; the follower then asks afresh and finds the new MAC
// earlier, by the same path.) Pod traffic must then flow.
func TestXDPRevalidatesASilentNextHop(t *testing.T) {
	testenv.RequireRoot(t)
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "fs", PodMTU: 1450})
	a, b := tp.Nodes[0], tp.Nodes[1]
	ipCmd(t, a, "sysctl", "-qw", "net.ipv4.neigh."+a.UnderlayLink+".base_reachable_time_ms=1000",
		"net.ipv4.neigh."+a.UnderlayLink+".delay_first_probe_time=1")
	da := startDaemon(t, a, nodeConfig(tp, a, "xdp", "vxlan", 8472))
	waitLog(t, da, 5*time.Second, "peer next hop resolved", "peer="+b.Namespace)

	const newMAC = "02:42:ac:11:00:b3"
	ipCmd(t, b, "link", "set", "dev", b.UnderlayLink, "address", newMAC)
	waitLog(t, da, 50*time.Second, "peer next hop resolved", "peer="+b.Namespace, "mac="+newMAC)
	// The log is not the judge: node 1's frames must now reach node 2
	// under its new MAC. Node 2 runs tun io, which sends nothing before
	// this ping and never asks for node 1's MAC, so it stayed silent.
	startDaemon(t, b, nodeConfig(tp, b, "tun", "vxlan", 8472))
	if err := topo.Ping(context.Background(), a.Pods[0], b.Pods[0].IPv4, 3, 56, false); err != nil {
		t.Errorf("pod traffic after the next hop's MAC changed: %v", err)
	}
	t.Logf("node 1: %s", linesWith(da.stop(t), "next hop"))
}

// ipCmd runs a command (ip by default) in node's namespace and fails t
// on error.
func ipCmd(t *testing.T, n *topo.Node, args ...string) {
	t.Helper()
	ipOut(t, n, args...)
}

func ipOut(t *testing.T, n *topo.Node, args ...string) string {
	t.Helper()
	name := "ip"
	if args[0] == "sysctl" {
		name, args = args[0], args[1:]
	}
	out, err := n.Command(context.Background(), name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v in %s: %v\n%s", name, args, n.Namespace, err, out)
	}
	return string(out)
}

// waitLog waits until one line of d's log holds every one of subs.
func waitLog(t *testing.T, d *daemon, timeout time.Duration, subs ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range strings.Split(d.log.String(), "\n") {
			if containsAll(line, subs) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("podfwd on %s logged no line with %q within %v:\n%s", d.node.Namespace, subs, timeout, d.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// pingUntil pings dst from pod until one round of echoes is answered or
// timeout passes.
func pingUntil(t *testing.T, from *topo.Pod, dst netip.Addr, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		if err = topo.Ping(ctx, from, dst, 2, 56, false); err == nil {
			return
		}
	}
	t.Fatalf("%s -> %s not answered within %v: %v", from.Namespace, dst, timeout, fmt.Sprint(err))
}
