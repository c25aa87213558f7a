package dataplane

import (
	"encoding/binary"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/encap"
)

// tcpPacket serializes an IPv4 or IPv6 TCP packet with gopacket.
func tcpPacket(t testing.TB, v6 bool, payloadLen int) []byte {
	t.Helper()
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 5001, Seq: 1000, ACK: true, Ack: 5, Window: 500}
	payload := make([]byte, payloadLen)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	var err error
	if v6 {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: remotePod6.AsSlice(), DstIP: localPod6.AsSlice()}
		tcp.SetNetworkLayerForChecksum(ip)
		err = gopacket.SerializeLayers(buf, opts, ip, tcp, gopacket.Payload(payload))
	} else {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: remotePod.AsSlice(), DstIP: localPod.AsSlice()}
		tcp.SetNetworkLayerForChecksum(ip)
		err = gopacket.SerializeLayers(buf, opts, ip, tcp, gopacket.Payload(payload))
	}
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// partialize replaces the TCP checksum with the pseudo-header sum only, as
// a sender's kernel leaves it under CHECKSUM_PARTIAL.
func partialize(pkt []byte) {
	l3, pseudo := 20, uint32(0)
	if pkt[0]>>4 == 6 {
		l3 = 40
		pseudo = encap.PseudoHeader6((*[16]byte)(pkt[8:24]), (*[16]byte)(pkt[24:40]), 6, len(pkt)-l3)
	} else {
		pseudo = encap.PseudoHeader4([4]byte(pkt[12:16]), [4]byte(pkt[16:20]), 6, len(pkt)-l3)
	}
	binary.BigEndian.PutUint16(pkt[l3+16:], uint16(encap.Fold(pseudo)))
}

func TestCheckInnerL4(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		good := tcpPacket(t, v6, 777)
		if got := offload.CheckL4(append([]byte(nil), good...)); got != offload.L4Valid {
			t.Errorf("v6=%v: a gopacket-built packet checks as %d, want valid", v6, got)
		}
		partial := append([]byte(nil), good...)
		partialize(partial)
		if got := offload.CheckL4(partial); got != offload.L4Partial {
			t.Fatalf("v6=%v: a partial checksum checks as %d, want partial", v6, got)
		}
		if string(partial) != string(good) {
			t.Errorf("v6=%v: completing a partial checksum did not give the sender's full checksum", v6)
		}
		bad := append([]byte(nil), good...)
		bad[len(bad)-1] ^= 0x40
		if got := offload.CheckL4(bad); got != offload.L4Bad {
			t.Errorf("v6=%v: a corrupted payload checks as %d, want bad", v6, got)
		}
	}
}

func TestIngressDropsCorruptedInnerPacket(t *testing.T) {
	e, pod, _ := newTestEngine(t, encap.KindVXLAN)
	cfg := testConfig(encap.KindVXLAN)
	bad := tcpPacket(t, false, 100)
	bad[len(bad)-1] ^= 1
	forwardIngress(t, e, netipPeer(), tunnelPayload(t, cfg, cfg.Peers[0], bad, 42))
	if pkts, _ := pod.Written(); len(pkts) != 0 {
		t.Fatal("a packet with a wrong TCP checksum was delivered")
	}
	if e.Counters.Drops(ReasonBadInnerChecksum) != 1 {
		t.Fatal("bad-inner-checksum not counted")
	}
}

