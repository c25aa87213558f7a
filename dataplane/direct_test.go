package dataplane

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

// memDirect is a DirectPort over a MemPort that reaches a fixed set of pods.
type memDirect struct {
	*MemPort
	pods map[netip.Addr]bool
}

func (d *memDirect) Reaches(dst netip.Addr) bool { return d.pods[dst] }

func newDirectEngine(t testing.TB, reach ...netip.Addr) (*Engine, *MemPort, *memDirect, *MemPort) {
	t.Helper()
	pod := NewMemPort("tun", 64)
	ul := NewMemPort("underlay", 64)
	local := NewMemPort("local", 64)
	d := &memDirect{MemPort: NewMemPort("pods", 64), pods: map[netip.Addr]bool{}}
	for _, a := range reach {
		d.pods[a] = true
	}
	e, err := New(Options{Pod: pod, Underlay: ul, Local: local, PodDirect: d, UnderlayKind: UnderlayUDP})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetConfig(testConfig(encap.KindVXLAN)); err != nil {
		t.Fatal(err)
	}
	return e, pod, d, ul
}

func TestDirectPortNeedsLocal(t *testing.T) {
	d := &memDirect{MemPort: NewMemPort("pods", 8)}
	if _, err := New(Options{Pod: NewMemPort("tun", 8), Underlay: NewMemPort("ul", 8), PodDirect: d}); err == nil {
		t.Fatal("an engine with a direct pod port and no Local port was accepted")
	}
}

// A decapsulated packet goes to the direct port exactly when that port
// reaches its destination and the packet may take one more hop; every
// other packet takes the TUN, as before.
func TestIngressDeliversThroughDirectPort(t *testing.T) {
	other := netip.MustParseAddr("10.244.1.99")
	e, tun, direct, _ := newDirectEngine(t, localPod, localPod6)
	cfg := testConfig(encap.KindVXLAN)
	reached := udpPacket(t, remotePod, localPod, 63, true, 300)
	reached6 := udpPacket(t, remotePod6, localPod6, 63, false, 300)
	notReached := udpPacket(t, remotePod, other, 63, true, 300)
	lastHop := udpPacket(t, remotePod, localPod, 1, true, 300)
	from := netip.AddrPortFrom(peerUnderlay, 33333)
	var payloads [][]byte
	for _, in := range [][]byte{reached, notReached, reached6, lastHop} {
		payloads = append(payloads, tunnelPayload(t, cfg, cfg.Peers[0], in, 42))
	}
	forwardIngress(t, e, from, payloads...)

	got, _ := direct.Written()
	if len(got) != 2 || !bytes.Equal(got[0], reached) || !bytes.Equal(got[1], reached6) {
		t.Errorf("direct port got %d packets, want the 2 reachable inner packets byte for byte", len(got))
	}
	viaTUN, _ := tun.Written()
	if len(viaTUN) != 2 || !bytes.Equal(viaTUN[0], notReached) || !bytes.Equal(viaTUN[1], lastHop) {
		t.Errorf("TUN got %d packets, want the unreachable one and the TTL-1 one", len(viaTUN))
	}
	if n := e.Counters.Ingress.Tx.Packets.Load(); n != 4 {
		t.Errorf("ingress tx packets %d, want 4 (both ports count)", n)
	}
	if n := e.Counters.Ingress.Tunnel.Load(); n != 4 {
		t.Errorf("decapsulated %d, want 4", n)
	}
}

