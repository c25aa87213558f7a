package xdpport

import (
	"fmt"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/xdp"
)

// A reader whose every batch goes back out in place (a hairpin) lends
// frames the completion ring returns to the transmitting side: they must
// find their way back to the fill ring, or after a few batches the kernel
// has nothing to receive into and the reader waits forever.
func TestInPlaceSendsKeepTheFillRingFed(t *testing.T) {
	for _, kind := range []string{"port", "group"} {
		t.Run(kind, func(t *testing.T) {
			l := newMultiQueueLink(t, 1)
			const frames = 64 // fill ring 32, batches of 16
			opts := Options{BatchSize: 16, Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: frames}}
			var port dataplane.Port
			if kind == "port" {
				port = l.openPort(t, tunnelPort, opts)
			} else {
				port = l.openGroup(t, []int{0}, tunnelPort, opts)
			}
			in := l.injector(t, 1)
			frame := l.tunnelFrame("hairpin")
			pkts := newPackets(16)
			for round := range 10 * frames / 16 {
				in.burst(t, 0, frame, 16)
				for got := 0; got < 16; {
					n, err := readWithin(port, pkts)
					if err != nil {
						t.Fatalf("round %d, after %d of 16: %v", round, got, err)
					}
					if k, err := port.WriteBatch(pkts[:n]); k != n || err != nil {
						t.Fatalf("round %d: WriteBatch %d of %d: %v", round, k, n, err)
					}
					got += n
				}
			}
		})
	}
}

// readWithin is ReadBatch that gives up after 2 s, closing the port (which
// makes the blocked ReadBatch return ErrPortClosed).
func readWithin(port dataplane.Port, pkts []*dataplane.Packet) (int, error) {
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := port.ReadBatch(pkts)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-time.After(2 * time.Second):
		port.Close()
		r := <-done
		return r.n, fmt.Errorf("nothing read in 2 s (then %v)", r.err)
	}
}