func TestMarkSuperPacketForKernelSegmentation(t *testing.T) {
	pkt := tcpPacket(t, false, 4000) // a GSO skb from a veth-backed sender
	partialize(pkt)
	var flow encap.Flow
	if r := encap.ParseInner(pkt, &flow); r != encap.DropNone {
		t.Fatal(r)
	}
	var p Packet
	if r, _ := markSuperPacket(&p, append([]byte(nil), pkt...), &flow, 1450, true); r != ReasonBadInnerChecksum {
		t.Fatalf("a partial super-packet under DropPartialChecksums: %v, want bad-inner-checksum", r)
	}
	r, partial := markSuperPacket(&p, pkt, &flow, 1450, false)
	if r != ReasonNone || !partial {
		t.Fatalf("a TCP super-packet with a partial checksum: %v (partial %v), want accepted as partial", r, partial)
	}
	// Segments of at most 1280 bytes: the sender's size is unknown and
	// the pod's link may be below the tunnel MTU.
	want := offload.VirtioNetHdr{Flags: offload.FlagNeedsCsum, GSOType: offload.GSOTCPv4, HdrLen: 40, GSOSize: 1240, CsumStart: 20, CsumOffset: 16}
	if p.GSO != want {
		t.Errorf("virtio header %+v, want %+v", p.GSO, want)
	}
	// Let our own segmenter play the kernel: every segment must verify.
	outs := make([][]byte, 8)
	for i := range outs {
		outs[i] = make([]byte, 1500)
	}
	sizes := make([]int, 8)
	n, err := offload.Segment(pkt, &p.GSO, outs, 0, sizes)
	if err != nil || n != 4 {
		t.Fatalf("segmenting: %d segments, %v; want 4", n, err)
	}
	for i := 0; i < n; i++ {
		seg := gopacket.NewPacket(outs[i][:sizes[i]], layers.LayerTypeIPv4, gopacket.Default)
		tcp, ok := seg.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok {
			t.Fatalf("segment %d does not decode as TCP", i)
		}
		if got := offload.CheckL4(outs[i][:sizes[i]]); got != offload.L4Valid {
			t.Errorf("segment %d (seq %d) has an invalid checksum", i, tcp.Seq)
		}
	}
	udp := udpPacket(t, remotePod, localPod, 64, false, 3000)
	_ = encap.ParseInner(udp, &flow)
	if r, _ := markSuperPacket(&p, udp, &flow, 1450, false); r != ReasonOversizeInner {
		t.Errorf("a UDP super-packet: %v, want oversize-inner; its datagram boundaries are unknown", r)
	}
}

// An oversize TCP segment that carries a real checksum (sent as one
// datagram, fragmented on the wire) is verified before the kernel is told
// to recompute checksums: a wrong one is dropped, never laundered into a
// valid one; a right one goes on as a super-packet.
func TestMarkSuperPacketVerifiesRealChecksums(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		var flow encap.Flow
		var p Packet
		good := tcpPacket(t, v6, 8900)
		_ = encap.ParseInner(good, &flow)
		if r, partial := markSuperPacket(&p, good, &flow, 1450, true); r != ReasonNone || partial {
			t.Errorf("v6=%v: a verified oversize segment: %v, want accepted", v6, r)
		}
		if p.GSO.Flags != offload.FlagNeedsCsum {
			t.Errorf("v6=%v: flags %d, want NEEDS_CSUM", v6, p.GSO.Flags)
		}
		bad := tcpPacket(t, v6, 8900)
		bad[len(bad)-100] ^= 0x40
		_ = encap.ParseInner(bad, &flow)
		orig := append([]byte(nil), bad...)
		if r, _ := markSuperPacket(&p, bad, &flow, 1450, false); r != ReasonBadInnerChecksum {
			t.Errorf("v6=%v: a corrupted oversize segment: %v, want bad-inner-checksum", v6, r)
		}
		if string(orig) != string(bad) {
			t.Errorf("v6=%v: the refused packet was modified", v6)
		}
	}
}

