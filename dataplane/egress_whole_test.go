package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"syscall"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/encap"
)

// fakeTunnelGSO records the frames written to it, each with the 24-byte
// header in front, or refuses them with err.
type fakeTunnelGSO struct {
	frames  [][]byte
	err     error
	discard bool
}

var tapMAC = [6]byte{0x02, 0, 0, 0, 0xaa, 0xbb}

func (f *fakeTunnelGSO) Name() string { return "fake-tap" }
func (f *fakeTunnelGSO) MAC() [6]byte { return tapMAC }
func (f *fakeTunnelGSO) Close() error { return nil }
func (f *fakeTunnelGSO) WriteBatch(pkts []*Packet) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	for _, p := range pkts {
		if f.discard {
			continue
		}
		hdr := make([]byte, offload.VirtioNetHdrTunnelLen)
		_ = p.GSO.EncodeTunnel(hdr)
		f.frames = append(f.frames, append(hdr, p.Bytes()...))
	}
	return len(pkts), nil
}

func newWholeEngine(t testing.TB, kind encap.Kind, tap *fakeTunnelGSO) (*Engine, *MemPort) {
	t.Helper()
	ul := NewMemPort("underlay", 64)
	e, err := New(Options{Pod: NewMemPort("pod", 64), Underlay: ul, UDPGSO: true, PodOffloads: true, TunnelGSO: tap})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetConfig(testConfig(kind)); err != nil {
		t.Fatal(err)
	}
	return e, ul
}

// outgoingSuper is a TCP super-packet from a local pod to a remote one,
// as the TUN hands it over: checksum partial, virtio header set.
func outgoingSuper(t testing.TB, v6 bool, payload int) ([]byte, offload.VirtioNetHdr) {
	pkt := tcpPacket(t, v6, payload)
	h := offload.VirtioNetHdr{Flags: offload.FlagNeedsCsum, GSOType: offload.GSOTCPv4, HdrLen: 40, GSOSize: 1400, CsumStart: 20, CsumOffset: 16}
	if v6 {
		copy(pkt[8:24], localPod6.AsSlice())
		copy(pkt[24:40], remotePod6.AsSlice())
		h = offload.VirtioNetHdr{Flags: offload.FlagNeedsCsum, GSOType: offload.GSOTCPv6, HdrLen: 60, GSOSize: 1380, CsumStart: 40, CsumOffset: 16}
	} else {
		copy(pkt[12:16], localPod.AsSlice())
		copy(pkt[16:20], remotePod.AsSlice())
		binary.BigEndian.PutUint16(pkt[10:], 0)
		binary.BigEndian.PutUint16(pkt[10:], encap.Checksum(pkt[:20], 0))
	}
	setTOS(pkt, 0xb9) // DSCP EF, ECT(1): must reach the outer header (RFC 6040)
	partialize(pkt)
	return pkt, h
}

// setTOS writes the IPv4 TOS or IPv6 traffic class byte of pkt.
func setTOS(pkt []byte, tos uint8) {
	if pkt[0]>>4 == 6 {
		binary.BigEndian.PutUint32(pkt[0:], binary.BigEndian.Uint32(pkt[0:])&^(0xff<<20)|uint32(tos)<<20)
		return
	}
	pkt[1] = tos
	binary.BigEndian.PutUint16(pkt[10:], 0)
	binary.BigEndian.PutUint16(pkt[10:], encap.Checksum(pkt[:20], 0))
}

func sendSuper(e *Engine, pkt []byte, h offload.VirtioNetHdr) {
	l := newEgressLoop(e, e.opts.Pod)
	p := l.batch[0]
	p.Reset(Headroom)
	p.SetLen(copy(p.Buf[p.Start:], pkt))
	p.GSO = h
	l.forward(l.batch[:1])
}

