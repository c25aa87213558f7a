package trace

import (
	"time"

	"github.com/podfwd/podfwd/dataplane"
)

// Collector is a dataplane.Tracer for one synchronous run, such as
// Engine.Simulate: it matches everything and turns the stages it is given
// into one Record. Not safe for concurrent use; not for the forwarding
// loops (it allocates).
type Collector struct {
	a    *assembler
	p    *pending
	next uint32
}

// NewCollector returns an empty collector for a node described by local.
func NewCollector(local Local) *Collector {
	return &Collector{a: newAssembler(local)}
}

// Match implements dataplane.Tracer; it matches every packet.
func (c *Collector) Match(dataplane.Direction, []byte) bool { return true }

// Record implements dataplane.Tracer.
func (c *Collector) Record(ev *dataplane.TraceEvent) {
	s := &slot{id: 1, index: c.next, when: time.Now().UnixNano(), ev: *ev, origLen: len(ev.Packet)}
	s.ev.Packet = nil
	if keepsBytes(ev.Stage) {
		s.data = append([]byte(nil), ev.Packet...)
	}
	c.next++
	if c.p == nil {
		c.p = &pending{dir: ev.Dir}
		c.p.rec = Record{ID: 1, Time: time.Unix(0, s.when).UTC(), Dir: ev.Dir.String()}
	}
	c.a.note(c.p, s)
}

// Result returns the record of everything recorded so far, or nil.
func (c *Collector) Result() *Record {
	if c.p == nil {
		return nil
	}
	c.a.setWire(c.p)
	r := c.p.rec
	r.Verdict = verdict(&r)
	return &r
}
