package lpm

import (
	"slices"
	"unsafe"
)

// A range block is one allocation of uint64 words, immutable once built:
//
//	word 0          n (number of intervals, low 32 bits) | jump flag (bit 63)
//	129 words       jump index: 257 uint32, only when the flag is set
//	ceil(n/2) words interval starts, uint32, ascending, the first is 0
//	n words         one entry per interval (see result.go)
//
// Keeping it in one allocation without Go pointers makes it cheap for the GC
// (no scan) and lets a lookup reach the keys and entries by offset, without
// slice headers or bounds checks: the builder guarantees the offsets.
const (
	jumpFlag      = 1 << 63
	jumpWords     = 129 // 257 uint32 rounded up to whole words
	jumpThreshold = 256 // blocks with more intervals get a jump index (1 KiB)
	maxIntervals  = 1 << 22
)

// encodeBlock lays out keys and ents (same length, keys[0] == 0) as a block
// for a window whose keys are width bits wide; shift = width-8 selects the
// jump index's top 8 bits.
func encodeBlock(keys []uint32, ents []uint64, shift uint) []uint64 {
	n := len(keys)
	useJump := n > jumpThreshold
	size := 1 + (n+1)/2 + n
	if useJump {
		size += jumpWords
	}
	// slices.Grow rounds the capacity up to the allocator's size class, so
	// cap(w)*8 is what the block really costs.
	w := slices.Grow([]uint64(nil), size)[:size]
	clear(w)
	w[0] = uint64(n)
	off := 1
	if useJump {
		w[0] |= jumpFlag
		jump := unsafe.Slice((*uint32)(unsafe.Pointer(&w[1])), 257)
		// jump[t] is the last interval starting at or before t<<shift, so the
		// interval holding any key with top bits t lies in jump[t]..jump[t+1].
		i := 0
		for t := range 257 {
			limit := uint64(t) << shift
			for i+1 < n && uint64(keys[i+1]) <= limit {
				i++
			}
			jump[t] = uint32(i)
		}
		off += jumpWords
	}
	copy(unsafe.Slice((*uint32)(unsafe.Pointer(&w[off])), n), keys)
	off += (n + 1) / 2
	copy(w[off:], ents)
	return w
}

// blockBytes is the memory a block occupies, including size-class rounding.
func blockBytes(words []uint64) int { return cap(words) * 8 }

// searchBlock returns the entry of the interval containing key. blk points to
// word 0 of a block built by encodeBlock with the same shift.
func searchBlock(blk unsafe.Pointer, key uint32, shift uint) uint64 {
	h := *(*uint64)(blk)
	n := uint32(h)
	keys := unsafe.Add(blk, 8)
	base, size := uint32(0), n
	if h&jumpFlag != 0 {
		t := key >> shift
		base = *(*uint32)(unsafe.Add(keys, t*4))
		size = *(*uint32)(unsafe.Add(keys, t*4+4)) - base + 1
		keys = unsafe.Add(keys, jumpWords*8)
	}
	// Invariant: keys[base] <= key, and the answer lies in [base, base+size).
	for size > 1 {
		half := size >> 1
		k := *(*uint32)(unsafe.Add(keys, (base+half)*4))
		// Branch-free: a compare on random keys mispredicts half the time.
		// The borrow of key-k (in 64 bits) is 0 exactly when k <= key.
		base += half & (uint32((uint64(key)-uint64(k))>>63) - 1)
		size -= half
	}
	ents := unsafe.Add(keys, (n+1)/2*8)
	return *(*uint64)(unsafe.Add(ents, base*8))
}