// A super-packet leaves as one frame: to the TAP's MAC, outer IPv4 and UDP
// lengths covering all of it, zero outer UDP checksum, the virtio header's
// offsets at the outer UDP, inner IP and inner TCP headers, and the inner
// packet byte for byte as the pod's kernel built it.
func TestEgressSendsSuperPacketsWhole(t *testing.T) {
	for _, kind := range []encap.Kind{encap.KindVXLAN, encap.KindGeneve} {
		for _, v6 := range []bool{false, true} {
			tap := &fakeTunnelGSO{}
			e, ul := newWholeEngine(t, kind, tap)
			inner, h := outgoingSuper(t, v6, 6000)
			sendSuper(e, inner, h)
			if n, _ := ul.Written(); len(n) != 0 || len(tap.frames) != 1 {
				t.Fatalf("%v v6=%v: %d frames to the TAP, %d datagrams to the socket; want 1 and 0", kind, v6, len(tap.frames), len(n))
			}
			raw := tap.frames[0]
			var got offload.VirtioNetHdr
			_ = got.Decode(raw)
			got.OuterTHOffset = binary.LittleEndian.Uint16(raw[20:])
			got.InnerNHOffset = binary.LittleEndian.Uint16(raw[22:])
			frame := raw[offload.VirtioNetHdrTunnelLen:]
			pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
			eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
			if eth == nil || ip == nil || udp == nil {
				t.Fatalf("%v v6=%v: frame does not decode to Ethernet/IPv4/UDP: %v", kind, v6, pkt)
			}
			if [6]byte(eth.DstMAC) != tapMAC {
				t.Errorf("%v v6=%v: frame to %v, want the TAP's own MAC", kind, v6, eth.DstMAC)
			}
			if ip.TOS != 0xb9 {
				t.Errorf("%v v6=%v: outer TOS %#x, want the inner's 0xb9", kind, v6, ip.TOS)
			}
			if want := encap.SourcePort(encap.FlowHash(inner), 0, 0); uint16(udp.SrcPort) != want {
				t.Errorf("%v v6=%v: outer source port %d, want the flow's %d", kind, v6, udp.SrcPort, want)
			}
			if int(ip.Length) != len(frame)-14 || int(udp.Length) != len(frame)-34 || udp.Checksum != 0 {
				t.Errorf("%v v6=%v: ip len %d udp len %d csum %#x for a %d-byte frame", kind, v6, ip.Length, udp.Length, udp.Checksum, len(frame))
			}
			if encap.Checksum(frame[14:34], 0) != 0 {
				t.Errorf("%v v6=%v: outer IPv4 header checksum wrong", kind, v6)
			}
			innerOff := len(frame) - len(inner)
			if !bytes.Equal(frame[innerOff:], inner) {
				t.Errorf("%v v6=%v: the inner packet changed on the way", kind, v6)
			}
			l3 := uint16(h.CsumStart)
			gsoType := uint8(offload.GSOTCPv4 | offload.GSOUDPTunnelIPv4)
			if v6 {
				gsoType = offload.GSOTCPv6 | offload.GSOUDPTunnelIPv4
			}
			want := offload.VirtioNetHdr{
				Flags: offload.FlagNeedsCsum, GSOType: gsoType, HdrLen: uint16(innerOff) + l3 + 20, GSOSize: h.GSOSize,
				CsumStart: uint16(innerOff) + l3, CsumOffset: 16, OuterTHOffset: 34, InnerNHOffset: uint16(innerOff),
			}
			if got != want {
				t.Errorf("%v v6=%v: virtio header\n got %+v\nwant %+v", kind, v6, got, want)
			}
			if e.Counters.Egress.WholeGSO.Load() != 1 || e.Counters.Egress.GSOSuper.Load() != 0 {
				t.Errorf("%v v6=%v: whole %d split %d, want 1 and 0", kind, v6, e.Counters.Egress.WholeGSO.Load(), e.Counters.Egress.GSOSuper.Load())
			}
			assertConserved(t, &e.Counters)
		}
	}
}

// When the kernel refuses the tunnel header (EINVAL), the packet is split
// and sent through the socket instead, and every later one too.
func TestEgressFallsBackWhenTheKernelRefusesTunnelGSO(t *testing.T) {
	tap := &fakeTunnelGSO{err: syscall.EINVAL}
	e, ul := newWholeEngine(t, encap.KindVXLAN, tap)
	inner, h := outgoingSuper(t, false, 4000)
	sendSuper(e, inner, h)
	if e.TunnelGSOActive() {
		t.Fatal("tunnel GSO still active after the kernel refused it")
	}
	tap.err = nil
	sendSuper(e, inner, h)
	got, _ := ul.Written()
	if len(got) != 6 || len(tap.frames) != 0 {
		t.Fatalf("%d datagrams through the socket and %d frames through the TAP; want both super-packets split into 3 each, none whole", len(got), len(tap.frames))
	}
	if e.Counters.Egress.GSOSuper.Load() != 2 {
		t.Errorf("split %d super-packets, want 2", e.Counters.Egress.GSOSuper.Load())
	}
	assertConserved(t, &e.Counters)
}

// IPv6 underlays and UDP super-packets keep the split path.
func TestEgressSplitsWhatTunnelGSOCannotCarry(t *testing.T) {
	tap := &fakeTunnelGSO{}
	e, ul := newWholeEngine(t, encap.KindVXLAN, tap)
	udp := udpPacket(t, localPod, remotePod, 64, false, 3000)
	sendSuper(e, udp, offload.VirtioNetHdr{Flags: offload.FlagNeedsCsum, GSOType: offload.GSOUDPL4, HdrLen: 28, GSOSize: 1000, CsumStart: 20, CsumOffset: 6})
	if got, _ := ul.Written(); len(got) != 3 || len(tap.frames) != 0 {
		t.Errorf("UDP super-packet: %d datagrams, %d whole frames; want 3 and 0", len(got), len(tap.frames))
	}
}

