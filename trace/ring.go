package trace

import (
	"sync/atomic"
	"time"

	"github.com/podfwd/podfwd/dataplane"
)

// slot is one stage of one traced packet as copied out of the engine.
type slot struct {
	seq     atomic.Uint64 // Vyukov sequence: whose turn the slot is
	id      uint64        // packet id given by Match
	index   uint32        // stage number within the packet, from 0
	when    int64         // unix nanoseconds
	ev      dataplane.TraceEvent
	data    []byte // copy of ev.Packet, at most the ring's snap length
	origLen int    // len(ev.Packet)
}

// ring is a bounded multi-producer single-consumer queue of slots (Dmitry
// Vyukov's bounded queue): producers claim a slot with one CAS and fill it
// in place, so nothing is allocated and nobody waits; when the ring is full
// a producer gives up at once. Only one goroutine may call pop.
type ring struct {
	slots []slot
	mask  uint64
	tail  atomic.Uint64
	_     [56]byte      // producers' tail and the consumer's head on separate lines
	head  atomic.Uint64 // written by the consumer only; read by Match to see how full the ring is
}

func newRing(size, snapLen int) *ring {
	n := 1
	for n < size {
		n <<= 1
	}
	r := &ring{slots: make([]slot, n), mask: uint64(n - 1)}
	buf := make([]byte, n*snapLen)
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
		r.slots[i].data = buf[i*snapLen : i*snapLen : (i+1)*snapLen]
	}
	return r
}

// push copies ev (and up to the snap length of ev.Packet when keepBytes)
// into a free slot; it reports false, having done nothing, when full.
func (r *ring) push(id uint64, index uint32, ev *dataplane.TraceEvent, keepBytes bool) bool {
	for {
		pos := r.tail.Load()
		s := &r.slots[pos&r.mask]
		seq := s.seq.Load()
		switch {
		case seq == pos:
			if !r.tail.CompareAndSwap(pos, pos+1) {
				continue
			}
			s.id, s.index, s.when = id, index, time.Now().UnixNano()
			s.ev = *ev
			s.ev.Packet = nil
			s.origLen = len(ev.Packet)
			s.data = s.data[:0]
			if keepBytes {
				s.data = append(s.data, ev.Packet[:min(len(ev.Packet), cap(s.data))]...)
			}
			s.seq.Store(pos + 1)
			return true
		case seq < pos:
			return false // the consumer has not freed this slot: full
		}
		// Another producer took pos; try the next one.
	}
}

// pop hands the oldest filled slot to fn and frees it; it reports false
// when the ring is empty.
func (r *ring) pop(fn func(*slot)) bool {
	head := r.head.Load()
	s := &r.slots[head&r.mask]
	if s.seq.Load() != head+1 {
		return false
	}
	fn(s)
	s.seq.Store(head + r.mask + 1)
	r.head.Store(head + 1)
	return true
}
