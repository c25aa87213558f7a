package xdpport

import (
	"context"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/xdp"
	"golang.org/x/sys/unix"
)

// sinkPort is a pod side that counts what the engine delivers and never
// produces anything; its ReadBatch blocks until Close.
type sinkPort struct {
	delivered atomic.Uint64
	target    atomic.Uint64 // reached is signalled when delivered gets here
	reached   chan struct{}
	// While hold is set, WriteBatch waits for a token on release: the
	// engine's ingress loop stops there while a burst piles up.
	hold    atomic.Bool
	release chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func (s *sinkPort) Name() string   { return "sink" }
func (s *sinkPort) BatchSize() int { return 64 }
func (s *sinkPort) ReadBatch([]*dataplane.Packet) (int, error) {
	<-s.closed
	return 0, dataplane.ErrPortClosed
}
func (s *sinkPort) WriteBatch(p []*dataplane.Packet) (int, error) {
	if s.hold.Load() {
		select {
		case <-s.release:
		case <-s.closed:
		}
	}
	if n := s.delivered.Add(uint64(len(p))); n >= s.target.Load() && s.target.Load() != 0 {
		select {
		case s.reached <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}
func (s *sinkPort) Close() error { s.once.Do(func() { close(s.closed) }); return nil }

func rusage(who int) time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIngress64 measures the node side of the xdp io's receive path:
// AF_XDP receive, outer Ethernet/IP/UDP/VXLAN checks, decapsulation, the
// sender and inner-address checks, LPM and delivery to a pod port that
// only counts (no TUN write). A peer namespace floods VXLAN datagrams
// carrying 64-byte inner UDP payloads. engine-cpu-ns/pkt is the process's
// CPU time minus the sender thread's (which also runs the veth's receive
// softirq and the XDP program), per delivered packet.
func BenchmarkIngress64(b *testing.B) {
	l := newLink(b)
	p := l.openPort(b, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 4096}})
	sink := newSink()
	e, payload := benchEngine(b, l, sink, p)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- e.Run(ctx) }()
	defer func() { cancel(); <-runDone }()

	// The sender: one connected UDP socket in the peer namespace, on its
	// own locked thread so that its CPU time can be told apart.
	fd := l.peerSender(b)
	var stop atomic.Bool
	senderCPU := make(chan time.Duration, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		start := rusage(unix.RUSAGE_THREAD)
		for !stop.Load() {
			_, _ = unix.Write(fd, payload)
		}
		senderCPU <- rusage(unix.RUSAGE_THREAD) - start
	}()

	b.ResetTimer()
	start, procStart, from := time.Now(), rusage(unix.RUSAGE_SELF), sink.delivered.Load()
	deadline := start.Add(30 * time.Second)
	for sink.delivered.Load()-from < uint64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	got := sink.delivered.Load() - from
	elapsed, proc := time.Since(start), rusage(unix.RUSAGE_SELF)-procStart
	stop.Store(true)
	sender := <-senderCPU
	b.StopTimer()
	if got == 0 {
		b.Fatal("nothing delivered")
	}
	st, _ := p.Stats()
	b.ReportMetric(float64(got)/elapsed.Seconds(), "pkt/s")
	b.ReportMetric(float64(proc-sender)/float64(got), "engine-cpu-ns/pkt")
	b.ReportMetric(float64(sender)/float64(got), "sender-cpu-ns/pkt")
	b.ReportMetric(float64(st.RxDropped), "rx-dropped")
	if drops := e.Counters.Drops(dataplane.ReasonUnknownPeer); drops > 0 {
		b.Fatalf("%d packets dropped as unknown peer: the benchmark's frames are wrong", drops)
	}
}

func newSink() *sinkPort {
	return &sinkPort{closed: make(chan struct{}), reached: make(chan struct{}, 1), release: make(chan struct{}, 1)}
}

