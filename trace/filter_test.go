package trace

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
)

var (
	podA  = netip.MustParseAddr("10.244.1.5")
	podB  = netip.MustParseAddr("10.244.2.7")
	podA6 = netip.MustParseAddr("fd00:244:1::5")
	podB6 = netip.MustParseAddr("fd00:244:2::7")
)

// vxlanPayload is what a UDP socket hands the engine: VXLAN header, inner
// Ethernet, inner packet.
func vxlanPayload(t testing.TB, inner []byte, vni uint32) []byte {
	t.Helper()
	buf := make([]byte, dataplane.Headroom+len(inner))
	copy(buf[dataplane.Headroom:], inner)
	p := encap.Params{Kind: encap.KindVXLAN, VNI: vni}
	s, r := encap.PrependTunnel(buf, dataplane.Headroom, len(buf), &p)
	if r != encap.DropNone {
		t.Fatal(r)
	}
	return buf[s:]
}

func TestFilterMatch(t *testing.T) {
	tcp80 := buildInner(&Spec{Src: podA, Dst: podB, Proto: 6, SrcPort: 40000, DstPort: 80, TTL: 64})
	udp53 := buildInner(&Spec{Src: podB, Dst: podA, Proto: 17, SrcPort: 53, DstPort: 5353, TTL: 64})
	icmp6 := buildInner(&Spec{Src: podA6, Dst: podB6, Proto: 1, TTL: 64})
	tunnelled := vxlanPayload(t, udp53, 7)
	_, outerIPIP, err := Build(testConfig(encap.KindIPIP), Spec{Src: podB, Dst: podA, Proto: 6, DstPort: 443, TTL: 64})
	if err != nil {
		t.Fatal(err)
	}
	type pkt struct {
		dir  dataplane.Direction
		data []byte
	}
	eg := func(b []byte) pkt { return pkt{dataplane.Egress, b} }
	in := func(b []byte) pkt { return pkt{dataplane.Ingress, b} }
	tests := []struct {
		filter string
		pkt    pkt
		want   bool
	}{
		{"", eg(tcp80), true},
		{"host 10.244.1.5", eg(tcp80), true},
		{"host 10.244.9.9", eg(tcp80), false},
		{"src host 10.244.1.5", eg(tcp80), true},
		{"dst host 10.244.1.5", eg(tcp80), false},
		{"src 10.244.1.5 and dst 10.244.2.7", eg(tcp80), true},
		{"src 10.244.1.5 dst 10.244.2.7 tcp dport 80", eg(tcp80), true},
		{"net 10.244.2.0/24", eg(tcp80), true},
		{"dst net 10.244.1.0/24", eg(tcp80), false},
		{"10.244.0.0/16", eg(tcp80), true},
		{"tcp", eg(tcp80), true},
		{"udp", eg(tcp80), false},
		{"tcp port 80", eg(tcp80), true},
		{"tcp and port 81", eg(tcp80), false},
		{"sport 40000", eg(tcp80), true},
		{"dport 40000", eg(tcp80), false},
		{"src port 40000 && dst port 80", eg(tcp80), true},
		{"not tcp", eg(tcp80), false},
		{"! udp", eg(tcp80), true},
		{"udp or tcp", eg(tcp80), true},
		{"udp || (tcp && port 80)", eg(tcp80), true},
		{"(udp or icmp) and host 10.244.1.5", eg(tcp80), false},
		{"not (udp or icmp)", eg(tcp80), true},
		{"icmp", eg(icmp6), true},
		{"icmp6 and ip6", eg(icmp6), true},
		{"ip", eg(icmp6), false},
		{"host fd00:244:2::7", eg(icmp6), true},
		{"net fd00:244:1::/64", eg(icmp6), true},
		// Ingress over a UDP socket: the tunnel payload; VNI and inner.
		{"vni 7", in(tunnelled), true},
		{"vni 8", in(tunnelled), false},
		{"udp port 53 and vni 7", in(tunnelled), true},
		{"src 10.244.2.7", in(tunnelled), true},
		// Ingress as an outer IP packet (raw socket): outer and inner.
		{"host 10.99.0.2", in(outerIPIP), true},
		{"dst host 10.99.0.1 and tcp port 443", in(outerIPIP), true},
		{"host 10.244.2.7 and host 10.99.0.1", in(outerIPIP), true},
		{"vni 1", in(outerIPIP), false},
		// Garbage matches only what needs no header.
		{"host 10.244.1.5", in([]byte{1, 2, 3}), false},
		{"not tcp", in([]byte{0x45}), true},
	}
	h := HintFor(testConfig(encap.KindVXLAN))
	for _, tc := range tests {
		f, err := ParseFilter(tc.filter)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", tc.filter, err)
		}
		if got := f.Match(&h, tc.pkt.dir, tc.pkt.data); got != tc.want {
			t.Errorf("%q on %s packet: got %v, want %v", tc.filter, tc.pkt.dir, got, tc.want)
		}
	}
}

func TestFilterErrors(t *testing.T) {
	for _, s := range []string{
		"host", "host 10.0.0", "net 10.0.0.0/33", "port 70000", "vni 16777216", "(tcp", "tcp)",
		"and tcp", "tcp or", "src", "src tcp", "frobnicate", "a & b", "not", "port x", "host fe80::1%eth0",
		string(make([]byte, MaxFilterLen+1)),
	} {
		if _, err := ParseFilter(s); !errors.Is(err, ErrFilter) {
			t.Errorf("ParseFilter(%q) = %v, want an ErrFilter", s, err)
		}
	}
	deep := ""
	for i := 0; i < 100; i++ {
		deep += "("
	}
	if _, err := ParseFilter(deep + "tcp"); !errors.Is(err, ErrFilter) {
		t.Errorf("100 nested parentheses: %v, want ErrFilter", err)
	}
}

