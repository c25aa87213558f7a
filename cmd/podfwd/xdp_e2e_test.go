package main

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
)

// The e2e matrix of TestEndToEnd with the underlay on AF_XDP: every encap
// the io carries, IPv4 and IPv6 pods over an IPv4 underlay. Beyond the
// shared checks, the XDP program must be attached while the daemons run,
// the nodes' own traffic (ping, TCP to a port on the node) must still pass
// to the kernel, and SIGTERM must leave no program on the interface.
var xdpMatrix = []e2eCase{
	{"xdp", "vxlan", 8472, false},
	{"xdp", "geneve", 6081, false},
	{"xdp", "ipip", 0, false},
}

func TestEndToEndXDP(t *testing.T) {
	testenv.RequireRoot(t)
	for _, c := range xdpMatrix {
		t.Run(c.name(), func(t *testing.T) {
			tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "x", IPv6: true, PodMTU: 1500})
			var ds []*daemon
			for _, n := range tp.Nodes {
				ds = append(ds, startDaemon(t, n, nodeConfig(tp, n, c.io, c.encap, c.port)))
			}
			defer func() {
				if t.Failed() {
					for _, d := range ds {
						t.Logf("podfwd on %s:\n%s", d.node.Namespace, d.stop(t))
					}
				}
			}()
			for _, n := range tp.Nodes {
				if got := xdpOnUnderlay(t, n); !strings.Contains(got, "prog/xdp") {
					t.Fatalf("no XDP program on %s's %s while podfwd runs:\n%s", n.Namespace, n.UnderlayLink, got)
				}
			}
			pingBothWays(t, tp)
			a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[1]
			transfer(t, a, b, b.IPv4, 64<<20)
			transfer(t, b, a, a.IPv6, 8<<20)
			nodeTrafficPasses(t, tp.Nodes[1], tp.Nodes[0])
			checkTooBig(t, tp, c)
			injectStrangers(t, tp, c)
			for _, n := range tp.Nodes {
				checkConservation(t, n)
			}
			for i, d := range ds {
				log := d.stop(t)
				t.Logf("%s: %s", d.node.Namespace, linesWith(log, "AF_XDP underlay", "counters"))
				if i == 0 {
					for _, want := range []string{"drop.unknown-peer=1", "drop.spoofed-source=1", "xdp counters"} {
						if !strings.Contains(log, want) {
							t.Errorf("node 1's log lacks %s; log:\n%s", want, log)
						}
					}
				}
				if got := xdpOnUnderlay(t, d.node); got != "" {
					t.Errorf("after SIGTERM %s still has XDP on %s:\n%s", d.node.Namespace, d.node.UnderlayLink, got)
				}
			}
		})
	}
}

// nodeTrafficPasses checks that what is not tunnel traffic still reaches
// the kernel of node `to` while its XDP program is attached: a ping of its
// underlay address and a TCP connection to a port on it, from node `from`.
func nodeTrafficPasses(t *testing.T, from, to *topo.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := from.Command(ctx, "ping", "-c", "2", "-i", "0.2", "-W", "2", to.UnderlayIPv4.String()).CombinedOutput(); err != nil {
		t.Errorf("ping of node %s's underlay address: %v\n%s", to.Namespace, err, out)
	}
	var ln net.Listener
	addr := netip.AddrPortFrom(to.UnderlayIPv4, 7007).String()
	if err := to.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- err.Error()
			return
		}
		defer c.Close()
		buf := make([]byte, 16)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := c.Read(buf)
		accepted <- string(buf[:n])
	}()
	err := from.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello node"))
		return err
	})
	if err != nil {
		t.Fatalf("TCP to a port on node %s: %v", to.Namespace, err)
	}
	if got := <-accepted; got != "hello node" {
		t.Errorf("node %s's TCP listener got %q", to.Namespace, got)
	}
}

// linesWith returns the lines of log that contain any of subs.
func linesWith(log string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		for _, s := range subs {
			if strings.Contains(l, s) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
