package lpm

import (
	"math/bits"
	"slices"
	"unsafe"
)

// A range block is one allocation of uint64 words, immutable once built, in
// one of two layouts. The search form:
//
//	word 0           n (number of intervals, low 32 bits) | flags | jump bits << 32
//	jump index       none, 17 uint16 (5 words) or 2^j+1 uint32
//	ceil(n/2) words  interval starts, uint32, ascending, the first is 0
//	n words          one entry per interval (see result.go)
//
// jump[t] is the last interval starting at or before the first key whose top
// 4 (small index) or j (wide index, j >= 8, about log2(n)) bits are t, so
// a lookup binary-searches only jump[t]..jump[t+1], a handful of keys: for a
// typical block the header, the index and the keys it selects share one or
// two cache lines, where a plain binary search would touch a line per step.
//
// The direct form, used when it is at most a quarter larger: when every
// interval starts at a multiple of 2^shift, the block is the 2^(width-shift)
// entries themselves, indexed by key>>shift (a /16 slot of /24 pod CIDRs:
// 256 entries, and a lookup reads the header and one entry):
//
//	word 0           2^(width-shift) (low 32 bits) | directFlag | shift << 32
//	2^(width-shift)  entries
//
// Keeping it in one allocation without Go pointers makes it cheap for the GC
// (no scan) and lets a lookup reach the keys and entries by offset, without
// slice headers or bounds checks: the builder guarantees the offsets.
const (
	wideJumpFlag  = 1 << 63
	nodeTag       = 1 << 62 // never set in a block header; see node.tag
	smallJumpFlag = 1 << 61
	directFlag    = 1 << 60
	smallJumpWord = 5   // 17 uint16 rounded up to whole words
	smallJumpMin  = 9   // blocks with more intervals get the small index
	wideJumpMin   = 257 // and above this, a wide one
	maxIntervals  = 1 << 22
	linearMax     = 8 // searchBlock scans this many keys instead of halving
)

// wideJumpBits is the wide index's width for n intervals: one to two
// intervals per bucket (often a bucket holds one, and the lookup reads no
// key), at least 8 bits.
func wideJumpBits(n int, width uint) uint {
	return min(max(uint(bits.Len(uint(n)))-1, 8), width, 16)
}

// wideJumpWords is the size of a wide index of j bits: 2^j+1 uint32.
func wideJumpWords(j uint) int { return (1<<j + 2) / 2 }

// encodeBlock lays out keys and ents (same length, keys[0] == 0) as a block
// for a window whose keys are width bits wide (8 < width <= 32), in the
// smaller of the two forms.
func encodeBlock(keys []uint32, ents []uint64, width uint) []uint64 {
	n := len(keys)
	size := 1 + (n+1)/2 + n
	var j uint
	switch {
	case n >= wideJumpMin:
		j = wideJumpBits(n, width)
		size += wideJumpWords(j)
	case n >= smallJumpMin:
		size += smallJumpWord
	}
	shift := width
	for _, k := range keys[1:] {
		shift = min(shift, uint(bits.TrailingZeros32(k)))
	}
	// The direct form may be a quarter larger: it saves the search.
	if direct := 1 + 1<<(width-shift); direct <= size+size/4 {
		return encodeDirect(keys, ents, width, shift)
	}
	// slices.Grow rounds the capacity up to the allocator's size class, so
	// cap(w)*8 is what the block really costs.
	w := slices.Grow([]uint64(nil), size)[:size]
	clear(w)
	w[0] = uint64(n)
	off := 1
	switch {
	case n >= wideJumpMin:
		w[0] |= wideJumpFlag | uint64(j)<<32
		jump := unsafe.Slice((*uint32)(unsafe.Pointer(&w[1])), 1<<j+1)
		for t, i := range jumpStarts(keys, width-j, 1<<j+1) {
			jump[t] = uint32(i)
		}
		off += wideJumpWords(j)
	case n >= smallJumpMin:
		w[0] |= smallJumpFlag
		jump := unsafe.Slice((*uint16)(unsafe.Pointer(&w[1])), 17)
		for t, i := range jumpStarts(keys, width-4, 17) {
			jump[t] = uint16(i) // n < wideJumpMin fits
		}
		off += smallJumpWord
	}
	copy(unsafe.Slice((*uint32)(unsafe.Pointer(&w[off])), n), keys)
	off += (n + 1) / 2
	copy(w[off:], ents)
	return w
}

// encodeDirect lays out the direct form: every interval starts at a multiple
// of 2^shift.
func encodeDirect(keys []uint32, ents []uint64, width, shift uint) []uint64 {
	count := 1 << (width - shift)
	w := slices.Grow([]uint64(nil), 1+count)[:1+count]
	w[0] = uint64(count) | directFlag | uint64(shift)<<32
	for i, k := range keys {
		end := count
		if i+1 < len(keys) {
			end = int(keys[i+1] >> shift)
		}
		for t := int(k >> shift); t < end; t++ {
			w[1+t] = ents[i]
		}
	}
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
	if h&directFlag != 0 {
		return *(*uint64)(unsafe.Add(blk, 8+uintptr(key>>(h>>32&63))*8))
	}
	n := uint32(h)
	keys := unsafe.Add(blk, 8)
	base, size := uint32(0), n
	if h&smallJumpFlag != 0 {
		t := key >> (width - 4)
		base = uint32(*(*uint16)(unsafe.Add(keys, t*2)))
		size = uint32(*(*uint16)(unsafe.Add(keys, t*2+2))) - base + 1
		keys = unsafe.Add(keys, smallJumpWord*8)
	} else if h&wideJumpFlag != 0 {
		j := uint(h>>32) & 31
		t := key >> (width - j)
		base = *(*uint32)(unsafe.Add(keys, t*4))
		size = *(*uint32)(unsafe.Add(keys, t*4+4)) - base + 1
		keys = unsafe.Add(keys, (uintptr(1)<<j+2)/2*8)
	}
	// Invariant: keys[base] <= key, and the answer lies in [base, base+size).
	for size > linearMax {
		half := size >> 1
		k := *(*uint32)(unsafe.Add(keys, (base+half)*4))
		// Branch-free: a compare on random keys mispredicts half the time.
		// The borrow of key-k (in 64 bits) is 0 exactly when k <= key.
		base += half & (uint32((uint64(key)-uint64(k))>>63) - 1)
		size -= half
	}
	// The last few keys share a cache line or two: count those <= key. The
	// loads do not wait for each other, where each binary step waits for
	// the one before. The borrow of k-key-1 is 1 exactly when k <= key.
	at := base
	for i := uint32(1); i < size; i++ {
		k := *(*uint32)(unsafe.Add(keys, (base+i)*4))
		at += uint32((uint64(k) - uint64(key) - 1) >> 63)
	}
	ents := unsafe.Add(keys, (n+1)/2*8)
	return *(*uint64)(unsafe.Add(ents, at*8))
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
	case w[0]&directFlag != 0:
		off = 1
	case w[0]&wideJumpFlag != 0:
		off += wideJumpWords(uint(w[0]>>32) & 31)
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
