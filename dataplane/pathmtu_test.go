package dataplane

import (
	"encoding/binary"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/encap"
)

func TestPathMTUStoreClampsAndReportsChanges(t *testing.T) {
	var p PathMTU
	for _, c := range []struct {
		mtu     int
		v6      bool
		want    int
		changed bool
	}{
		{1400, false, 1400, true},
		{1400, false, 1400, false},
		{100, false, minPathMTU4, true},
		{1000, true, minPathMTU6, true},
		{1 << 20, false, 0xffff, true},
		{0, false, 0, true},
	} {
		if changed := p.Store(c.mtu, c.v6); changed != c.changed || p.Load() != c.want {
			t.Errorf("Store(%d, v6=%v): %d (changed %v), want %d (changed %v)", c.mtu, c.v6, p.Load(), changed, c.want, c.changed)
		}
	}
}

// pathEngine is newTestEngine (or newWholeEngine with tap) with node 2's
// path MTU learned as pmtu; node 3's stays unknown.
func pathEngine(t *testing.T, pmtu int, tap *fakeTunnelGSO) (*Engine, *MemPort, *MemPort) {
	t.Helper()
	pod, ul := NewMemPort("pod", 64), NewMemPort("underlay", 64)
	opts := Options{Pod: pod, Underlay: ul, UDPGSO: true}
	if tap != nil {
		opts.PodOffloads, opts.TunnelGSO = true, tap
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(encap.KindVXLAN)
	cfg.Peers[0].PathMTU = new(PathMTU)
	cfg.Peers[0].PathMTU.Store(pmtu, false)
	if err := e.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return e, pod, ul
}

// nextHopMTU returns the MTU an ICMP fragmentation needed or packet too
// big in pkt carries, or 0.
func nextHopMTU(pkt []byte) int {
	if pkt[0]>>4 == 6 {
		p := gopacket.NewPacket(pkt, layers.LayerTypeIPv6, gopacket.Default)
		if ic, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ok && ic.TypeCode.Type() == layers.ICMPv6TypePacketTooBig {
			return int(binary.BigEndian.Uint32(ic.Payload[:4]))
		}
		return 0
	}
	p := gopacket.NewPacket(pkt, layers.LayerTypeIPv4, gopacket.Default)
	if ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok && ic.TypeCode == layers.CreateICMPv4TypeCode(3, 4) {
		return int(ic.Seq)
	}
	return 0
}

// A learned path MTU of 1400 leaves VXLAN over IPv4 1350 bytes: bigger
// packets that may not be fragmented are answered with 1350; an IPv4 one
// without DF goes on (the outer is fragmented); another peer's path is
// not affected.
func TestEgressAnswersWithThePathMTU(t *testing.T) {
	e, pod, ul := pathEngine(t, 1400, nil)
	forwardEgress(t, e,
		udpPacket(t, localPod, remotePod, 64, true, 1352),    // 1380, DF: frag needed 1350
		udpPacket(t, localPod6, remotePod6, 64, false, 1332), // 1380: packet too big 1350
		udpPacket(t, localPod, remotePod, 64, false, 1352),   // 1380 without DF: goes on
		udpPacket(t, localPod, remotePod, 64, true, 1322),    // 1350, DF: fits
		udpPacket(t, localPod, thirdPod, 64, true, 1352),     // node 3: the tunnel MTU alone
		udpPacket(t, localPod, remotePod, 64, true, 1432),    // 1460: above the tunnel MTU itself
	)
	if sent, _ := ul.Written(); len(sent) != 3 {
		t.Errorf("%d packets to the underlay, want 3", len(sent))
	}
	icmps, _ := pod.Written()
	if len(icmps) != 3 {
		t.Fatalf("%d ICMP errors, want 3", len(icmps))
	}
	for i, want := range []int{1350, 1350, 1350} {
		if got := nextHopMTU(icmps[i]); got != want {
			t.Errorf("answer %d carries MTU %d, want %d", i, got, want)
		}
	}
	for r, want := range map[Reason]uint64{ReasonPathTooBig: 2, ReasonTooBig: 1} {
		if got := e.Counters.Drops(r); got != want {
			t.Errorf("drops[%s] = %d, want %d", r, got, want)
		}
	}
	assertConserved(t, &e.Counters)
}

// setDF sets an IPv4 packet's don't-fragment bit and fixes its checksum.
func setDF(pkt []byte) {
	pkt[6] |= 0x40
	binary.BigEndian.PutUint16(pkt[10:], 0)
	binary.BigEndian.PutUint16(pkt[10:], encap.Checksum(pkt[:20], 0))
}

// A TCP super-packet whose segments (40 + 1400 bytes) fit the tunnel but
// not the path is answered, neither sent whole nor split; once the path
// takes them it leaves whole again.
func TestEgressAnswersSuperPacketsAboveThePathMTU(t *testing.T) {
	for _, c := range []struct {
		pmtu   int
		answer bool
	}{{1400, true}, {1490, false}} {
		tap := &fakeTunnelGSO{}
		e, pod, ul := pathEngine(t, c.pmtu, tap)
		inner, h := outgoingSuper(t, false, 6000)
		setDF(inner)
		sendSuper(e, inner, h)
		sent, _ := ul.Written()
		icmps, _ := pod.Written()
		if c.answer {
			if len(sent) != 0 || len(tap.frames) != 0 || len(icmps) != 1 || nextHopMTU(icmps[0]) != 1350 {
				t.Errorf("path %d: %d datagrams, %d frames, %d answers; want one answer with 1350 and nothing sent", c.pmtu, len(sent), len(tap.frames), len(icmps))
			}
		} else if len(tap.frames) != 1 || len(icmps) != 0 {
			t.Errorf("path %d: %d frames, %d answers; want it sent whole", c.pmtu, len(tap.frames), len(icmps))
		}
		assertConserved(t, &e.Counters)
	}
}

// Segments that pass the tunnel only to be fragmented (IPv4 without DF)
// leave one datagram per send: the kernel refuses a UDP GSO train whose
// segments exceed the path MTU it knows.
func TestEgressSendsNoTrainAboveThePathMTU(t *testing.T) {
	for _, c := range []struct {
		pmtu   int
		writes uint64
	}{{1400, 3}, {1500, 1}} {
		e, _, ul := pathEngine(t, c.pmtu, nil)
		udp := udpPacket(t, localPod, remotePod, 64, false, 3000)
		sendSuper(e, udp, offload.VirtioNetHdr{Flags: offload.FlagNeedsCsum, GSOType: offload.GSOUDPL4, HdrLen: 28, GSOSize: 1000 + 380, CsumStart: 20, CsumOffset: 6})
		if got, _ := ul.Written(); len(got) != 3 || ul.WrittenCount != c.writes {
			t.Errorf("path %d: %d datagrams in %d writes, want 3 in %d", c.pmtu, len(got), ul.WrittenCount, c.writes)
		}
		assertConserved(t, &e.Counters)
	}
}

// Reading the learned path MTU costs no allocation, forwarded or answered.
func TestPathMTUAllocatesNothing(t *testing.T) {
	e, pod, ul := pathEngine(t, 1400, nil)
	pod.Discard = true
	checkEgressAllocatesNothing(t, e, ul, udpPacket(t, localPod, remotePod, 64, true, 1000))
	if allocs := egressAllocs(e, udpPacket(t, localPod, remotePod, 64, true, 1352)); allocs != 0 {
		t.Errorf("answering: %.1f allocations per batch, want 0", allocs)
	}
	if e.Counters.Drops(ReasonPathTooBig) == 0 {
		t.Fatal("nothing was answered: the measurement measured nothing")
	}
}
