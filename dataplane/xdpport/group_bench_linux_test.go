package xdpport

import (
	"fmt"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/xdp"
)

// BenchmarkReadPath measures the receive path alone, per frame: a burst of
// burstLen frames waits in the RX ring(s), spread evenly over the queues
// (injected with the timer stopped), and ReadBatch drains it, 64 at a
// time. "port" is a single Port; "group/N" a Group over N queues of one
// veth, so group/1 shows what the Group layer costs over a Port and
// group/2, group/4 what reading several rings costs.
func BenchmarkReadPath(b *testing.B) {
	const burstLen, chunk = 1024, 128 // chunk: what the injector sends at once
	opts := Options{BatchSize: 64, Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 4096}}
	run := func(b *testing.B, l *link, port dataplane.Port, queues int) {
		in := l.injector(b, queues)
		frame := l.tunnelFrame("bench")
		pkts := newPackets(64)
		b.ReportAllocs()
		b.ResetTimer()
		read := 0
		for read < b.N {
			b.StopTimer()
			for q := range queues {
				for range burstLen / queues / chunk {
					in.burst(b, q, frame, chunk)
				}
			}
			// The veth's receive softirq may still be copying the
			// burst into the rings; the reader is not to pay for it.
			time.Sleep(200 * time.Microsecond)
			b.StartTimer()
			for got := 0; got < burstLen; {
				n, err := port.ReadBatch(pkts)
				if err != nil {
					b.Fatal(err)
				}
				got += n
			}
			read += burstLen
		}
	}
	b.Run("port", func(b *testing.B) {
		l := newMultiQueueLink(b, 1)
		run(b, l, l.openPort(b, tunnelPort, opts), 1)
	})
	for _, queues := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("group/%d", queues), func(b *testing.B) {
			l := newMultiQueueLink(b, queues)
			all := make([]int, queues)
			for i := range all {
				all[i] = i
			}
			run(b, l, l.openGroup(b, all, tunnelPort, opts), queues)
		})
	}
}
