package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// The rules a policy produces are tested beside their table, in hostnet.
func TestMasqueradePolicy(t *testing.T) {
	f, err := ParseFile([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.MasqueradePolicy()
	if err != nil || !p.On {
		t.Fatalf("default policy %+v, %v: want on", p, err)
	}

	off, err := ParseFile([]byte(goodConfig + "masquerade: false\nnonMasqueradeCIDRs: [192.168.0.0/16]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := off.MasqueradePolicy(); err != nil || p.On || len(p.NonMasquerade) != 1 {
		t.Fatalf("masquerade: false gave %+v, %v", p, err)
	}
	extra, _ := ParseFile([]byte(strings.Replace(goodConfig, "io: tun", "io: tun\nnonMasqueradeCIDRs: [192.168.0.0/16]", 1)))
	if p, err := extra.MasqueradePolicy(); err != nil || !slices.Contains(p.NonMasquerade, netip.MustParsePrefix("192.168.0.0/16")) {
		t.Fatalf("nonMasqueradeCIDRs not parsed: %+v, %v", p, err)
	}
}
