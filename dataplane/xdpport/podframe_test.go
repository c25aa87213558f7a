package xdpport

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/dataplane/offload"
)

// podPacket serializes an IP packet with gopacket, an implementation that
// is not ours, with correct checksums.
func podPacket(t testing.TB, v6 bool, proto layers.IPProtocol, ttl uint8, payload []byte) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	var l4 gopacket.SerializableLayer
	var net4 interface {
		SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
	}
	switch proto {
	case layers.IPProtocolTCP:
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 7, Window: 512, ACK: true, PSH: true}
		l4, net4 = tcp, tcp
	default:
		udp := &layers.UDP{SrcPort: 40000, DstPort: 53}
		l4, net4 = udp, udp
	}
	var ip gopacket.SerializableLayer
	if v6 {
		ip6 := &layers.IPv6{Version: 6, HopLimit: ttl, NextHeader: proto,
			SrcIP: net.ParseIP("fd00:244:1::11"), DstIP: net.ParseIP("fd00:244:2::11")}
		_ = net4.SetNetworkLayerForChecksum(ip6)
		ip = ip6
	} else {
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Protocol: proto, Flags: layers.IPv4DontFragment,
			SrcIP: net.IP{10, 244, 1, 11}, DstIP: net.IP{10, 244, 2, 11}}
		_ = net4.SetNetworkLayerForChecksum(ip4)
		ip = ip4
	}
	if err := gopacket.SerializeLayers(buf, opts, ip, l4, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ethernetFrame(etherType uint16, pkt []byte) []byte {
	f := make([]byte, 14, 14+len(pkt))
	copy(f, []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(f[12:], etherType)
	return append(f, pkt...)
}

// A frame from a pod whose L4 checksum holds only the pseudo-header sum
// (the veth offloads it) comes out as the IP packet gopacket builds with
// one hop less and full checksums.
func TestPodFrameCompletesChecksumAndTakesAHop(t *testing.T) {
	payload := bytes.Repeat([]byte("pod"), 333)
	for _, tc := range []struct {
		name  string
		v6    bool
		proto layers.IPProtocol
	}{
		{"tcp4", false, layers.IPProtocolTCP}, {"udp4", false, layers.IPProtocolUDP},
		{"tcp6", true, layers.IPProtocolTCP}, {"udp6", true, layers.IPProtocolUDP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent := podPacket(t, tc.v6, tc.proto, 64, payload)
			want := podPacket(t, tc.v6, tc.proto, 63, payload)
			etherType := uint16(0x0800)
			ipLen := 20
			if tc.v6 {
				etherType, ipLen = 0x86dd, 40
			}
			field := ipLen + 16
			if tc.proto == layers.IPProtocolUDP {
				field = ipLen + 6
			}
			for _, partial := range []bool{false, true} {
				frame := ethernetFrame(etherType, sent)
				if partial {
					binary.BigEndian.PutUint16(frame[14+field:], 0x1234) // what offload leaves: not the checksum
				}
				off, n, ok := podFrameToIP(frame)
				if !ok || off != 14 || n != len(want) {
					t.Fatalf("partial=%v: podFrameToIP = %d, %d, %v", partial, off, n, ok)
				}
				if got := frame[off : off+n]; !bytes.Equal(got, want) {
					t.Errorf("partial=%v:\n got % x\nwant % x", partial, got, want)
				}
			}
		})
	}
}

func TestPodFrameRefusesWhatTheProgramPasses(t *testing.T) {
	ok4 := podPacket(t, false, layers.IPProtocolUDP, 64, []byte("x"))
	for name, frame := range map[string][]byte{
		"arp":      ethernetFrame(0x0806, make([]byte, 28)),
		"short":    make([]byte, 10),
		"ttl1":     ethernetFrame(0x0800, podPacket(t, false, layers.IPProtocolUDP, 1, []byte("x"))),
		"hoplim1":  ethernetFrame(0x86dd, podPacket(t, true, layers.IPProtocolUDP, 1, []byte("x"))),
		"v6-as-v4": ethernetFrame(0x0800, ok4[:10]),
	} {
		if _, _, ok := podFrameToIP(frame); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// An IPv4 UDP datagram without a checksum keeps none.
func TestPodFrameKeepsAbsentUDPChecksum(t *testing.T) {
	pkt := podPacket(t, false, layers.IPProtocolUDP, 64, []byte("no checksum"))
	binary.BigEndian.PutUint16(pkt[26:], 0)
	frame := ethernetFrame(0x0800, pkt)
	if _, _, ok := podFrameToIP(frame); !ok {
		t.Fatal("refused")
	}
	if c := binary.BigEndian.Uint16(frame[14+26:]); c != 0 {
		t.Errorf("checksum %#x, want 0 (none)", c)
	}
}

func TestIPToPodFrame(t *testing.T) {
	pkt := podPacket(t, true, layers.IPProtocolTCP, 63, []byte("to the pod"))
	want := podPacket(t, true, layers.IPProtocolTCP, 62, []byte("to the pod"))
	buf := make([]byte, 64+len(pkt))
	copy(buf[64:], pkt)
	pod, gw := [6]byte{2, 1, 1, 1, 1, 1}, [6]byte{2, 9, 9, 9, 9, 9}
	start, ok := ipToPodFrame(buf, 64, len(buf), pod, gw)
	if !ok || start != 50 {
		t.Fatalf("ipToPodFrame = %d, %v", start, ok)
	}
	if wantFrame := append(append(append([]byte{}, pod[:]...), gw[:]...), append([]byte{0x86, 0xdd}, want...)...); !bytes.Equal(buf[start:], wantFrame) {
		t.Errorf("frame\n got % x\nwant % x", buf[start:], wantFrame)
	}
	if _, ok := ipToPodFrame(buf, 10, len(buf), pod, gw); ok {
		t.Error("no headroom: accepted")
	}
}

func TestPodFrameAllocatesNothing(t *testing.T) {
	frame := ethernetFrame(0x0800, podPacket(t, false, layers.IPProtocolTCP, 255, make([]byte, 1400)))
	allocs := testing.AllocsPerRun(100, func() {
		frame[14+8] = 64 // TTL back up, checksum is recomputed incrementally anyway
		podFrameToIP(frame)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations, want 0", allocs)
	}
}

// Any bytes: no panic, the packet is where the frame says, and a TCP or
// UDP checksum that completeL4Checksum writes verifies by the dataplane's
// own, separately written check (offload.CheckL4).
func FuzzPodFrame(f *testing.F) {
	f.Add(ethernetFrame(0x0800, podPacket(f, false, layers.IPProtocolTCP, 64, []byte("seed"))))
	f.Add(ethernetFrame(0x86dd, podPacket(f, true, layers.IPProtocolUDP, 64, []byte("seed"))))
	f.Add(ethernetFrame(0x0800, []byte{0x4f, 0, 0, 20}))
	f.Fuzz(func(t *testing.T, frame []byte) {
		off, n, ok := podFrameToIP(frame)
		if !ok {
			return
		}
		if off != 14 || off+n != len(frame) {
			t.Fatalf("packet at %d+%d of %d", off, n, len(frame))
		}
		pkt := frame[off : off+n]
		if !completeL4Checksum(pkt) {
			return
		}
		// CheckL4 reads a packet cut to its IP length, as the engine hands
		// it (Ethernet padding stripped).
		ipLen := 40 + int(binary.BigEndian.Uint16(pkt[4:]))
		if pkt[0]>>4 == 4 {
			ipLen = int(binary.BigEndian.Uint16(pkt[2:]))
		}
		if pkt = pkt[:ipLen]; offload.CheckL4(pkt) != offload.L4Valid {
			t.Fatalf("checksum written but CheckL4 says %v: % x", offload.CheckL4(pkt), pkt)
		}
	})
}
