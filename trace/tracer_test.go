package trace

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
)

// The tracer runs on the forwarding goroutines: matching, starting a
// packet and recording its stages allocate nothing.
func TestTracerAllocatesNothing(t *testing.T) {
	f, _ := ParseFilter("udp and net 10.244.0.0/16")
	tr := NewTracer(f, HintFor(testConfig(encap.KindVXLAN)), Options{RingSize: 1 << 16})
	pkt := buildInner(&Spec{Src: podA, Dst: podB, Proto: 17, DstPort: 53, TTL: 64})
	ev := dataplane.TraceEvent{Dir: dataplane.Egress, Stage: dataplane.StageReceive, Port: "pod0", Packet: pkt}
	allocs := testing.AllocsPerRun(1000, func() {
		if tr.Match(dataplane.Egress, pkt) {
			tr.Record(&ev)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per traced packet", allocs)
	}
	if st := tr.Stats(); st.Matched < 1000 || st.Skipped != 0 {
		t.Fatalf("stats %+v: the measured path did not trace", st)
	}
}

// A reader that never reads must not slow forwarding down or lose packets:
// once the ring is full, matched packets are skipped and counted.
func TestSlowReaderNeverBlocksForwarding(t *testing.T) {
	r := newRig(t, encap.KindVXLAN, "", Options{RingSize: 64})
	r.cancelTr() // nobody reads from now on
	<-r.stopped
	r.stopped <- nil // for the cleanup
	_, pkt, err := Build(r.cfg, spec(t, "src 10.244.1.5 dst 10.244.2.7 udp dport 9"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	for i := 0; i < n; i++ {
		r.pod.Inject(pkt, netip.AddrPort{})
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.e.Counters.Egress.Tunnel.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("forwarded %d of %d packets with a stalled trace reader", r.e.Counters.Egress.Tunnel.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	st := r.tr.Stats()
	if st.Matched != n || st.Skipped == 0 || st.Skipped > n-10 {
		t.Fatalf("stats %+v: want every packet matched and, past the ring's room, skipped", st)
	}
}

// Many producers and one consumer: every pushed stage comes out once, in
// each producer's order (run with -race).
func TestRingConcurrent(t *testing.T) {
	r := newRing(256, 16)
	const producers, each = 4, 5000
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			ev := dataplane.TraceEvent{Dir: dataplane.Direction(p & 1), Packet: []byte{byte(p), 1, 2}}
			for i := 0; i < each; {
				if r.push(uint64(p), uint32(i), &ev, true) {
					i++
				}
			}
		}(p)
	}
	next := make([]uint32, producers)
	got := 0
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for got < producers*each && ctx.Err() == nil {
		r.pop(func(s *slot) {
			if s.index != next[s.id] || len(s.data) != 3 || s.data[0] != byte(s.id) {
				t.Fatalf("producer %d: stage %d (data % x) after %d", s.id, s.index, s.data, next[s.id])
			}
			next[s.id]++
			got++
		})
	}
	wg.Wait()
	if got != producers*each {
		t.Fatalf("popped %d of %d", got, producers*each)
	}
}
