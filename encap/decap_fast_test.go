package encap

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestDecapFastPathMatchesTunnelParse mutates the tunnel header and inner
// Ethernet of good packets and checks that DecapIPTo, whose common VXLAN
// and Geneve packets skip decapTunnel, agrees with DecapUDPPayload on the
// same UDP payload: the same drop reason, or the same inner packet.
func TestDecapFastPathMatchesTunnelParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cfg := &DecapConfig{VXLANPort: DefaultVXLANPort, GenevePort: DefaultGenevePort, ExpectVNI: fuzzVNI}
	var seeds [][]byte
	for _, c := range gopacketCases() {
		if c.params.Kind == KindIPIP {
			continue
		}
		c.params.VNI, c.params.Port = fuzzVNI, 0
		for _, path := range encapPaths {
			seeds = append(seeds, path.fn(t, innerOfSize(c.innerV6, 64), &c.params, newOuter(c.outerV6), 1))
		}
		g := c.params // Geneve without options: the fast path's case
		if g.Kind == KindGeneve {
			g.GeneveOptions = nil
			seeds = append(seeds, encapsulate(t, innerOfSize(c.innerV6, 64), &g, newOuter(c.outerV6), 1))
		}
	}
	for i := range 100000 {
		pkt := bytes.Clone(seeds[rng.IntN(len(seeds))])
		ipLen := IPv4MinLen
		if pkt[0]>>4 == 6 {
			ipLen = IPv6Len
		}
		payload := pkt[ipLen+UDPLen:]
		for n := rng.IntN(3); n >= 0; n-- { // flip bits in the first 24 bytes of the UDP payload
			payload[rng.IntN(24)] ^= 1 << rng.IntN(8)
		}
		if rng.IntN(4) == 0 { // the VNI right but something else wrong
			copy(payload[4:7], []byte{1, 2, 3})
		}
		kind := KindVXLAN
		if UDP(pkt[ipLen:]).DstPort() == DefaultGenevePort {
			kind = KindGeneve
		}
		var d Decapped
		r := DecapIPTo(&d, pkt, cfg)
		in, r2 := DecapUDPPayload(payload, kind, fuzzVNI)
		if r != r2 || r == DropNone && (d.InnerOff != ipLen+UDPLen+in.Off || d.InnerEtherType != in.EtherType || d.VNI != in.VNI || d.Kind != kind) {
			t.Fatalf("%d: DecapIPTo %v %+v, DecapUDPPayload %v %+v; packet %x", i, r, d, r2, in, pkt)
		}
	}
}
