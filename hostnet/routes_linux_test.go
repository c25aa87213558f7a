package hostnet

import (
	"net"
	"net/netip"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/vishvananda/netlink"
)

// Reconciling adds what is wanted, removes our stale routes, and never
// touches a route we do not own.
func TestReconcileRoutes(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.InNewNetns(t, func() {
		// This kernel has no dummy module; a veth pair serves.
		link := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "pfdummy0"}, PeerName: "pfdummy1"}
		if err := netlink.LinkAdd(link); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"pfdummy0", "pfdummy1"} {
			l, _ := netlink.LinkByName(name)
			if err := netlink.LinkSetUp(l); err != nil {
				t.Fatal(err)
			}
		}
		l, _ := netlink.LinkByName("pfdummy0")
		idx := l.Attrs().Index
		foreign := &netlink.Route{LinkIndex: idx, Dst: &net.IPNet{IP: net.IP{192, 0, 2, 0}, Mask: net.CIDRMask(24, 32)}, Scope: netlink.SCOPE_LINK}
		if err := netlink.RouteAdd(foreign); err != nil {
			t.Fatal(err)
		}
		r1 := Route{Dst: netip.MustParsePrefix("10.244.2.0/24"), LinkIndex: idx}
		r2 := Route{Dst: netip.MustParsePrefix("10.244.3.0/24"), LinkIndex: idx}
		r6 := Route{Dst: netip.MustParsePrefix("fd00:244:2::/64"), LinkIndex: idx}
		if err := ReconcileRoutes([]Route{r1, r2, r6}); err != nil {
			t.Fatal(err)
		}
		if err := ReconcileRoutes([]Route{r1, r2, r6}); err != nil { // idempotent: a restart finds its own routes
			t.Fatal(err)
		}
		assertOwned(t, "10.244.2.0/24", "10.244.3.0/24", "fd00:244:2::/64")
		if err := ReconcileRoutes([]Route{r1}); err != nil { // node 3 and the IPv6 CIDR went away
			t.Fatal(err)
		}
		assertOwned(t, "10.244.2.0/24")
		// A route that changed is replaced, one deleted behind our back is
		// added again: only routes present exactly as wanted are skipped.
		other, _ := netlink.LinkByName("pfdummy1")
		gw := Route{Dst: r1.Dst, LinkIndex: other.Attrs().Index} // moved to another device
		if err := ReconcileRoutes([]Route{gw, r2}); err != nil {
			t.Fatal(err)
		}
		if err := netlink.RouteDel(r2.netlink()); err != nil {
			t.Fatal(err)
		}
		if err := ReconcileRoutes([]Route{gw, r2}); err != nil {
			t.Fatal(err)
		}
		assertOwned(t, "10.244.2.0/24", "10.244.3.0/24")
		rs, err := OwnedRoutes()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Dst.String() == "10.244.2.0/24" && r.LinkIndex != gw.LinkIndex {
				t.Errorf("10.244.2.0/24 not moved to pfdummy1: %+v", r)
			}
		}
		if err := RemoveOwnedRoutes(); err != nil {
			t.Fatal(err)
		}
		assertOwned(t)
		rs, err = netlink.RouteList(l, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range rs {
			if r.Dst != nil && r.Dst.String() == "192.0.2.0/24" {
				found = true
			}
		}
		if !found {
			t.Error("a route podfwd does not own was removed")
		}
	})
}

func assertOwned(t *testing.T, want ...string) {
	t.Helper()
	rs, err := OwnedRoutes()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range rs {
		got[r.Dst.String()] = true
	}
	if len(got) != len(want) || len(rs) != len(want) {
		t.Fatalf("owned routes %v, want %v", got, want)
	}
	for _, w := range want {
		if !got[w] {
			t.Fatalf("owned routes %v lack %s", got, w)
		}
	}
}
