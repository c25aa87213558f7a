package trace

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/podfwd/podfwd/dataplane"
)

// Options size a Tracer. Zero values take the defaults.
type Options struct {
	RingSize int // stage slots in the ring; default 4096
	SnapLen  int // bytes kept of each packet copy; default 2048
}

// Stats count what a Tracer saw and what it had to drop.
type Stats struct {
	Matched       uint64 `json:"matched"`       // packets the filter matched
	Skipped       uint64 `json:"skipped"`       // matched packets not traced because the ring was full
	EventsDropped uint64 `json:"eventsDropped"` // stages lost mid-packet because the ring filled
}

// Tracer is a dataplane.Tracer that keeps the stages of the packets its
// filter matches in a bounded ring, for one reader (Run) to assemble into
// Records. Match and Record never block and never allocate: when the ring
// is full, packets are skipped and stages dropped, and both are counted.
//
// Stages are tied to their packet by direction: each forwarding goroutine
// handles one packet at a time. Two goroutines of the same direction (IPIP
// with a second, IPv6 raw socket) can interleave their stages in a trace.
type Tracer struct {
	filter *Filter
	hint   Hint
	ring   *ring

	nextID atomic.Uint64
	cur    [2]struct {
		id    atomic.Uint64
		index atomic.Uint32
		_     [48]byte
	}
	matched, skipped, dropped atomic.Uint64
}

// NewTracer returns a tracer of the packets f matches, dissected with h.
func NewTracer(f *Filter, h Hint, opts Options) *Tracer {
	if opts.RingSize <= 0 {
		opts.RingSize = 4096
	}
	if opts.SnapLen <= 0 {
		opts.SnapLen = 2048
	}
	return &Tracer{filter: f, hint: h, ring: newRing(opts.RingSize, opts.SnapLen)}
}

// lowWater is the free room below which Match stops starting new packets,
// so that a packet once started has room for all its stages.
const lowWater = 16

// Match implements dataplane.Tracer.
func (t *Tracer) Match(dir dataplane.Direction, pkt []byte) bool {
	if !t.filter.Match(&t.hint, dir, pkt) {
		return false
	}
	t.matched.Add(1)
	r := t.ring
	if used := r.tail.Load() - r.head.Load(); used+lowWater > uint64(len(r.slots)) {
		t.skipped.Add(1)
		return false
	}
	c := &t.cur[dir&1]
	c.id.Store(t.nextID.Add(1))
	c.index.Store(0)
	return true
}

// Record implements dataplane.Tracer.
func (t *Tracer) Record(ev *dataplane.TraceEvent) {
	c := &t.cur[ev.Dir&1]
	idx := c.index.Add(1) - 1
	if !t.ring.push(c.id.Load(), idx, ev, keepsBytes(ev.Stage)) {
		t.dropped.Add(1)
	}
}

// keepsBytes says which stages' packet bytes are worth copying: what was
// received, what goes on the wire after encapsulation, an ICMP error.
func keepsBytes(s dataplane.Stage) bool {
	return s == dataplane.StageReceive || s == dataplane.StageEncap || s == dataplane.StageICMP
}

// Stats returns the tracer's counters so far.
func (t *Tracer) Stats() Stats {
	return Stats{Matched: t.matched.Load(), Skipped: t.skipped.Load(), EventsDropped: t.dropped.Load()}
}

// pollInterval is how often Run looks at an empty ring.
const pollInterval = 2 * time.Millisecond

// Run assembles the ring's stages into one Record per packet and hands each
// to emit, in order, until ctx ends or emit returns an error (returned).
// Only one Run may be active per Tracer. Packets whose last stage is
// ambiguous are emitted once the next packet of their direction starts or
// after a short quiet period.
func (t *Tracer) Run(ctx context.Context, local Local, emit func(*Record) error) error {
	a := newAssembler(local)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var err error
	take := func(s *slot) {
		if err == nil {
			err = a.add(s, emit)
		}
	}
	for {
		for t.ring.pop(take) {
		}
		if err != nil {
			return err
		}
		if err = a.flushIdle(time.Now(), emit); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			if err = a.flushAll(emit); err != nil {
				return err
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}