func TestSendWholeAllocatesNothing(t *testing.T) {
	tap := &fakeTunnelGSO{discard: true}
	e, _ := newWholeEngine(t, encap.KindVXLAN, tap)
	inner, h := outgoingSuper(t, false, 30000)
	l := newEgressLoop(e, e.opts.Pod)
	allocs := testing.AllocsPerRun(50, func() {
		for _, p := range l.batch[:8] {
			p.Reset(Headroom)
			p.SetLen(copy(p.Buf[p.Start:], inner))
			p.GSO = h
		}
		l.forward(l.batch[:8])
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per batch of whole super-packets, want 0", allocs)
	}
	if e.Counters.Egress.WholeGSO.Load() == 0 {
		t.Fatal("nothing was sent whole: the measurement measured nothing")
	}
}

// What one node sends whole, the other delivers whole: node 1's frame,
// as the peer's UDP socket reads it, reaches node 2's pod side as one TCP
// super-packet, unchanged, its checksum left partial for the kernel
// (NEEDS_CSUM), and no byte of it is checked or copied into a GRO buffer.
func TestWholeSuperPacketNodeToNode(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		tap := &fakeTunnelGSO{}
		e1, _ := newWholeEngine(t, encap.KindVXLAN, tap)
		inner, h := outgoingSuper(t, v6, 20000)
		sendSuper(e1, inner, h)
		if len(tap.frames) != 1 {
			t.Fatalf("v6=%v: %d frames", v6, len(tap.frames))
		}
		payload := tap.frames[0][offload.VirtioNetHdrTunnelLen+14+20+8:] // what node 2's UDP socket reads

		pod2 := NewMemPort("pod", 64)
		e2, err := New(Options{Pod: pod2, Underlay: NewMemPort("ul", 64), PodOffloads: true})
		if err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(encap.KindVXLAN)
		cfg.LocalUnderlay, cfg.LocalVTEPMAC = peerUnderlay, peerMAC
		cfg.LocalPodCIDRs, cfg.Peers[0] = cfg.Peers[0].PodCIDRs, Peer{Name: "node1", Underlay: ourUnderlay, VTEPMAC: ourMAC,
			PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24"), netip.MustParsePrefix("fd00:244:1::/64")}}
		if err := e2.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
		l := newIngressLoop(e2, e2.opts.Underlay)
		p := l.batch[0]
		p.Reset(Headroom)
		p.SetLen(copy(p.Buf[p.Start:], payload))
		p.Addr = netip.AddrPortFrom(ourUnderlay, 4789)
		l.forward(l.batch[:1])
		if len(l.write) != 1 {
			t.Fatalf("v6=%v: %d packets delivered, want 1 (spoofed %d, not-local %d)", v6, len(l.write), e2.Counters.Drops(ReasonSpoofedSource), e2.Counters.Drops(ReasonNotLocal))
		}
		got := l.write[0]
		if !bytes.Equal(got.Bytes(), inner) || !got.GSO.IsGSO() || got.GSO.Flags != offload.FlagNeedsCsum {
			t.Errorf("v6=%v: delivered %d bytes (same %v) with %+v; want the inner super-packet unchanged, GSO, NEEDS_CSUM",
				v6, got.Len(), bytes.Equal(got.Bytes(), inner), got.GSO)
		}
		if e2.Counters.Ingress.WholeGSO.Load() != 1 || e2.Counters.Ingress.GSOSuper.Load() != 0 {
			t.Errorf("v6=%v: whole %d, GRO-built %d; want 1 and 0", v6, e2.Counters.Ingress.WholeGSO.Load(), e2.Counters.Ingress.GSOSuper.Load())
		}
	}
}

// stageTracer keeps a copy of every event's packet by stage.
type stageTracer struct{ packets map[Stage][]byte }

func (s *stageTracer) Match(Direction, []byte) bool { return true }
func (s *stageTracer) Record(ev *TraceEvent) {
	if s.packets == nil {
		s.packets = map[Stage][]byte{}
	}
	s.packets[ev.Stage] = append([]byte(nil), ev.Packet...)
}

// A traced super-packet sent whole shows the tunnel payload at its encap
// stage, as the socket path does (the capture adds outer IP and UDP).
func TestTraceOfAWholeSuperPacketShowsTheTunnelPayload(t *testing.T) {
	tap := &fakeTunnelGSO{}
	e, _ := newWholeEngine(t, encap.KindVXLAN, tap)
	tr := &stageTracer{}
	e.SetTracer(tr)
	inner, h := outgoingSuper(t, false, 5000)
	sendSuper(e, inner, h)
	got := tr.packets[StageEncap]
	if len(tap.frames) != 1 || len(got) != encap.VXLANLen+encap.EthernetLen+len(inner) || got[0] != 0x08 {
		t.Fatalf("encap stage shows %d bytes starting % x; want the VXLAN payload of %d bytes", len(got), got[:min(len(got), 8)], encap.VXLANLen+encap.EthernetLen+len(inner))
	}
}
