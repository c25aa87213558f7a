package encap

import "testing"

// TestZeroAllocs asserts that no per-packet path allocates.
func TestZeroAllocs(t *testing.T) {
	cfg := &DecapConfig{VXLANPort: DefaultVXLANPort, GenevePort: DefaultGenevePort, ExpectVNI: 0x10203, AcceptIPIP: true}
	for _, c := range gopacketCases() {
		if c.params.Port == 8472 {
			continue
		}
		c.params.VNI = 0x10203
		t.Run(c.label(), func(t *testing.T) {
			inner := innerOfSize(c.innerV6, 512)
			buf := make([]byte, testHeadroom+len(inner))
			copy(buf[testHeadroom:], inner)
			o := newOuter(c.outerV6)
			p := &c.params
			var start int
			encap := func() {
				h := FlowHash(buf[testHeadroom:])
				s, r := PrependTunnel(buf, testHeadroom, len(buf), p)
				if r != DropNone {
					t.Fatal(r)
				}
				start, r = PrependOuter(buf, s, len(buf), p, o, buf[testHeadroom:], h)
				if r != DropNone {
					t.Fatal(r)
				}
			}
			if n := testing.AllocsPerRun(500, encap); n != 0 {
				t.Errorf("encap allocates %v per packet", n)
			}
			pkt := buf[start:]
			decap := func() {
				d, r := DecapIP(pkt, cfg)
				if r != DropNone || d.InnerEnd-d.InnerOff != len(inner) {
					t.Fatal(r, d)
				}
			}
			if n := testing.AllocsPerRun(500, decap); n != 0 {
				t.Errorf("DecapIP allocates %v per packet", n)
			}
			var d Decapped
			if n := testing.AllocsPerRun(500, func() { DecapIPTo(&d, pkt, cfg) }); n != 0 {
				t.Errorf("DecapIPTo allocates %v per packet", n)
			}
			if p.Kind != KindIPIP {
				ipLen := IPv4MinLen
				if c.outerV6 {
					ipLen = IPv6Len
				}
				udpPayload := pkt[ipLen+UDPLen:]
				if n := testing.AllocsPerRun(500, func() {
					if _, r := DecapUDPPayload(udpPayload, p.Kind, 0x10203); r != DropNone {
						t.Fatal(r)
					}
				}); n != 0 {
					t.Errorf("DecapUDPPayload allocates %v", n)
				}
			}
		})
	}
}

func TestZeroAllocsInnerHelpers(t *testing.T) {
	p4 := buildInnerUDP4(make([]byte, 600), 0, true, 255)
	p6 := buildInnerUDP6(make([]byte, 600), 0, 255)
	dst := make([]byte, 1500)
	var f Flow
	for name, fn := range map[string]func(){
		"ParseInner":         func() { ParseInner(p4, &f); ParseInner(p6, &f) },
		"DecrementTTL":       func() { p4[IPv4TTLOffset], p6[IPv6HopLimitOffset] = 200, 200; DecrementTTL(p4); DecrementTTL(p6) },
		"FlowHash":           func() { FlowHash(p4); FlowHash(p6) },
		"BuildFragNeeded4":   func() { BuildFragNeeded4(dst, p4, gw4, 1400) },
		"BuildPacketTooBig6": func() { BuildPacketTooBig6(dst, p6, gw6, 1400) },
		"BuildTimeExceeded":  func() { BuildTimeExceeded(dst, p4, gw4); BuildTimeExceeded(dst, p6, gw6) },
		"Checksum":           func() { Checksum(p4, 0) },
		"PrependEthernet":    func() { PrependEthernet(dst, 100, testDstMAC, testSrcMAC, EtherTypeIPv4) },
	} {
		if n := testing.AllocsPerRun(500, fn); n != 0 {
			t.Errorf("%s allocates %v", name, n)
		}
	}
}
