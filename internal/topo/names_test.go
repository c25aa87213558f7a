package topo

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestLayoutAddressesAndNames(t *testing.T) {
	cfg, err := Config{Prefix: "pfabcd", Nodes: 3, PodsPerNode: 2, IPv6: true}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	topo := layout(cfg)
	n := topo.Nodes[2]
	p := n.Pods[1]
	checks := []struct{ name, got, want string }{
		{"underlay ns", topo.Underlay, "pfabcd-ul"},
		{"node ns", n.Namespace, "pfabcd-n3"},
		{"pod ns", p.Namespace, "pfabcd-n3p2"},
		{"underlay v4", n.UnderlayIPv4.String(), "10.99.0.3"},
		{"underlay v6", n.UnderlayIPv6.String(), "fd99::3"},
		{"pod cidr v4", n.PodCIDRv4.String(), "10.244.3.0/24"},
		{"pod cidr v6", n.PodCIDRv6.String(), "fd00:244:3::/64"},
		{"gateway v4", n.GatewayV4.String(), "10.244.3.1"},
		{"gateway v6", n.GatewayV6.String(), "fd00:244:3::1"},
		{"pod v4", p.IPv4.String(), "10.244.3.12"},
		{"pod v6", p.IPv6.String(), "fd00:244:3::c"},
		{"host veth", p.HostVeth, "vethp2"},
		{"vtep mac", n.VTEPMAC.String(), "02:70:66:00:00:03"},
		{"vtep mac v6", n.VTEPMAC6.String(), "02:70:66:06:00:03"},
		{"pod mtu", strconv.Itoa(cfg.PodMTU), "1430"},
		{"vxlan port", strconv.Itoa(int(cfg.VXLANPort)), "8472"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !n.PodCIDRv4.Contains(p.IPv4) || !n.PodCIDRv6.Contains(p.IPv6) {
		t.Errorf("pod addresses %s %s outside node CIDRs", p.IPv4, p.IPv6)
	}
}

func TestLayoutIPv4OnlyLeavesIPv6Invalid(t *testing.T) {
	cfg, err := Config{Prefix: "x"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	topo := layout(cfg)
	if len(topo.Nodes) != 2 || len(topo.Pods()) != 4 {
		t.Fatalf("default layout has %d nodes, %d pods; want 2, 4", len(topo.Nodes), len(topo.Pods()))
	}
	n := topo.Nodes[0]
	if n.UnderlayIPv6.IsValid() || n.PodCIDRv6.IsValid() || n.Pods[0].IPv6.IsValid() {
		t.Errorf("IPv6 off but addresses set: %v %v %v", n.UnderlayIPv6, n.PodCIDRv6, n.Pods[0].IPv6)
	}
	if cfg.PodMTU != 1450 {
		t.Errorf("IPv4-only pod MTU %d, want 1450", cfg.PodMTU)
	}
}

// Every interface name we create must fit Linux's 15 bytes, also at the
// largest sizes the config allows.
func TestInterfaceNamesFit(t *testing.T) {
	names := []string{UnderlayLink, PodBridge, PodLink, VXLANDevice, VXLANDeviceV6, underlayBridge,
		underlayPort(maxNodes), podHostVeth(maxPodsPerNode)}
	for _, name := range names {
		if len(name) > 15 {
			t.Errorf("interface name %q is %d bytes, limit 15", name, len(name))
		}
	}
}

func TestConfigRejects(t *testing.T) {
	bad := []Config{
		{Prefix: "a b"},
		{Prefix: "../etc"},
		{Nodes: maxNodes + 1},
		{Nodes: -1},
		{PodsPerNode: maxPodsPerNode + 1},
		{MTU: 1000},
		{MTU: 9001},
		{MTU: 1500, PodMTU: 1600},
		{MTU: 1300, IPv6: true}, // pods would get 1230 < 1280
		{Mode: KernelVXLAN + 1},
		{UnderlayQueues: -1},
		{UnderlayQueues: maxUnderlayQueues + 1},
	}
	for _, cfg := range bad {
		if _, err := cfg.withDefaults(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: got %v, want ErrConfig", cfg, err)
		}
	}
	if cfg, err := (Config{MTU: 9000}).withDefaults(); err != nil || cfg.PodMTU != 8950 {
		t.Errorf("jumbo config: %+v, %v", cfg, err)
	}
}

func TestDefaultPrefixCarriesPID(t *testing.T) {
	p := defaultPrefix()
	if _, ok := ownerPIDBits("pf", p); !ok {
		t.Errorf("default prefix %q does not parse as pf + 4 hex", p)
	}
	if q := defaultPrefix(); q == p || !strings.HasPrefix(q, p[:6]) {
		t.Errorf("second default prefix %q: want distinct and starting %q", q, p[:6])
	}
}

func TestOwnerPIDBits(t *testing.T) {
	cases := []struct {
		head, name string
		want       uint16
		ok         bool
	}{
		{"pf", "pf1a2b-n1", 0x1a2b, true},
		{"pf", "pf1a2bt2-n1p1", 0x1a2b, true},
		{"pf", "pf1a2bfoo", 0x1a2b, true}, // exactly 4 digits, not 5
		{"pf", "pf1A2b-n1", 0, false},
		{"pf", "pf1a2", 0, false},
		{"pf", "xx1a2b", 0, false},
		{"pfs", "pf1a2b", 0, false},
	}
	for _, c := range cases {
		got, ok := ownerPIDBits(c.head, c.name)
		if got != c.want || ok != c.ok {
			t.Errorf("ownerPIDBits(%q, %q) = %#x, %v; want %#x, %v", c.head, c.name, got, ok, c.want, c.ok)
		}
	}
}

// FuzzOwnerPIDBits checks the namespace-name parser Sweep trusts on any
// name: no panic, and a match always means head + 4 hex digits.
func FuzzOwnerPIDBits(f *testing.F) {
	f.Add("pf", "pf1a2b-n1")
	f.Add("pf", "pf")
	f.Add("", "ffff")
	f.Add("pf", "pf\xff\xfe12")
	f.Fuzz(func(t *testing.T, head, name string) {
		v, ok := ownerPIDBits(head, name)
		if !ok {
			return
		}
		digits := name[len(head) : len(head)+4]
		if !strings.HasPrefix(name, head) || formatHex4(v) != digits {
			t.Fatalf("ownerPIDBits(%q, %q) = %#x, digits %q", head, name, v, digits)
		}
	})
}

func formatHex4(v uint16) string {
	const hex = "0123456789abcdef"
	return string([]byte{hex[v>>12], hex[v>>8&15], hex[v>>4&15], hex[v&15]})
}
