package lpm

import (
	"slices"
	"unsafe"
)

// A range block is one allocation of uint64 words, immutable once built:
//
//	word 0           n (number of intervals, low 32 bits) | flags (high bits)
//	jump index       none, 17 uint16 (5 words) or 257 uint32 (129 words)
//	ceil(n/2) words  interval starts, uint32, ascending, the first is 0
//	n words          one entry per interval (see result.go)
//
// jump[t] is the last interval starting at or before the first key whose top
// 4 (small index) or 8 (big index) bits are t, so a lookup binary-searches
// only jump[t]..jump[t+1]: for a typical block the header, the index and the
// few keys it selects share one or two cache lines, where a plain binary
// search would touch a line per step.
//
// Keeping it in one allocation without Go pointers makes it cheap for the GC
// (no scan) and lets a lookup reach the keys and entries by offset, without
// slice headers or bounds checks: the builder guarantees the offsets.
const (
	bigJumpFlag   = 1 << 63
	smallJumpFlag = 1 << 61
	nodeTag       = 1 << 62 // never set in a block header; see node.tag
	bigJumpWords  = 129     // 257 uint32 rounded up to whole words
	smallJumpWord = 5       // 17 uint16 rounded up to whole words
	smallJumpMin  = 9       // blocks with more intervals get the small index
	bigJumpMin    = 257     // and above this, the big one
	maxIntervals  = 1 << 22
)

// encodeBlock lays out keys and ents (same length, keys[0] == 0) as a block
// for a window whose keys are width bits wide (8 < width <= 32).
func encodeBlock(keys []uint32, ents []uint64, width uint) []uint64 {
	n := len(keys)
	size := 1 + (n+1)/2 + n
	switch {
	case n >= bigJumpMin:
		size += bigJumpWords
	case n >= smallJumpMin:
		size += smallJumpWord
	}
	// slices.Grow rounds the capacity up to the allocator's size class, so
	// cap(w)*8 is what the block really costs.
	w := slices.Grow([]uint64(nil), size)[:size]
	clear(w)
	w[0] = uint64(n)
	off := 1
	switch {
	case n >= bigJumpMin:
		w[0] |= bigJumpFlag
		jump := unsafe.Slice((*uint32)(unsafe.Pointer(&w[1])), 257)
		for t, i := range jumpStarts(keys, width-8, 257) {
			jump[t] = uint32(i)
		}
		off += bigJumpWords
	case n >= smallJumpMin:
		w[0] |= smallJumpFlag
		jump := unsafe.Slice((*uint16)(unsafe.Pointer(&w[1])), 17)
		for t, i := range jumpStarts(keys, width-4, 17) {
			jump[t] = uint16(i) // n < bigJumpMin fits
		}
		off += smallJumpWord
	}
	copy(unsafe.Slice((*uint32)(unsafe.Pointer(&w[off])), n), keys)
	off += (n + 1) / 2
	copy(w[off:], ents)
	return w
}

// jumpStarts returns, for t in [0, count), the last interval starting at or
// before t<<shift.
func jumpStarts(keys []uint32, shift uint, count int) []int {
	out := make([]int, count)
	i := 0
	for t := range count {
		limit := uint64(t) << shift
		for i+1 < len(keys) && uint64(keys[i+1]) <= limit {
			i++
		}
		out[t] = i
	}
	return out
}

// blockBytes is the memory a block occupies, including size-class rounding.
func blockBytes(words []uint64) int { return cap(words) * 8 }

// searchBlock returns the entry of the interval containing key. blk points to
// word 0 of a block built by encodeBlock with the same width.
func searchBlock(blk unsafe.Pointer, key uint32, width uint) uint64 {
	h := *(*uint64)(blk)
	n := uint32(h)
	keys := unsafe.Add(blk, 8)
	base, size := uint32(0), n
	if h&smallJumpFlag != 0 {
		t := key >> (width - 4)
		base = uint32(*(*uint16)(unsafe.Add(keys, t*2)))
		size = uint32(*(*uint16)(unsafe.Add(keys, t*2+2))) - base + 1
		keys = unsafe.Add(keys, smallJumpWord*8)
	} else if h&bigJumpFlag != 0 {
		t := key >> (width - 8)
		base = *(*uint32)(unsafe.Add(keys, t*4))
		size = *(*uint32)(unsafe.Add(keys, t*4+4)) - base + 1
		keys = unsafe.Add(keys, bigJumpWords*8)
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

// rebaseBlock returns a copy of blk with every entry equal to oldDef (the
// intervals no route of the window covers) replaced by newDef. Route entries
// never equal a default: a default's prefix length is at most the window's
// start and its routes are longer, so no interval merge depended on it.
func rebaseBlock(blk []uint64, oldDef, newDef uint64) []uint64 {
	w := slices.Grow([]uint64(nil), len(blk))[:len(blk)]
	copy(w, blk)
	n := int(uint32(w[0]))
	off := 1 + (n+1)/2
	switch {
	case w[0]&bigJumpFlag != 0:
		off += bigJumpWords
	case w[0]&smallJumpFlag != 0:
		off += smallJumpWord
	}
	for i, e := range w[off : off+n] {
		if e == oldDef {
			w[off+i] = newDef
		}
	}
	return w
}
