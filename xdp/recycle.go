package xdp

import "sync/atomic"

// recycleRing hands frame addresses from the transmitting goroutine (which
// reaps more frames from the completion ring than it keeps, when received
// frames were sent) to the receiving goroutine (which posts them to the fill
// ring). It is a single-producer single-consumer ring: each index is
// written by one side only, and the release/acquire of sync/atomic orders
// the slot writes before the index that publishes them.
type recycleRing struct {
	slots []uint64
	mask  uint64
	head  atomic.Uint64 // next slot to read; written by the consumer
	tail  atomic.Uint64 // next slot to write; written by the producer
}

func newRecycleRing(capacity int) *recycleRing {
	n := floorPow2(capacity)
	if n < capacity {
		n *= 2
	}
	return &recycleRing{slots: make([]uint64, n), mask: uint64(n - 1)}
}

// push appends addrs as far as there is room and returns how many it took.
// Producer side only.
func (r *recycleRing) push(addrs []uint64) int {
	t := r.tail.Load()
	room := uint64(len(r.slots)) - (t - r.head.Load())
	n := min(uint64(len(addrs)), room)
	for i := range n {
		r.slots[(t+i)&r.mask] = addrs[i]
	}
	r.tail.Store(t + n)
	return int(n)
}

// pop moves up to len(dst) addresses into dst and returns how many.
// Consumer side only.
func (r *recycleRing) pop(dst []uint64) int {
	h := r.head.Load()
	n := min(uint64(len(dst)), r.tail.Load()-h)
	for i := range n {
		dst[i] = r.slots[(h+i)&r.mask]
	}
	r.head.Store(h + n)
	return int(n)
}

// len returns how many addresses wait in the ring; exact only while
// neither side runs.
func (r *recycleRing) len() int { return int(r.tail.Load() - r.head.Load()) }
