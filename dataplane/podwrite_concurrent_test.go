package dataplane

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

// oneWriterPort is a pod port that counts WriteBatch calls overlapping in
// time: the Port contract allows one writer at a time (a TUN keeps its
// write state per port).
type oneWriterPort struct {
	*MemPort
	inside, overlaps atomic.Int32
}

func (p *oneWriterPort) WriteBatch(pkts []*Packet) (int, error) {
	if p.inside.Add(1) > 1 {
		p.overlaps.Add(1)
	}
	defer p.inside.Add(-1)
	for range 200 { // widen the window a real write(2) has
		_ = p.inside.Load()
	}
	return p.MemPort.WriteBatch(pkts)
}

// ipipFrom wraps inner in the outer IPv4 header the peer would send
// (protocol 4 for IPv4 inside, 41 for IPv6).
func ipipFrom(inner []byte) []byte {
	out := make([]byte, 20+len(inner))
	h := out[:20]
	h[0], h[8] = 0x45, 64
	h[9] = 4
	if inner[0]>>4 == 6 {
		h[9] = 41
	}
	binary.BigEndian.PutUint16(h[2:], uint16(len(out)))
	s, d := peerUnderlay.As4(), ourUnderlay.As4()
	copy(h[12:16], s[:])
	copy(h[16:20], d[:])
	binary.BigEndian.PutUint16(h[10:], encap.Checksum(h, 0))
	copy(out[20:], inner)
	return out
}

// With IPIP the engine runs two ingress loops (protocols 4 and 41), both
// delivering to the one pod port: their writes must never overlap. Before
// they were serialized, a TUN's shared write state let one loop's count
// leak into the other's and the daemon crashed on a nil packet.
func TestConcurrentIngressLoopsShareThePodPort(t *testing.T) {
	pod := &oneWriterPort{MemPort: NewMemPort("tun", 64)}
	pod.Discard = true
	ul4, ul6 := NewMemPort("ipip4", 64), NewMemPort("ipip6", 64)
	e, err := New(Options{Pod: pod, Underlay: ul4, Underlay6: ul6, UnderlayKind: UnderlayIP})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetConfig(testConfig(encap.KindIPIP)); err != nil {
		t.Fatal(err)
	}
	in4 := ipipFrom(udpPacket(t, remotePod, localPod, 63, true, 200))
	in6 := ipipFrom(udpPacket(t, remotePod6, localPod6, 63, false, 200))
	var wg sync.WaitGroup
	for _, c := range []struct {
		port Port
		pkt  []byte
	}{{ul4, in4}, {ul6, in6}} {
		l := newIngressLoop(e, c.port)
		wg.Go(func() {
			for range 300 {
				for _, p := range l.batch[:8] {
					p.Reset(Headroom)
					p.SetLen(copy(p.Buf[p.Start:], c.pkt))
				}
				l.forward(l.batch[:8])
			}
		})
	}
	wg.Wait()
	if got, want := e.Counters.Ingress.Tx.Packets.Load(), uint64(2*300*8); got != want {
		t.Fatalf("delivered %d packets, want %d", got, want)
	}
	if n := pod.overlaps.Load(); n != 0 {
		t.Errorf("%d pod-port writes overlapped another", n)
	}
}

// With a direct pod port the engine runs two egress loops (the TUN's and
// the direct port's), both sending on the one underlay port: their writes
// must never overlap either (an AF_XDP TX ring has one producer).
func TestConcurrentEgressLoopsShareTheUnderlay(t *testing.T) {
	ul := &oneWriterPort{MemPort: NewMemPort("underlay", 64)}
	ul.Discard = true
	direct := &memDirect{MemPort: NewMemPort("pods", 64)}
	e, err := New(Options{Pod: NewMemPort("tun", 64), Underlay: ul, Local: NewMemPort("local", 64), PodDirect: direct})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetConfig(testConfig(encap.KindVXLAN)); err != nil {
		t.Fatal(err)
	}
	pkt := udpPacket(t, localPod, remotePod, 64, false, 200)
	var wg sync.WaitGroup
	for _, port := range []Port{e.opts.Pod, direct} {
		l := newEgressLoop(e, port)
		wg.Go(func() {
			for range 300 {
				for _, p := range l.batch[:8] {
					p.Reset(Headroom)
					p.SetLen(copy(p.Buf[p.Start:], pkt))
				}
				l.forward(l.batch[:8])
			}
		})
	}
	wg.Wait()
	if got, want := e.Counters.Egress.Tx.Packets.Load(), uint64(2*300*8); got != want {
		t.Fatalf("sent %d packets, want %d", got, want)
	}
	if n := ul.overlaps.Load(); n != 0 {
		t.Errorf("%d underlay writes overlapped another", n)
	}
}
