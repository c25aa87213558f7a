package control

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestMasqueradePolicy(t *testing.T) {
	f, err := ParseFile([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.MasqueradePolicy()
	if err != nil || !p.On {
		t.Fatalf("default policy %+v, %v: want on", p, err)
	}
	cfg, err := f.DataplaneConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Peers[0].Underlay6 = netip.MustParseAddr("fd99::2")
	r := p.Rules(cfg)
	if !slices.Equal(r.Sources, cfg.LocalPodCIDRs) {
		t.Errorf("sources %v, want our pod CIDRs %v", r.Sources, cfg.LocalPodCIDRs)
	}
	for _, want := range []string{"10.244.1.0/24", "fd00:244:1::/64", "10.244.2.0/24", "10.99.0.1/32", "10.99.0.2/32", "fd99::2/128"} {
		if !slices.Contains(r.Exempt, netip.MustParsePrefix(want)) {
			t.Errorf("exempt %v lacks %s", r.Exempt, want)
		}
	}

	off, err := ParseFile([]byte(goodConfig + "masquerade: false\nnonMasqueradeCIDRs: [192.168.0.0/16]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := off.MasqueradePolicy(); err != nil || p.On || len(p.NonMasquerade) != 1 {
		t.Fatalf("masquerade: false gave %+v, %v", p, err)
	}
	extra, _ := ParseFile([]byte(strings.Replace(goodConfig, "io: tun", "io: tun\nnonMasqueradeCIDRs: [192.168.0.0/16]", 1)))
	if p, err := extra.MasqueradePolicy(); err != nil || !slices.Contains(p.Rules(cfg).Exempt, netip.MustParsePrefix("192.168.0.0/16")) {
		t.Fatalf("nonMasqueradeCIDRs not exempt: %+v, %v", p, err)
	}
}
