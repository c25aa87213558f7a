package lpm

import (
	"math/bits"
	"slices"
	"unsafe"
)

// A snapshot's root resolves an address's first 16 bits (its slot) in one of
// two ways, chosen each time a snapshot is built:
//
//   - inner: the slots whose top 16-innerBits bits equal innerTop are
//     direct-indexed, one pointer each, straight to the slot's block or node;
//   - outer: every other slot is looked up in a range block over the 16 slot
//     bits, whose entries are answers (slots without routes longer than /16)
//     or kids (the slot's block or node).
//
// A large table puts every slot inside (innerBits 16: the classic 65536-slot
// array, 512 KiB); a pod-CIDR table, whose long routes sit in one cluster
// range, direct-indexes only that range (a /11 cluster: 32 pointers) and
// answers everything else from a block of a few intervals. The choice costs
// the lookup one predictable compare.
type root struct {
	inner     []unsafe.Pointer // 1<<innerBits slot entries
	innerBits uint32
	innerMask uint32
	innerTop  uint32
	outer     unsafe.Pointer   // range block over slot numbers
	outerKids []unsafe.Pointer // the kid entries' targets

	// IPv6 only: addresses whose top 48 bits equal deepTop start at deep,
	// the node or block of that /48's window (bits 48..79), skipping the
	// root and the first window, whose answer for them is that kid anyway
	// (shorter routes are leaf-pushed into it). The builder picks the /48
	// holding the most routes when one slot holds all long routes (a pod
	// cluster's /48 of /64s); otherwise deepTop is noDeep, which no 48-bit
	// value equals.
	deepTop uint64
	deep    unsafe.Pointer
}

const noDeep = 1 << 63

// isInner reports whether slot is direct-indexed; inner then returns its
// block or node. Both inline, so the common path costs no call.
func (r *root) isInner(slot uint32) bool { return slot>>r.innerBits == r.innerTop }

func (r *root) inner1(slot uint32) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(r.inner)), uintptr(slot&r.innerMask)*8))
}

// outerEntry returns the block or node of a slot outside the inner range,
// or (nil, answer) when the slot has no routes longer than /16.
func (r *root) outerEntry(slot uint32) (unsafe.Pointer, uint64) {
	e := searchBlock(r.outer, slot, rootBits)
	if e&3 != entKidBit {
		return nil, e
	}
	return r.outerKids[e>>2], 0
}

// outerKidCost is what choosing a root charges for a slot with long routes
// left outside: its outer intervals and kid pointer (about 30 bytes) plus a
// margin for the slower path through the outer block.
const outerKidCost = 64

// chooseInner picks the inner range minimizing the root's estimated bytes:
// 8 per inner slot plus outerKidCost per long-route slot outside it.
func (f *fib) chooseInner() (innerBits, innerTop uint32) {
	total := 0
	for _, w := range f.long {
		total += bits.OnesCount64(w)
	}
	best := -1
	for a := 0; a <= rootBits; a++ {
		size := 1 << (rootBits - a)
		lower := size*8 + max(total-size, 0)*outerKidCost
		if best >= 0 && lower >= best {
			continue
		}
		top, in := f.densestGroup(uint(rootBits - a))
		cost := size*8 + (total-in)*outerKidCost
		if best < 0 || cost < best {
			best, innerBits, innerTop = cost, uint32(rootBits-a), top
		}
	}
	return innerBits, innerTop
}

// densestGroup returns the group of 1<<gbits consecutive slots holding the
// most slots with long routes, and how many it holds.
func (f *fib) densestGroup(gbits uint) (top uint32, count int) {
	if gbits >= 6 {
		words := 1 << (gbits - 6)
		for g := 0; g < len(f.long)/words; g++ {
			c := 0
			for _, w := range f.long[g*words : (g+1)*words] {
				c += bits.OnesCount64(w)
			}
			if c > count {
				top, count = uint32(g), c
			}
		}
		return top, count
	}
	per := 64 >> gbits
	mask := uint64(1)<<(1<<gbits) - 1
	for wi, w := range f.long {
		for g := 0; w != 0 && g < per; g++ {
			c := bits.OnesCount64(w >> (uint(g) << gbits) & mask)
			if c > count {
				top, count = uint32(wi*per+g), c
			}
		}
	}
	return top, count
}

// isLong reports whether slot has routes longer than /16.
func (f *fib) isLong(slot uint32) bool { return f.long[slot/64]&(1<<(slot%64)) != 0 }

// buildRoot lays out the root for the writer's current slot entries and
// returns it with its bytes (blocks below the slots not included).
func (f *fib) buildRoot() (root, int) {
	ib, top := f.chooseInner()
	r := root{innerBits: ib, innerMask: 1<<ib - 1, innerTop: top, deepTop: noDeep}
	if w := f.slots[uint16(top)]; !f.fam.is4 && ib == 0 && w != nil {
		var best *wnode
		for k, kw := range w.kids {
			if kw.built != nil && (best == nil || len(kw.routes)+len(kw.kids) > len(best.routes)+len(best.kids)) {
				best, r.deepTop = kw, uint64(top)<<32|uint64(k)
			}
		}
		if best != nil {
			r.deep = f.entryOf(best.built)
		}
	}
	first := top << ib
	r.inner = slices.Grow([]unsafe.Pointer(nil), 1<<ib)[:1<<ib]
	copy(r.inner, f.slotEnt[first:])
	bytes := cap(r.inner) * 8

	var keys []uint32
	var ents []uint64
	for slot := uint32(0); slot < 1<<rootBits; slot++ {
		if slot>>ib == top {
			slot = first + 1<<ib - 1
			continue
		}
		e := f.defaultOf(uint16(slot))
		if f.isLong(slot) {
			e = kidEntry(len(r.outerKids))
			r.outerKids = append(r.outerKids, f.slotEnt[slot])
		}
		if len(ents) > 0 && ents[len(ents)-1] == e {
			continue
		}
		start := slot
		if len(keys) == 0 {
			start = 0 // the first interval starts at 0; inner slots before it are never searched
		}
		keys = append(keys, start)
		ents = append(ents, e)
	}
	if len(keys) == 0 {
		keys, ents = []uint32{0}, []uint64{0} // every slot is inner
	}
	blk := encodeBlock(keys, ents, rootBits)
	r.outer = unsafe.Pointer(unsafe.SliceData(blk))
	r.outerKids = slices.Clip(r.outerKids)
	bytes += blockBytes(blk) + cap(r.outerKids)*8
	return r, bytes
}
