package xdpport

import (
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/xdp"
)

// One received batch, sent back in place, plus one copied packet: the
// whole round allocates nothing.
func TestBatchRoundAllocatesNothing(t *testing.T) {
	l := newLink(t)
	p := l.openPort(t, tunnelPort, Options{BatchSize: 1, Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 1024}})
	peer := l.udpOn(t, true, 40010)
	const runs = 100
	for range runs + 20 {
		if _, err := peer.WriteToUDPAddrPort([]byte("alloc test"), netip.AddrPortFrom(l.AddrB, tunnelPort)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	rx := newPackets(1)
	heap := newPackets(1)
	frame := udpFrame(l.MACB, l.MACA, netip.AddrPortFrom(l.AddrB, tunnelPort),
		netip.AddrPortFrom(l.AddrA, 40010), []byte("copied"))
	heap[0].Reset(dataplane.Headroom)
	heap[0].SetLen(copy(heap[0].Buf[heap[0].Start:], frame))
	var failed error
	allocs := testing.AllocsPerRun(runs, func() {
		if _, err := p.ReadBatch(rx); err != nil {
			failed = err
			return
		}
		if _, err := p.WriteBatch(rx); err != nil {
			failed = err
		}
		if _, err := p.WriteBatch(heap); err != nil {
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
