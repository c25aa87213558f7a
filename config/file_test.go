package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

const goodConfig = `
nodeName: node1
io: tun
encap: vxlan
vni: 7
port: 8472
underlay:
  address: 10.99.0.1
podCIDRs: [10.244.1.0/24, fd00:244:1::/64]
peers:
  - name: node2
    underlay: 10.99.0.2
    podCIDRs: [10.244.2.0/24]
`

func TestGoodConfig(t *testing.T) {
	f, err := ParseFile([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.DataplaneConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Encap != encap.KindVXLAN || cfg.VNI != 7 || cfg.Port != 8472 {
		t.Errorf("encap/vni/port = %v/%d/%d", cfg.Encap, cfg.VNI, cfg.Port)
	}
	if cfg.LocalVTEPMAC != VTEPMACFor(netip.MustParseAddr("10.99.0.1")) {
		t.Errorf("VTEP MAC not derived from the underlay address")
	}
	if len(cfg.Peers) != 1 || cfg.Peers[0].VTEPMAC != VTEPMACFor(netip.MustParseAddr("10.99.0.2")) {
		t.Errorf("peer not converted: %+v", cfg.Peers)
	}
	if f.TUN.Name != "podfwd0" {
		t.Errorf("default TUN name %q", f.TUN.Name)
	}
	if cfg.DropPartialChecksums {
		t.Error("partial checksums are dropped by default; nodes sharing a host send them")
	}
	f, err = ParseFile([]byte(strings.Replace(goodConfig, "  address: 10.99.0.1", "  address: 10.99.0.1\n  partialChecksums: drop", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = f.DataplaneConfig(nil); err != nil || !cfg.DropPartialChecksums {
		t.Errorf("underlay.partialChecksums: drop gave DropPartialChecksums %v, %v", cfg != nil && cfg.DropPartialChecksums, err)
	}
}

// Every bad config fails at start with the field and the reason.
func TestBadConfigNamesTheField(t *testing.T) {
	cases := []struct{ edit, field string }{
		{"encap: vxlan|encap: gre", "encap"},
		{"io: tun|io: dpdk", "io"},
		{"nodeName: node1|nodeName: ''", "nodeName"},
		{"vni: 7|vni: 16777216", "vni"},
		{"  address: 10.99.0.1|  address: 10.99.0.300", "underlay.address"},
		{"podCIDRs: [10.244.1.0/24, fd00:244:1::/64]|podCIDRs: [10.244.1.5/24]", "podCIDRs[0]"},
		{"podCIDRs: [10.244.1.0/24, fd00:244:1::/64]|podCIDRs: [banana]", "podCIDRs[0]"},
		{"    underlay: 10.99.0.2|    underlay: nope", "peers[0].underlay"},
		{"    podCIDRs: [10.244.2.0/24]|    podCIDRs: [10.244.1.128/25]", "overlaps"},
		{"    underlay: 10.99.0.2|    underlay: 10.99.0.1", "our own underlay"},
		{"  - name: node2|  - name: ''", "peers[0].name"},
		{"port: 8472|prot: 8472", "field prot not found"},
		{"port: 8472|port: 8472\nnonMasqueradeCIDRs: [192.168.0.0/16, 172.16.0.1/12]", "nonMasqueradeCIDRs[1]"},
		{"  address: 10.99.0.1|  address: 10.99.0.1\n  partialChecksums: verify", "underlay.partialChecksums"},
	}
	for _, c := range cases {
		old, repl, _ := strings.Cut(c.edit, "|")
		text := strings.Replace(goodConfig, old, repl, 1)
		if text == goodConfig {
			t.Fatalf("edit %q changed nothing", c.edit)
		}
		f, err := ParseFile([]byte(text))
		if err == nil {
			_, err = f.DataplaneConfig(nil)
		}
		if err == nil {
			t.Errorf("%s: accepted", c.edit)
			continue
		}
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %q does not name %q", c.edit, err, c.field)
		}
		if !errors.Is(err, ErrConfig) && !strings.Contains(err.Error(), "invalid dataplane config") {
			t.Errorf("%s: error %q has lost its identity", c.edit, err)
		}
	}
}

func TestUnderlayFromInterface(t *testing.T) {
	text := strings.Replace(goodConfig, "  address: 10.99.0.1", "  interface: eth0", 1)
	f, err := ParseFile([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(name string) (Interface, error) {
		if name != "eth0" {
			return Interface{}, errors.New("no such interface")
		}
		return Interface{MTU: 9000, Addrs: []netip.Addr{netip.MustParseAddr("fe80::1"), netip.MustParseAddr("10.99.0.1")}}, nil
	}
	cfg, err := f.DataplaneConfig(lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LocalUnderlay != netip.MustParseAddr("10.99.0.1") || cfg.UnderlayMTU != 9000 {
		t.Errorf("underlay %v mtu %d, want 10.99.0.1 and 9000 from the interface", cfg.LocalUnderlay, cfg.UnderlayMTU)
	}
	if cfg.TunnelMTU() != 8950 {
		t.Errorf("tunnel MTU %d, want 8950", cfg.TunnelMTU())
	}
}
