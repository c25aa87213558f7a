package offload

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// pktSpec describes a TCP or UDP packet built by gopacket, the independent
// encoder every expectation in these tests comes from.
type pktSpec struct {
	v6            bool
	udp           bool
	src, dst      string
	sport, dport  uint16
	seq, ack      uint32
	psh, fin, cwr bool
	ece           bool
	syn, urg      bool
	ttl, tos      uint8
	df            bool
	id            uint16
	window        uint16
	tsVal         uint32 // adds a timestamp option when non-zero
	ipv4Opts      bool   // adds a 4-byte IPv4 option (IHL 6)
	payload       []byte
}

func baseSpec(v6 bool) pktSpec {
	s := pktSpec{v6: v6, src: "10.244.1.2", dst: "10.244.2.3", sport: 40000, dport: 5201,
		seq: 1000, ack: 77, ttl: 64, df: true, id: 0x1234, window: 512}
	if v6 {
		s.src, s.dst = "fd00:10:244:1::2", "fd00:10:244:2::3"
	}
	return s
}

func payloadBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

// build serializes s with gopacket, lengths and checksums computed by it.
func build(t testing.TB, s pktSpec) []byte {
	t.Helper()
	var net_ gopacket.NetworkLayer
	var ipLayer gopacket.SerializableLayer
	proto := layers.IPProtocolTCP
	if s.udp {
		proto = layers.IPProtocolUDP
	}
	if s.v6 {
		ip := &layers.IPv6{Version: 6, TrafficClass: s.tos, HopLimit: s.ttl, NextHeader: proto,
			SrcIP: net.ParseIP(s.src), DstIP: net.ParseIP(s.dst)}
		net_, ipLayer = ip, ip
	} else {
		ip := &layers.IPv4{Version: 4, TOS: s.tos, TTL: s.ttl, Protocol: proto, Id: s.id,
			SrcIP: net.ParseIP(s.src).To4(), DstIP: net.ParseIP(s.dst).To4()}
		if s.df {
			ip.Flags = layers.IPv4DontFragment
		}
		if s.ipv4Opts {
			ip.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
		}
		net_, ipLayer = ip, ip
	}
	var l4 gopacket.SerializableLayer
	if s.udp {
		u := &layers.UDP{SrcPort: layers.UDPPort(s.sport), DstPort: layers.UDPPort(s.dport)}
		if err := u.SetNetworkLayerForChecksum(net_); err != nil {
			t.Fatal(err)
		}
		l4 = u
	} else {
		tcp := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport),
			Seq: s.seq, Ack: s.ack, ACK: !s.syn || s.ack != 0, PSH: s.psh, FIN: s.fin, CWR: s.cwr,
			ECE: s.ece, SYN: s.syn, URG: s.urg, Window: s.window}
		if s.tsVal != 0 {
			ts := make([]byte, 8)
			binary.BigEndian.PutUint32(ts, s.tsVal)
			binary.BigEndian.PutUint32(ts[4:], 99)
			tcp.Options = []layers.TCPOption{
				{OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop},
				{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: ts}}
		}
		if err := tcp.SetNetworkLayerForChecksum(net_); err != nil {
			t.Fatal(err)
		}
		l4 = tcp
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ipLayer, l4, gopacket.Payload(s.payload)); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// ipHdrLenOf returns the IP header length of a packet built by build.
func ipHdrLenOf(pkt []byte) int {
	if pkt[0]>>4 == 6 {
		return 40
	}
	return int(pkt[0]&0xf) * 4
}

// superPacket builds s as a GSO super-packet the way the kernel hands it to a
// TUN: the L4 checksum field holds only the pseudo-header sum.
func superPacket(t testing.TB, s pktSpec, mss int) ([]byte, VirtioNetHdr) {
	t.Helper()
	pkt := build(t, s)
	ipLen := ipHdrLenOf(pkt)
	hdr := VirtioNetHdr{Flags: FlagNeedsCsum, GSOSize: uint16(mss), CsumStart: uint16(ipLen)}
	l4Hdr := 8
	switch {
	case s.udp:
		hdr.GSOType, hdr.CsumOffset = GSOUDPL4, 6
	case s.v6:
		hdr.GSOType, hdr.CsumOffset = GSOTCPv6, 16
	default:
		hdr.GSOType, hdr.CsumOffset = GSOTCPv4, 16
	}
	if !s.udp {
		l4Hdr = int(pkt[ipLen+12]>>4) * 4
	}
	hdr.HdrLen = uint16(ipLen + l4Hdr)
	writePartial(pkt, ipLen, int(hdr.CsumOffset))
	return pkt, hdr
}

// writePartial replaces the L4 checksum with the pseudo-header sum, computed
// by the naive reference below.
func writePartial(pkt []byte, ipLen, csumOffset int) {
	v6 := pkt[0]>>4 == 6
	var ph []byte
	l4Len := len(pkt) - ipLen
	if v6 {
		ph = append(ph, pkt[8:40]...)
		ph = append(ph, 0, 0, byte(l4Len>>8), byte(l4Len), 0, 0, 0, pkt[6])
	} else {
		ph = append(ph, pkt[12:20]...)
		ph = append(ph, 0, pkt[9], byte(l4Len>>8), byte(l4Len))
	}
	binary.BigEndian.PutUint16(pkt[ipLen+csumOffset:], ^refChecksum(ph))
}

// refChecksum is a deliberately naive RFC 1071 checksum (16-bit words into a
// uint32, folded at the end), independent of the package's 64-bit one.
func refChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// refL4Valid verifies a TCP/UDP checksum with the naive reference.
func refL4Valid(pkt []byte) bool {
	v6 := pkt[0]>>4 == 6
	ipLen := ipHdrLenOf(pkt)
	var ph []byte
	l4Len := len(pkt) - ipLen
	if v6 {
		ph = append(ph, pkt[8:40]...)
		ph = append(ph, 0, 0, byte(l4Len>>8), byte(l4Len), 0, 0, 0, pkt[6])
	} else {
		ph = append(ph, pkt[12:20]...)
		ph = append(ph, 0, pkt[9], byte(l4Len>>8), byte(l4Len))
	}
	return refChecksum(append(ph, pkt[ipLen:]...)) == 0
}

// gopacketTCPValid decodes pkt with gopacket and asks it to verify the TCP
// checksum: ComputeChecksum over a segment whose checksum is right is zero.
func gopacketTCPValid(t testing.TB, pkt []byte) bool {
	t.Helper()
	first := layers.LayerTypeIPv4
	if pkt[0]>>4 == 6 {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(pkt, first, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("gopacket cannot decode: %v", el.Error())
	}
	tcp, ok := p.TransportLayer().(*layers.TCP)
	if !ok {
		t.Fatalf("gopacket found no TCP layer")
	}
	if err := tcp.SetNetworkLayerForChecksum(p.NetworkLayer()); err != nil {
		t.Fatal(err)
	}
	c, err := tcp.ComputeChecksum()
	if err != nil {
		t.Fatal(err)
	}
	return c == 0
}
