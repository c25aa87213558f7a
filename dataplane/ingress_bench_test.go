package dataplane

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

// newFramePeer returns a frame-mode engine playing node 2, the peer of
// newFrameEngine's node, and its underlay port: what it writes is what
// node 1 receives from node 2.
func newFramePeer(t testing.TB) (*Engine, *MemPort) {
	t.Helper()
	peer, _, peerUL := newFrameEngine(t, encap.KindVXLAN)
	cfg := testConfig(encap.KindVXLAN)
	cfg.LocalUnderlay, cfg.LocalVTEPMAC, cfg.LocalUnderlayMAC = peerUnderlay, peerMAC, peerUnderlayMAC
	cfg.LocalPodCIDRs, cfg.Peers[0] = cfg.Peers[0].PodCIDRs, Peer{Name: "node1", Underlay: ourUnderlay, VTEPMAC: ourMAC,
		UnderlayMAC: ourUnderlayMAC, PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24"), netip.MustParsePrefix("fd00:244:1::/64")}}
	if err := peer.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return peer, peerUL
}

// peerFrames returns whole VXLAN frames as newFramePeer sends them (outer
// Ethernet + IPv4 + UDP + VXLAN + inner Ethernet), one per inner packet:
// what the engine reads from an AF_XDP socket in io xdp.
func peerFrames(b testing.TB, inners ...[]byte) [][]byte {
	b.Helper()
	peer, peerUL := newFramePeer(b)
	forwardEgress(b, peer, inners...)
	frames, _ := peerUL.Written()
	if len(frames) != len(inners) {
		b.Fatalf("peer wrote %d frames, want %d", len(frames), len(inners))
	}
	return frames
}

// BenchmarkIngressFrame is the engine's share of io xdp's receive path
// without the socket: full batches of whole VXLAN frames (64-byte inner
// IPv4/UDP packets), decapsulated, checked, looked up and delivered to a
// pod port that discards them. "1flow" repeats one packet, as the xdpport
// benchmark sends; "64flows" gives every packet of a batch its own inner
// source and destination, so nothing learnt from one packet helps the next.
// cpu-ns/pkt is the benchmark thread's CPU time per packet (the time it
// waited for a core on a busy machine left out); both it and ns/pkt
// include the benchmark's own copy of each frame into the batch.
func BenchmarkIngressFrame(b *testing.B) {
	one := udpPacket(b, remotePod, localPod, 64, false, 64-28)
	many := make([][]byte, 64)
	for i := range many {
		src := netip.AddrFrom4([4]byte{10, 244, 2, byte(2 + i)})
		dst := netip.AddrFrom4([4]byte{10, 244, 1, byte(2 + i)})
		many[i] = udpPacket(b, src, dst, 64, false, 64-28)
	}
	for _, c := range []struct {
		name   string
		inners [][]byte
	}{{"1flow", [][]byte{one}}, {"64flows", many}} {
		b.Run(c.name, func(b *testing.B) {
			e, pod, _ := newFrameEngine(b, encap.KindVXLAN)
			pod.Discard = true
			frames := peerFrames(b, c.inners...)
			in := newIngressLoop(e, e.opts.Underlay)
			n := len(in.batch)
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0, cpuOK := threadCPU()
			for b.Loop() {
				for i, p := range in.batch {
					p.Reset(Headroom)
					p.SetLen(copy(p.Buf[p.Start:], frames[i%len(frames)]))
				}
				in.forward(in.batch)
			}
			if got := e.Counters.Ingress.Tunnel.Load(); got < uint64(n) {
				b.Fatalf("%d packets delivered, want every one", got)
			}
			if cpu1, ok := threadCPU(); cpuOK && ok {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N*n), "cpu-ns/pkt")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pkt")
		})
	}
}
