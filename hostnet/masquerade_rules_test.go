package hostnet

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
)

func TestMasqueradeRules(t *testing.T) {
	pfx := netip.MustParsePrefix
	cfg := &dataplane.Config{
		LocalUnderlay: netip.MustParseAddr("10.99.0.1"),
		LocalPodCIDRs: []netip.Prefix{pfx("10.244.1.0/24"), pfx("fd00:244:1::/64")},
		Peers: []dataplane.Peer{{
			Name:      "node2",
			Underlay:  netip.MustParseAddr("10.99.0.2"),
			Underlay6: netip.MustParseAddr("fd99::2"),
			PodCIDRs:  []netip.Prefix{pfx("10.244.2.0/24")},
		}},
	}
	r := masqueradeRules(config.MasqueradePolicy{On: true}, cfg)
	if !slices.Equal(r.Sources, cfg.LocalPodCIDRs) {
		t.Errorf("sources %v, want our pod CIDRs %v", r.Sources, cfg.LocalPodCIDRs)
	}
	for _, want := range []string{"10.244.1.0/24", "fd00:244:1::/64", "10.244.2.0/24", "10.99.0.1/32", "10.99.0.2/32", "fd99::2/128"} {
		if !slices.Contains(r.Exempt, pfx(want)) {
			t.Errorf("exempt %v lacks %s", r.Exempt, want)
		}
	}
	extra := config.MasqueradePolicy{On: true, NonMasquerade: []netip.Prefix{pfx("192.168.0.0/16")}}
	if !slices.Contains(masqueradeRules(extra, cfg).Exempt, pfx("192.168.0.0/16")) {
		t.Fatalf("nonMasqueradeCIDRs not exempt: %+v", extra)
	}
}