// With GRO on, a TCP segment the coalescer verified but could not merge is
// marked DATA_VALID without a second check, and a corrupted one is still
// dropped, never marked valid.
func TestIngressGROPassThroughChecksums(t *testing.T) {
	pod, ul := NewMemPort("pod", 64), NewMemPort("ul", 64)
	e, err := New(Options{Pod: pod, Underlay: ul, PodOffloads: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(encap.KindVXLAN)
	if err := e.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	good := tcpPacket(t, false, 100)
	bad := tcpPacket(t, true, 100)
	bad[len(bad)-1] ^= 1
	l := newIngressLoop(e, ul)
	for i, inner := range [][]byte{good, bad} {
		p := l.batch[i]
		p.Reset(Headroom)
		p.SetLen(copy(p.Buf[p.Start:], tunnelPayload(t, cfg, cfg.Peers[0], inner, 42)))
		p.Addr = netipPeer()
	}
	l.forward(l.batch[:2])
	if n := e.Counters.Drops(ReasonBadInnerChecksum); n != 1 {
		t.Errorf("bad-inner-checksum drops %d, want 1", n)
	}
	if pod.WrittenCount != 1 {
		t.Fatalf("delivered %d packets, want the good one", pod.WrittenCount)
	}
	if got := l.write[0].GSO.Flags; got != offload.FlagDataValid {
		t.Errorf("delivered packet's virtio flags %d, want DATA_VALID", got)
	}
	assertConserved(t, &e.Counters)
}

// A zero-length datagram is received and dropped as empty, never lost
// without a count.
func TestIngressCountsEmptyDatagrams(t *testing.T) {
	e, _, _ := newTestEngine(t, encap.KindVXLAN)
	forwardIngress(t, e, netipPeer(), []byte{})
	if got := e.Counters.Drops(ReasonEmpty); got != 1 {
		t.Errorf("empty drops %d, want 1", got)
	}
	if got := e.Counters.Ingress.Rx.Packets.Load(); got != 1 {
		t.Errorf("rx packets %d, want 1", got)
	}
	assertConserved(t, &e.Counters)
}

// With a TUN that takes USO, a run of UDP datagrams of one flow leaves as
// one UDP_L4 GSO write; a corrupted datagram among them is dropped as
// bad-inner-checksum, never merged; without USO each goes alone.
func TestIngressMergesUDPOnlyWithUSO(t *testing.T) {
	for _, uso := range []bool{true, false} {
		pod, ul := NewMemPort("pod", 64), NewMemPort("ul", 64)
		e, err := New(Options{Pod: pod, Underlay: ul, PodOffloads: true, PodUDPOffloads: uso})
		if err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(encap.KindVXLAN)
		if err := e.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
		var payloads [][]byte
		for i := range 10 {
			inner := udpPacket(t, remotePod, localPod, 64, false, 64)
			if i == 4 {
				inner[len(inner)-1] ^= 0x10
			}
			payloads = append(payloads, tunnelPayload(t, cfg, cfg.Peers[0], inner, 42))
		}
		forwardIngress(t, e, netipPeer(), payloads...)
		if n := e.Counters.Drops(ReasonBadInnerChecksum); n != 1 {
			t.Errorf("uso=%v: bad-inner-checksum drops %d, want 1", uso, n)
		}
		want := uint64(9)
		if uso {
			want = 1
		}
		if pod.WrittenCount != want {
			t.Fatalf("uso=%v: %d writes, want %d", uso, pod.WrittenCount, want)
		}
		if pkts, _ := pod.Written(); uso && len(pkts[0]) != 20+8+9*64 {
			t.Errorf("merged write is %d bytes, want one IPv4/UDP header and 9 payloads", len(pkts[0]))
		}
	}
}

// A small packet with a partial checksum is delivered completed and
// counted by default, and dropped as bad-inner-checksum under
// DropPartialChecksums; a super-packet likewise.
func TestIngressPartialChecksumPolicy(t *testing.T) {
	for _, drop := range []bool{false, true} {
		for _, size := range []int{100, 4000} {
			e, pod, _ := newTestEngine(t, encap.KindVXLAN)
			e.opts.PodOffloads = size > 1000 // super-packets need a TUN with offloads
			cfg := testConfig(encap.KindVXLAN)
			cfg.DropPartialChecksums = drop
			if err := e.SetConfig(cfg); err != nil {
				t.Fatal(err)
			}
			pkt := tcpPacket(t, false, size)
			partialize(pkt)
			forwardIngress(t, e, netipPeer(), tunnelPayload(t, cfg, cfg.Peers[0], pkt, 42))
			pkts, _ := pod.Written()
			partial, bad := e.Counters.Ingress.PartialChecksums.Load(), e.Counters.Drops(ReasonBadInnerChecksum)
			if drop && (len(pkts) != 0 || bad != 1 || partial != 0) {
				t.Errorf("size %d, drop: delivered %d, bad-inner-checksum %d, partial %d; want 0, 1, 0", size, len(pkts), bad, partial)
			}
			if !drop && (len(pkts) != 1 || bad != 0 || partial != 1) {
				t.Errorf("size %d, trust: delivered %d, bad-inner-checksum %d, partial %d; want 1, 0, 1", size, len(pkts), bad, partial)
			}
		}
	}
}
