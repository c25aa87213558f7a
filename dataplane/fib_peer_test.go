package dataplane

import (
	"net/netip"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

// peerHop answers exactly what a map keyed by the configured netip.Addr
// answered: the same address is the peer, an IPv4-mapped IPv6 form or a
// zoned one of it is not.
func TestPeerHopMatchesConfiguredAddressesOnly(t *testing.T) {
	for _, family := range []string{"ipv4", "ipv6"} {
		t.Run(family, func(t *testing.T) {
			cfg := testConfig(encap.KindVXLAN)
			if family == "ipv6" {
				cfg.LocalUnderlay = netip.MustParseAddr("fd99::1")
				cfg.Peers[0].Underlay = netip.MustParseAddr("fd99::2")
				cfg.Peers[1].Underlay = netip.MustParseAddr("fd99::3")
			}
			f, err := compile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range cfg.Peers {
				if hop, ok := f.peerHop(p.Underlay); !ok || hop != uint32(i+1) {
					t.Errorf("peerHop(%s) = %d, %v; want %d, true", p.Underlay, hop, ok, i+1)
				}
			}
			a := cfg.Peers[0].Underlay
			strangers := []netip.Addr{cfg.LocalUnderlay, {}}
			if a.Is4() {
				strangers = append(strangers, netip.AddrFrom16(a.As16()), netip.MustParseAddr("10.99.0.9"))
			} else { // only IPv6 addresses carry zones
				strangers = append(strangers, a.WithZone("eth0"), netip.MustParseAddr("fd99::9"))
			}
			for _, s := range strangers {
				if hop, ok := f.peerHop(s); ok {
					t.Errorf("peerHop(%s) = %d, true; want not a peer", s, hop)
				}
			}
		})
	}
}