// Match runs on the forwarding goroutines: it must not allocate.
func TestFilterMatchAllocatesNothing(t *testing.T) {
	f, err := ParseFilter("(host 10.244.9.9 or net 10.250.0.0/16) and not icmp and vni 1 or udp port 4")
	if err != nil {
		t.Fatal(err)
	}
	h := HintFor(testConfig(encap.KindVXLAN))
	pl := vxlanPayload(t, buildInner(&Spec{Src: podA, Dst: podB, Proto: 6, DstPort: 80, TTL: 64}), 1)
	eg := buildInner(&Spec{Src: podA, Dst: podB, Proto: 17, DstPort: 80, TTL: 64})
	n := testing.AllocsPerRun(100, func() {
		f.Match(&h, dataplane.Ingress, pl)
		f.Match(&h, dataplane.Egress, eg)
	})
	if n != 0 {
		t.Fatalf("Match allocates %.1f times per call", n)
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"", "host 10.0.0.1", "src net 10.0.0.0/8 and not (tcp or udp port 53)", "vni 1 || icmp6",
		"dst fd00::1 sport 1 dport 2", "((((tcp))))", "!!tcp", "ip6 and net ::/0", "host", "port 99999",
	} {
		f.Add(s, []byte{0x45, 0, 0, 20})
	}
	f.Add("udp", buildInner(&Spec{Src: podA, Dst: podB, Proto: 17, TTL: 64}))
	h := HintFor(testConfig(encap.KindVXLAN))
	f.Fuzz(func(t *testing.T, s string, pkt []byte) {
		flt, err := ParseFilter(s)
		if err != nil {
			if !errors.Is(err, ErrFilter) {
				t.Fatalf("error without ErrFilter: %v", err)
			}
			return
		}
		// The canonical form must parse to the same filter (same canonical
		// form), and both must agree on any packet in either direction.
		canon := flt.Canonical()
		again, err := ParseFilter(canon)
		if err != nil {
			t.Fatalf("%q parsed, its canonical form %q did not: %v", s, canon, err)
		}
		if again.Canonical() != canon {
			t.Fatalf("%q: canonical %q reparses as %q", s, canon, again.Canonical())
		}
		for _, dir := range []dataplane.Direction{dataplane.Egress, dataplane.Ingress} {
			if flt.Match(&h, dir, pkt) != again.Match(&h, dir, pkt) {
				t.Fatalf("%q and its canonical form %q disagree on % x", s, canon, pkt)
			}
		}
	})
}

func TestFilterCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"src 10.0.0.1 dst 10.0.0.0/8 tcp dport 80":     "(((src host 10.0.0.1 and dst net 10.0.0.0/8) and tcp) and dst port 80)",
		"!udp || icmp6 && vni 7":                       "((not udp) or (icmp6 and vni 7))",
		"not (host fd00::1 or net 10.1.2.3/16) and ip": "((not (host fd00::1 or net 10.1.0.0/16)) and ip)",
		"": "",
	} {
		f, err := ParseFilter(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Canonical(); got != want {
			t.Errorf("%q: canonical %q, want %q", in, got, want)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"src 10.244.1.5 dst 10.244.2.7 tcp dport 80", "src fd00::1 dst fd00::2 udp ttl 1 size 2000",
		"ingress from 10.99.0.2 src 10.244.2.7 dst 10.244.1.5 vni 9", "src 1.2.3.4", "dst"} {
		f.Add(s)
	}
	cfg := testConfig(encap.KindGeneve)
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseSpec(s)
		if err != nil {
			if !errors.Is(err, ErrFilter) {
				t.Fatalf("error without ErrFilter: %v", err)
			}
			return
		}
		dir, pkt, err := Build(cfg, sp)
		if err != nil {
			return
		}
		// The inner packet must carry the spec's addresses: the packet
		// itself on egress, behind the tunnel headers on ingress.
		if dir == dataplane.Ingress {
			d, r := encap.DecapIP(pkt, &encap.DecapConfig{GenevePort: encap.DefaultGenevePort, ExpectVNI: cfg.VNI})
			if r != encap.DropNone {
				if sp.HasVNI && sp.VNI != cfg.VNI && r == encap.DropBadVNI {
					return
				}
				t.Fatalf("built an ingress packet for %q that does not decapsulate: %s", s, r)
			}
			pkt = pkt[d.InnerOff:d.InnerEnd]
		}
		var fl encap.Flow
		if r := encap.ParseInner(pkt, &fl); r != encap.DropNone || fl.Src != sp.Src || fl.Dst != sp.Dst {
			t.Fatalf("built %s > %s (%s) for %q", fl.Src, fl.Dst, r, s)
		}
	})
}

// testConfig is node 1 (10.99.0.1, pods 10.244.1.0/24) with peer node2.
func testConfig(kind encap.Kind) *dataplane.Config {
	return &dataplane.Config{
		Generation: 3, Encap: kind, VNI: 1,
		LocalUnderlay: netip.MustParseAddr("10.99.0.1"), LocalVTEPMAC: [6]byte{0x0e, 0x70, 10, 99, 0, 1},
		UnderlayMTU:   1500,
		LocalPodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24"), netip.MustParsePrefix("fd00:244:1::/64")},
		Peers: []dataplane.Peer{{Name: "node2", Underlay: netip.MustParseAddr("10.99.0.2"), VTEPMAC: [6]byte{0x0e, 0x70, 10, 99, 0, 2},
			PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24"), netip.MustParsePrefix("fd00:244:2::/64")}}},
	}
}
