package xdp

import (
	"net/netip"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
)

// vethPair is two network namespaces, "a" (the peer that sends) and "b"
// (the node that runs the XDP program), joined by a veth pair
// (testenv.VethPair); everything is removed in t.Cleanup.
type vethPair struct{ *testenv.VethPair }

func newVethPair(t testing.TB) *vethPair {
	t.Helper()
	return &vethPair{testenv.NewVethPair(t, "x", [2]byte{198, 18})}
}

// addIPv6 gives both ends an IPv6 address (without duplicate address
// detection, so they are usable at once) and returns them.
func (p *vethPair) addIPv6(t testing.TB, n byte) (a, b netip.Addr) {
	t.Helper()
	a = netip.AddrFrom16([16]byte{0xfd, 0, 1, 0x98, 0, 0x18, 0, n, 14: 0, 15: 1})
	b = netip.AddrFrom16([16]byte{0xfd, 0, 1, 0x98, 0, 0x18, 0, n, 14: 0, 15: 2})
	testenv.Run(t, "ip", "-n", p.NsA, "addr", "add", a.String()+"/64", "dev", p.IfA, "nodad")
	testenv.Run(t, "ip", "-n", p.NsB, "addr", "add", b.String()+"/64", "dev", p.IfB, "nodad")
	return a, b
}
