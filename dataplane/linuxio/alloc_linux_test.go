package linuxio

import (
	"testing"

	"github.com/podfwd/podfwd/dataplane"
)

// TestUDPSteadyStateAllocs asserts the hot path allocates nothing: a
// WriteBatch of plain datagrams and a GSO train, and the ReadBatch calls
// that drain them, after warm-up.
func TestUDPSteadyStateAllocs(t *testing.T) {
	for _, raw := range []bool{false, true} {
		udpSteadyStateAllocs(t, raw)
	}
}

// udpSteadyStateAllocs runs the round trip on netpoller sockets, or on
// sockets outside it read with TryReadBatch as the polling thread does.
func udpSteadyStateAllocs(t *testing.T, raw bool) {
	ns := newTestNS(t, map[bool]string{false: "alloc", true: "allocr"}[raw])
	a := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{BatchSize: 8, Raw: raw})
	b := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{BatchSize: 8, Raw: raw})
	read := b.ReadBatch
	if raw {
		read = b.TryReadBatch
	}
	out := newPackets(8, 4000)
	for i, p := range out {
		fill(p, pattern(i, 64))
	}
	fill(out[7], pattern(7, 3*1000))
	out[7].Segments, out[7].SegmentSize = 3, 1000
	for _, p := range out {
		p.Addr = b.LocalAddr()
	}
	in := newPackets(8, MaxGROSize)
	// Datagrams, not buffers, are counted: equal plain datagrams leave as
	// one train and a GRO socket may take a train as one buffer.
	const datagrams = 7 + 3
	roundTrip := func() {
		if n, err := a.WriteBatch(out); n != len(out) || err != nil {
			t.Fatalf("WriteBatch = %d, %v", n, err)
		}
		got := 0
		for got < datagrams {
			n, err := read(in)
			if err != nil {
				t.Fatalf("ReadBatch: %v", err)
			}
			for _, p := range in[:n] {
				got += max(p.Segments, 1)
				p.Reset(dataplane.Headroom)
			}
		}
	}
	for range 10 {
		roundTrip()
	}
	if allocs := testing.AllocsPerRun(200, roundTrip); allocs != 0 {
		t.Errorf("raw=%v: %.1f allocations per write+read round trip, want 0", raw, allocs)
	}
}
