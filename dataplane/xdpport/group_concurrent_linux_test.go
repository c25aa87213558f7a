package xdpport

import (
	"sync/atomic"
	"testing"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/xdp"
)

// The group's reader, its writer (WriteBatch and WriteTo on the same
// goroutine, as the engine's loops do) and a flood on both queues run at
// once, and Close stops reader and writer while they are busy; run under
// -race by `make test`.
func TestConcurrentGroupReaderWriterAndClose(t *testing.T) {
	l := newMultiQueueLink(t, 2)
	g := l.openGroup(t, []int{0, 1}, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 256}})
	in := l.injector(t, 2)
	flood := l.tunnelFrame("to the reader")
	var perMember [2]atomic.Int64
	written := runUnderLoad(t, l, g, load{
		onRead: func(pk *dataplane.Packet) { perMember[g.ownerOf(pk)].Add(1) },
		ready:  func() bool { return perMember[0].Load() > 0 && perMember[1].Load() > 0 },
		write: func(round int, pkts []*dataplane.Packet) (int, error) {
			if round%3 == 0 {
				return g.WriteBatch(pkts)
			}
			return g.WriteTo(round%2, pkts)
		},
		flood: func() {
			for q := range 2 {
				in.burst(t, q, flood, 8)
			}
		},
	})
	t.Logf("reader received %d and %d per queue, writer queued %d", perMember[0].Load(), perMember[1].Load(), written)
}
