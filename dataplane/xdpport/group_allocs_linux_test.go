package xdpport

import (
	"net/netip"
	"testing"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/xdp"
)

// One received batch (a frame of each queue) sent back in place, plus one
// copied packet and one WriteTo: the whole round allocates nothing.
func TestGroupBatchRoundAllocatesNothing(t *testing.T) {
	l := newMultiQueueLink(t, 2)
	g := l.openGroup(t, []int{0, 1}, tunnelPort, Options{BatchSize: 2, Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 1024}})
	const runs = 100
	in := l.injector(t, 2)
	for q := range 2 {
		in.burst(t, q, l.tunnelFrame("alloc test"), runs+20)
	}
	rx := newPackets(2)
	heap := newPackets(1)
	frame := udpFrame(l.MACB, l.MACA, netip.AddrPortFrom(l.AddrB, tunnelPort), netip.AddrPortFrom(l.AddrA, 40010), []byte("copied"))
	heap[0].Reset(dataplane.Headroom)
	heap[0].SetLen(copy(heap[0].Buf[heap[0].Start:], frame))
	var failed error
	allocs := testing.AllocsPerRun(runs, func() {
		n, err := g.ReadBatch(rx)
		if err != nil {
			failed = err
			return
		}
		if _, err := g.WriteBatch(rx[:n]); err != nil {
			failed = err
		}
		if _, err := g.WriteBatch(heap); err != nil {
			failed = err
		}
		if _, err := g.WriteTo(1, heap); err != nil {
			failed = err
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Fatalf("%.1f allocations per batch round, want 0", allocs)
	}
}
