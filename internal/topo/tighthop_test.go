package topo

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
)

// nodePing pings to from node n with count echoes of size bytes, DF or not,
// and optionally a TTL; it returns ping's output and error.
func nodePing(ctx context.Context, n *Node, to netip.Addr, size int, df bool, ttl int) (string, error) {
	pmtu := "dont"
	if df {
		pmtu = "do"
	}
	args := []string{"-n", "-c", "1", "-W", "2", "-s", strconv.Itoa(size), "-M", pmtu}
	if ttl > 0 {
		args = append(args, "-t", strconv.Itoa(ttl))
	}
	out, err := n.Command(ctx, "ping", append(args, to.String())...).CombinedOutput()
	return string(out), err
}

// TestTightHop checks the router in front of node 1 on both families:
// full-size DF packets between the other nodes pass the bridge; between
// node 1 and them only up to the hop's MTU, a larger DF one is refused by
// the router's own address with the hop's MTU, a larger IPv4 one without
// DF is fragmented, the TTL drops by one, and tracepath finds the MTU.
// Pods talk through the kernel VXLAN device: host-gw routes could not
// cross a router that knows no pod CIDR, as on a real L3 underlay.
func TestTightHop(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ping", "tracepath")
	ctx := testContext(t)
	const hop = 1400
	tp := NewT(t, Config{Prefix: testenv.RunPrefix() + "h", Nodes: 3, PodsPerNode: 1, IPv6: true, TightHopMTU: hop, Mode: KernelVXLAN})
	n1, n2, n3 := tp.Nodes[0], tp.Nodes[1], tp.Nodes[2]
	if tp.RouterIPv4.String() != "10.99.0.254" || tp.RouterIPv6.String() != "fd99::fe" {
		t.Fatalf("router addresses %s, %s", tp.RouterIPv4, tp.RouterIPv6)
	}
	for _, fam := range []struct {
		name     string
		addr     func(*Node) netip.Addr
		hdr      int // IP + ICMP echo header
		router   netip.Addr
		tooBig   string
		fragsToo bool
	}{
		{"IPv4", func(n *Node) netip.Addr { return n.UnderlayIPv4 }, 28, tp.RouterIPv4, "Frag needed and DF set (mtu = 1400)", true},
		{"IPv6", func(n *Node) netip.Addr { return n.UnderlayIPv6 }, 48, tp.RouterIPv6, "Packet too big: mtu=1400", false},
	} {
		t.Run(fam.name, func(t *testing.T) {
			full := tp.Config.MTU - fam.hdr
			// The bridge side is untouched.
			if out, err := nodePing(ctx, n2, fam.addr(n3), full, true, 0); err != nil {
				t.Errorf("full-size DF ping node 2 -> 3: %v\n%s", err, out)
			}
			for _, pair := range [][2]*Node{{n1, n2}, {n3, n1}} {
				from, to := pair[0], pair[1]
				what := fmt.Sprintf("node %d -> %d", from.Index, to.Index)
				if out, err := nodePing(ctx, from, fam.addr(to), hop-fam.hdr, true, 0); err != nil {
					t.Errorf("%s: DF ping at the hop's MTU: %v\n%s", what, err, out)
				}
				out, err := nodePing(ctx, from, fam.addr(to), hop-fam.hdr+1, true, 0)
				if err == nil || !strings.Contains(out, "From "+fam.router.String()) || !strings.Contains(out, fam.tooBig) {
					t.Errorf("%s: DF ping one byte above the hop: want %q from %s, got %v\n%s", what, fam.tooBig, fam.router, err, out)
				}
				if fam.fragsToo {
					if out, err := nodePing(ctx, from, fam.addr(to), full, false, 0); err != nil {
						t.Errorf("%s: full-size ping without DF (fragmented by the router): %v\n%s", what, err, out)
					}
				}
				out, err = nodePing(ctx, from, fam.addr(to), 56, false, 1)
				if err == nil || !strings.Contains(out, "From "+fam.router.String()) || !strings.Contains(strings.ToLower(out), "time to live exceeded") && !strings.Contains(strings.ToLower(out), "time exceeded") {
					t.Errorf("%s: TTL 1: want time exceeded from %s, got %v\n%s", what, fam.router, err, out)
				}
			}
			// A fresh destination on node 3 for tracepath: node 1 has not
			// learned anything about it yet.
			out, err := n3.Command(ctx, "tracepath", "-n", fam.addr(n1).String()).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "pmtu "+strconv.Itoa(hop)) {
				t.Errorf("tracepath node 3 -> 1: want pmtu %d, got %v\n%s", hop, err, out)
			}
		})
	}
	t.Run("Pods", func(t *testing.T) {
		a, b := n1.Pods[0], n2.Pods[0]
		// Full-size: the outer IPv4 packets carry no DF from the kernel
		// device, so the router fragments them.
		if err := Ping(ctx, a, b.IPv4, 2, tp.Config.PodMTU-28, false); err != nil {
			t.Error(err)
		}
		if err := Ping(ctx, b, a.IPv6, 2, 56, false); err != nil {
			t.Error(err)
		}
	})
	t.Run("Outside", func(t *testing.T) {
		if _, err := tp.AddOutside(ctx, routerHost); err == nil {
			t.Errorf("an outside host took the router's number %d", routerHost)
		}
		o, err := tp.AddOutside(ctx, 200)
		if err != nil {
			t.Fatal(err)
		}
		for _, to := range []netip.Addr{o.IPv4, o.IPv6} {
			if out, err := nodePing(ctx, n1, to, 56, false, 0); err != nil {
				t.Errorf("node 1 -> outside %s: %v\n%s", to, err, out)
			}
		}
	})
}

func TestTightHopConfig(t *testing.T) {
	for _, c := range []Config{
		{TightHopMTU: 1500},
		{TightHopMTU: 500},
		{TightHopMTU: 1200, IPv6: true, PodMTU: 1300},
		{TightHopMTU: 1400, Nodes: 1},
	} {
		if _, err := c.withDefaults(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: got %v, want ErrConfig", c, err)
		}
	}
	if _, err := (Config{TightHopMTU: 1400, IPv6: true}).withDefaults(); err != nil {
		t.Error(err)
	}
}