// BenchmarkIngress64Batched measures the same path with full batches: the
// engine is held while a burst of burstLen datagrams fills the RX ring,
// then released, and only the drain is timed. This is the cost per packet
// when the node is busy, without the per-wakeup cost that dominates
// BenchmarkIngress64 (its receiver outruns the sender and wakes for one or
// two packets at a time).
func BenchmarkIngress64Batched(b *testing.B) {
	const burstLen = 1024
	l := newLink(b)
	p := l.openPort(b, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 4096}})
	sink := newSink()
	e, payload := benchEngine(b, l, sink, p)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- e.Run(ctx) }()
	defer func() { cancel(); <-runDone }()
	fd := l.peerSender(b)

	var cpu, wall time.Duration
	var drained uint64
	b.ResetTimer()
	for drained < uint64(b.N) {
		select {
		case <-sink.release: // a token the last round left unused
		default:
		}
		sink.hold.Store(true)
		for range burstLen {
			if _, err := unix.Write(fd, payload); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond) // the veth's receive softirq finishes
		before := sink.delivered.Load()
		sink.target.Store(before + burstLen)
		start, procStart := time.Now(), rusage(unix.RUSAGE_SELF)
		sink.hold.Store(false)
		sink.release <- struct{}{}
		select {
		case <-sink.reached:
		case <-time.After(10 * time.Second):
			b.Fatalf("burst not drained: %d of %d delivered", sink.delivered.Load()-before, burstLen)
		}
		wall += time.Since(start)
		cpu += rusage(unix.RUSAGE_SELF) - procStart
		drained += uint64(sink.delivered.Load() - before)
	}
	b.StopTimer()
	st, _ := p.Stats()
	b.ReportMetric(float64(drained)/wall.Seconds(), "drain-pkt/s")
	b.ReportMetric(float64(cpu)/float64(drained), "engine-cpu-ns/pkt")
	b.ReportMetric(float64(st.RxDropped), "rx-dropped")
}

// benchEngine builds an engine in frame mode over port and sink, with the
// peer of l as its one peer, and returns it with the datagram the peer
// sends.
func benchEngine(b *testing.B, l *link, sink *sinkPort, port dataplane.Port) (*dataplane.Engine, []byte) {
	e, err := dataplane.New(dataplane.Options{Pod: sink, Underlay: port, UnderlayKind: dataplane.UnderlayFrame})
	if err != nil {
		b.Fatal(err)
	}
	peerVTEP, nodeVTEP := [6]byte{0x0e, 0, 0, 0, 0, 1}, [6]byte{0x0e, 0, 0, 0, 0, 2}
	cfg := &dataplane.Config{Encap: encap.KindVXLAN, VNI: 1, Port: tunnelPort,
		LocalUnderlay: l.AddrB, LocalVTEPMAC: nodeVTEP, LocalUnderlayMAC: [6]byte(l.MACB),
		LocalPodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")},
		Peers: []dataplane.Peer{{Name: "peer", Underlay: l.AddrA, VTEPMAC: peerVTEP, UnderlayMAC: [6]byte(l.MACA),
			PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24")}}}}
	if err := e.SetConfig(cfg); err != nil {
		b.Fatal(err)
	}
	return e, vxlanPayload(b, peerVTEP, nodeVTEP)
}

// peerSender opens a UDP socket in the peer namespace connected to the
// node's tunnel port.
func (l *link) peerSender(b *testing.B) int {
	var fd int
	testenv.InNetns(b, l.HA, func() (err error) {
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		return unix.Connect(fd, &unix.SockaddrInet4{Addr: l.AddrB.As4(), Port: tunnelPort})
	})
	b.Cleanup(func() { unix.Close(fd) })
	return fd
}

// vxlanPayload is what the peer's socket sends: a VXLAN header, inner
// Ethernet, and an IPv4/UDP packet with 64 bytes of payload from a pod of
// the peer to a pod of the node.
func vxlanPayload(b *testing.B, peerVTEP, nodeVTEP [6]byte) []byte {
	inner := udpFrame(nil, nil, netip.MustParseAddrPort("10.244.2.5:40000"), netip.MustParseAddrPort("10.244.1.5:5001"),
		make([]byte, 64))[14:]
	inner[26], inner[27] = 0, 0 // UDP checksum "none"
	buf := make([]byte, 128+len(inner))
	copy(buf[128:], inner)
	params := encap.Params{Kind: encap.KindVXLAN, VNI: 1, InnerSrcMAC: peerVTEP, InnerDstMAC: nodeVTEP}
	start, r := encap.PrependTunnel(buf, 128, len(buf), &params)
	if r != encap.DropNone {
		b.Fatalf("PrependTunnel: %v", r)
	}
	return buf[start:]
}