// The direct port's own egress loop encapsulates toward the peer exactly
// as the TUN's does, and its ICMP errors go to the Local port.
func TestEgressFromDirectPort(t *testing.T) {
	e, tun, direct, ul := newDirectEngine(t, localPod)
	l := newEgressLoop(e, direct)
	toPeer := udpPacket(t, localPod, remotePod, 64, false, 200)
	expiring := udpPacket(t, localPod, remotePod, 0, false, 200)
	for i, pkt := range [][]byte{toPeer, expiring} {
		p := l.batch[i]
		p.Reset(Headroom)
		p.SetLen(copy(p.Buf[p.Start:], pkt))
	}
	l.forward(l.batch[:2])
	sent, addrs := ul.Written()
	if len(sent) != 1 || addrs[0].Addr() != peerUnderlay {
		t.Fatalf("underlay got %d packets (%v), want 1 to %v", len(sent), addrs, peerUnderlay)
	}
	if !bytes.Equal(sent[0][len(sent[0])-len(toPeer):], toPeer) {
		t.Error("encapsulated packet does not end with the pod's packet")
	}
	if local, _ := e.opts.Local.(*MemPort).Written(); len(local) != 1 {
		t.Errorf("Local port got %d ICMP errors, want 1 (time exceeded)", len(local))
	}
	if w, _ := tun.Written(); len(w) != 0 {
		t.Errorf("TUN written %d packets by the direct egress loop, want 0", len(w))
	}
	if n := e.Counters.Egress.Rx.Packets.Load(); n != 2 {
		t.Errorf("egress rx %d, want 2", n)
	}
}

func TestIngressDirectAllocatesNothing(t *testing.T) {
	e, _, direct, _ := newDirectEngine(t, localPod)
	direct.Discard = true
	cfg := testConfig(encap.KindVXLAN)
	payload := tunnelPayload(t, cfg, cfg.Peers[0], udpPacket(t, remotePod, localPod, 63, true, 1000), 42)
	l := newIngressLoop(e, e.opts.Underlay)
	n := len(l.batch)
	from := netip.AddrPortFrom(peerUnderlay, 33333)
	allocs := testing.AllocsPerRun(50, func() {
		for _, p := range l.batch {
			p.Reset(Headroom)
			p.SetLen(copy(p.Buf[p.Start:], payload))
			p.Addr = from
		}
		l.forward(l.batch[:n])
	})
	if allocs != 0 {
		t.Errorf("ingress through the direct port: %.1f allocations per batch, want 0", allocs)
	}
	if e.Counters.Ingress.Tx.Packets.Load() == 0 {
		t.Fatal("nothing was delivered: the measurement measured nothing")
	}
}

// sendTracer keeps the port of every StageSend event.
type sendTracer struct{ ports []string }

func (s *sendTracer) Match(Direction, []byte) bool { return true }
func (s *sendTracer) Record(ev *TraceEvent) {
	if ev.Stage == StageSend {
		s.ports = append(s.ports, ev.Port)
	}
}

// What-if answers name the port the engine would really use.
func TestSimulateNamesTheDirectPort(t *testing.T) {
	e, _, _, _ := newDirectEngine(t, localPod)
	for _, tc := range []struct {
		dst  netip.Addr
		want string
	}{
		{localPod, "pods"},
		{netip.MustParseAddr("10.244.1.99"), "tun"},
	} {
		frame := peerFrames(t, udpPacket(t, remotePod, tc.dst, 63, true, 100))[0] // as node 2 sends it
		tr := &sendTracer{}
		e.Simulate(Ingress, frame[encap.EthernetLen:], tr)
		if len(tr.ports) != 1 || tr.ports[0] != tc.want {
			t.Errorf("to %s: simulated delivery through %v, want %s", tc.dst, tr.ports, tc.want)
		}
	}
}

// dropTracer keeps the reason of every StageDrop event.
type dropTracer struct{ reasons []Reason }

func (d *dropTracer) Match(Direction, []byte) bool { return true }
func (d *dropTracer) Record(ev *TraceEvent) {
	if ev.Stage == StageDrop {
		d.reasons = append(d.reasons, ev.Reason)
	}
}

// A what-if packet toward a peer whose next hop is unresolved (frame mode)
// ends where the engine would drop it.
func TestSimulateNeighbourUnresolved(t *testing.T) {
	e, _, _ := newFrameEngine(t, encap.KindVXLAN)
	cfg := testConfig(encap.KindVXLAN)
	cfg.LocalUnderlayMAC = ourUnderlayMAC
	cfg.Peers[0].UnderlayMAC = [6]byte{}
	if err := e.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	tr := &dropTracer{}
	e.Simulate(Egress, udpPacket(t, localPod, remotePod, 64, false, 100), tr)
	if len(tr.reasons) != 1 || tr.reasons[0] != ReasonNeighbourUnresolved {
		t.Errorf("simulated drops %v, want [neighbour-unresolved]", tr.reasons)
	}
}
