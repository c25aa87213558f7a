package trace

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
)

// The filter reads headers as integers (layer) and folds each direction;
// these tests hold both to the definitions they replace: encap.ParseInner
// for what a header says, netip for what an address primitive means, and
// the unfolded tree for what the filter matches.

// samplePackets are inner and outer packets of many shapes, and damaged
// copies of them: every truncation and random byte changes.
func samplePackets(t testing.TB) [][]byte {
	t.Helper()
	var pkts [][]byte
	for _, sp := range []Spec{
		{Src: podA, Dst: podB, Proto: 6, SrcPort: 40000, DstPort: 80, TTL: 64},
		{Src: podB, Dst: podA, Proto: 17, SrcPort: 53, DstPort: 0, TTL: 64},
		{Src: podA, Dst: podB, Proto: 1, TTL: 64},
		{Src: podA6, Dst: podB6, Proto: 6, SrcPort: 1, DstPort: 443, TTL: 64},
		{Src: podA6, Dst: podB6, Proto: 1, TTL: 64},
		{Src: netip.MustParseAddr("::ffff:10.244.1.5"), Dst: podB6, Proto: 17, DstPort: 53, TTL: 64},
	} {
		in := buildInner(&sp)
		pkts = append(pkts, in, withIPv6Ext(in, 0), withIPv6Ext(in, 44), laterFragment(in), withIPv4Options(in))
		for _, kind := range []encap.Kind{encap.KindVXLAN, encap.KindGeneve, encap.KindIPIP} {
			sp := sp
			sp.Dir = "ingress"
			if _, out, err := Build(testConfig(kind), sp); err == nil {
				pkts = append(pkts, out, out[encap.IPv4MinLen+encap.UDPLen:])
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range append([][]byte(nil), pkts...) {
		for n := range len(p) {
			pkts = append(pkts, p[:n])
		}
		for range 40 {
			q := append([]byte(nil), p...)
			for range 1 + rng.IntN(3) {
				q[rng.IntN(min(len(q), 64))] = byte(rng.Uint32())
			}
			pkts = append(pkts, q)
		}
	}
	return pkts
}

// withIPv6Ext puts an 8-byte extension header of type nh (0: hop-by-hop,
// 44: a later fragment) in front of an IPv6 packet's payload.
func withIPv6Ext(pkt []byte, nh uint8) []byte {
	if pkt[0]>>4 != 6 {
		return pkt
	}
	out := make([]byte, len(pkt)+8)
	copy(out, pkt[:encap.IPv6Len])
	copy(out[encap.IPv6Len+8:], pkt[encap.IPv6Len:])
	ext := out[encap.IPv6Len:]
	ext[0] = pkt[6]
	if nh == 44 {
		binary.BigEndian.PutUint16(ext[2:], 8<<3)
	}
	out[6] = nh
	binary.BigEndian.PutUint16(out[4:], uint16(len(out)-encap.IPv6Len))
	return out
}

// laterFragment marks an IPv4 packet as a fragment at offset 8.
func laterFragment(pkt []byte) []byte {
	if pkt[0]>>4 != 4 {
		return pkt
	}
	out := append([]byte(nil), pkt...)
	binary.BigEndian.PutUint16(out[6:], 1)
	return out
}

// withIPv4Options grows an IPv4 header by 4 bytes of options.
func withIPv4Options(pkt []byte) []byte {
	if pkt[0]>>4 != 4 {
		return pkt
	}
	out := make([]byte, len(pkt)+4)
	copy(out, pkt[:20])
	copy(out[24:], pkt[20:])
	out[0] = 0x46
	binary.BigEndian.PutUint16(out[2:], uint16(len(out)))
	return out
}

// checkLayer fails unless parseLayer reads pkt as encap.ParseInner does.
func checkLayer(t testing.TB, pkt []byte) {
	var f encap.Flow
	var l layer
	ok := parseLayer(pkt, &l)
	if ok != (encap.ParseInner(pkt, &f) == encap.DropNone) {
		t.Fatalf("% x: parseLayer %v, ParseInner %v", pkt, ok, !ok)
	}
	if !ok {
		return
	}
	src, sv := addrOf(f.Src)
	dst, _ := addrOf(f.Dst)
	if l.ver != f.Version || l.proto != f.Proto || l.sport != f.SrcPort || l.dport != f.DstPort ||
		l.src != src || l.dst != dst || sv != f.Version {
		t.Fatalf("% x: layer %+v, flow %+v", pkt, l, f)
	}
}

func TestParseLayerAgreesWithParseInner(t *testing.T) {
	for _, p := range samplePackets(t) {
		checkLayer(t, p)
	}
}

func FuzzParseLayer(f *testing.F) {
	for _, p := range samplePackets(f)[:40] {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) { checkLayer(t, pkt) })
}

// netipMatch is what a primitive means on a header encap.ParseInner read.
func netipMatch(n *node, fl *encap.Flow) bool {
	either := func(ok func(netip.Addr) bool) bool {
		return (n.side != dstSide && ok(fl.Src)) || (n.side != srcSide && ok(fl.Dst))
	}
	switch n.kind {
	case nodeHost:
		return either(func(a netip.Addr) bool { return a == n.addr })
	case nodeNet:
		return either(n.prefix.Contains)
	case nodePort:
		p := uint16(n.num)
		return hasPorts(fl.Proto) && ((n.side != dstSide && fl.SrcPort == p) || (n.side != srcSide && fl.DstPort == p))
	case nodeProto:
		return uint32(fl.Proto) == n.num || uint32(fl.Proto) == n.num2
	case nodeVersion:
		return uint32(fl.Version) == n.num
	}
	panic("not a header primitive")
}

// primitives cover both families, IPv4-mapped spellings, the shortest
// and longest prefixes, each side, port 0.
var primitives = []string{
	"host 10.244.1.5", "src host 10.244.2.7", "dst 10.244.1.5", "host ::ffff:10.244.1.5", "host fd00:244:1::5",
	"dst host fd00:244:2::7", "net 10.244.0.0/16", "net 0.0.0.0/0", "net ::/0", "src net fd00:244::/32",
	"dst net fd00:244:2::7/128", "net 10.244.1.5", "net fd00:244:1::/72",
	"port 80", "src port 53", "dst port 443", "port 0", "sport 40000", "dport 0",
	"tcp", "udp", "icmp", "icmp6", "ip", "ip6",
}

func TestPrimitivesAgreeWithNetip(t *testing.T) {
	for _, s := range primitives {
		flt, err := ParseFilter(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range samplePackets(t) {
			var f encap.Flow
			var l layer
			if !parseLayer(p, &l) || encap.ParseInner(p, &f) != encap.DropNone {
				continue
			}
			if got, want := flt.root.matchLayer(&l), netipMatch(flt.root, &f); got != want {
				t.Fatalf("%q on % x: %v, want %v", s, p, got, want)
			}
		}
	}
}

// filters combine primitives, VNIs and constants the fold removes.
var filters = append(append([]string(nil), primitives...),
	"", "vni 1", "not vni 1", "vni 7 or host 10.244.2.7", "vni 7 and host 10.244.2.7", "not (vni 1 and tcp)",
	"host 192.0.2.99 or (net 10.250.0.0/16 and tcp port 443)", "not tcp", "! udp or port 53",
	"(host 10.244.9.9 or net 10.250.0.0/16) and not icmp and vni 1 or udp port 4",
	"src 10.244.1.5 dst 10.244.2.7 tcp dport 80", "ip6 and (port 443 or port 1) and not icmp6",
	"(tcp or udp) and (port 1 or port 2 or port 3) and (net 10.0.0.0/8 or net fd00::/8) and ip",
	"host 10.244.1.5 or dst net 10.244.2.0/24", "src 10.244.2.7 or dst 10.244.1.5 or host 10.0.0.1",
	"host 10.0.0.1 or host 10.244.2.7 or net 10.244.1.0/24", "dst net 10.244.0.0/16 or src 10.9.9.9",
	"host 10.0.0.1 or host 10.0.0.2 or host 10.0.0.3 or host 10.0.0.4 or host 10.0.0.5 or host 10.0.0.6 or host 10.0.0.7 or host 10.0.0.8 or host 10.0.0.9",
)

// checkFilter fails unless the compiled filter agrees with the unfolded
// tree and the egress gate passes every egress packet the filter matches.
func checkFilter(t testing.TB, flt *Filter, h *Hint, gate *dataplane.TraceGate, pkt []byte) {
	for _, dir := range []dataplane.Direction{dataplane.Egress, dataplane.Ingress} {
		var v view
		h.dissect(dir, pkt, &v)
		want := flt.root.match(&v)
		if got := flt.Match(h, dir, pkt); got != want {
			t.Fatalf("%q %s on % x: compiled %v, tree %v", flt, dir, pkt, got, want)
		}
		if dir == dataplane.Egress && want && !gate.Pass(pkt) {
			t.Fatalf("%q: gate %+v refuses % x, which the filter matches", flt, gate.Tests(), pkt)
		}
	}
	// AnyPasses, with its loops for address-only gates, is Pass over the
	// batch, whatever kinds of packet the batch mixes.
	for _, other := range [][]byte{nil, batchMate4, batchMate6} {
		batch := []*dataplane.Packet{{Buf: pkt, End: len(pkt)}}
		want := gate.Pass(pkt)
		if other != nil {
			batch = append(batch, &dataplane.Packet{Buf: other, End: len(other)})
			want = want || gate.Pass(other)
		}
		if gate.AnyPasses(batch) != want {
			t.Fatalf("%q: AnyPasses %v on % x and % x, Pass says %v", flt, !want, pkt, other, want)
		}
		slices.Reverse(batch)
		if gate.AnyPasses(batch) != want {
			t.Fatalf("%q: AnyPasses %v on % x and % x (reversed), Pass says %v", flt, !want, pkt, other, want)
		}
	}
}

// batchMate4 and batchMate6 share a batch with the packet under test.
var (
	batchMate4 = buildInner(&Spec{Src: netip.MustParseAddr("10.9.9.9"), Dst: netip.MustParseAddr("10.9.9.8"), Proto: 17, DstPort: 9, TTL: 64})
	batchMate6 = buildInner(&Spec{Src: netip.MustParseAddr("fd00:9::9"), Dst: netip.MustParseAddr("fd00:9::8"), Proto: 6, DstPort: 9, TTL: 64})
)

func TestCompiledFilterExact(t *testing.T) {
	pkts := samplePackets(t)
	h := HintFor(testConfig(encap.KindVXLAN))
	for _, s := range filters {
		flt, err := ParseFilter(s)
		if err != nil {
			t.Fatal(err)
		}
		gate := flt.EgressGate()
		for _, p := range pkts {
			checkFilter(t, flt, &h, &gate, p)
		}
	}
}

func FuzzCompiledFilter(f *testing.F) {
	pkts := samplePackets(f)
	for i, s := range filters {
		f.Add(s, pkts[i*7%len(pkts)])
	}
	h := HintFor(testConfig(encap.KindVXLAN))
	f.Fuzz(func(t *testing.T, s string, pkt []byte) {
		flt, err := ParseFilter(s)
		if err != nil {
			return
		}
		gate := flt.EgressGate()
		checkFilter(t, flt, &h, &gate, pkt)
	})
}

// The gate is only worth having if it refuses what the filter does not
// name without a call: the benchmark's packet, and all egress for "vni".
func TestEgressGateRefuses(t *testing.T) {
	pkt := buildInner(&Spec{Src: podA, Dst: podB, Proto: 17, SrcPort: 40000, DstPort: 5201, TTL: 64})
	for s, want := range map[string]string{
		"host 192.0.2.99": "refuses",
		"host 192.0.2.99 or (net 10.250.0.0/16 and tcp port 443)": "refuses",
		"tcp port 443 or icmp":      "refuses",
		"vni 7":                     "never",
		"vni 7 and host 10.244.1.5": "never",
		"not tcp":                   "all",
		"port 0":                    "all",
		"udp":                       "passes",
	} {
		flt, err := ParseFilter(s)
		if err != nil {
			t.Fatal(err)
		}
		g := flt.EgressGate()
		got := "passes"
		switch {
		case g.All():
			got = "all"
		case g.Never():
			got = "never"
		case !g.Pass(pkt):
			got = "refuses"
		}
		if got != want {
			t.Errorf("%q: gate %+v %s the packet, want %s", s, g.Tests(), got, want)
		}
	}
}
