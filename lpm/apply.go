package lpm

import (
	"math/bits"
	"net/netip"
	"unsafe"
)

// apply runs a validated batch: it changes the writer's routes, rebuilds the
// dirty root slots and publishes a snapshot with a root built for them. If a
// rebuild fails, the changes are undone and the published snapshot stays.
func (f *fib) apply(b *Batch) error {
	if err := b.validate(f.fam.is4); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	type undo struct {
		p       netip.Prefix
		value   uint32
		existed bool
	}
	undos := make([]undo, 0, len(b.ops))
	for _, o := range b.ops {
		old, existed := f.change(o.prefix, o.value, o.delete)
		undos = append(undos, undo{o.prefix, old, existed})
	}
	err := f.publish()
	if err == nil {
		return nil
	}
	for i := len(undos) - 1; i >= 0; i-- {
		u := undos[i]
		f.change(u.p, u.value, !u.existed)
	}
	return err
}

// slotBuild is a rebuilt root slot waiting to be published: a node, or nil
// when the slot has no long routes and shares the leaf block for def.
type slotBuild struct {
	slot uint16
	def  uint64
	n    *node
}

// publish rebuilds every dirty slot and swaps in the new snapshot. On error
// nothing is published and the dirty marks stay for the next attempt.
func (f *fib) publish() error {
	if !f.dirtyAny {
		return nil
	}
	var built []slotBuild
	for wi, word := range f.dirty {
		for word != 0 {
			slot := uint16(wi*64 + bits.TrailingZeros64(word))
			word &= word - 1
			sb := slotBuild{slot: slot, def: f.defaultOf(slot)}
			if w := f.slots[slot]; w != nil {
				n, err := f.build(w, 0, sb.def)
				if err != nil {
					return err
				}
				sb.n = n
			}
			built = append(built, sb)
		}
	}
	if f.slotBytes == nil {
		f.slotBytes = make([]int32, 1<<rootBits)
	}
	for _, sb := range built {
		f.treeMem -= int(f.slotBytes[sb.slot])
		f.slotBytes[sb.slot] = 0
		var entry unsafe.Pointer
		if sb.n == nil {
			entry = f.acquireLeaf(sb.def)
		} else {
			entry = f.entryOf(sb.n)
			f.slotBytes[sb.slot] = int32(min(sb.n.bytes, 1<<31-1))
			f.treeMem += int(f.slotBytes[sb.slot])
		}
		// Acquire before release, so a slot keeping its leaf never frees it.
		if ref := f.leafRefOf(f.slotEnt[sb.slot]); ref != nil {
			f.releaseLeaf(ref)
		}
		f.slotEnt[sb.slot] = entry
	}
	f.dirty = [len(f.dirty)]uint64{}
	f.dirtyAny = false
	f.cur.Store(f.snapshot())
	return nil
}

// shortBest computes the longest route of length <= 16 covering root slot
// s, as a leaf entry (0 when none), from the short routes.
func (f *fib) shortBest(s uint16) uint64 {
	for plen := rootBits; plen >= 0; plen-- {
		top := uint32(s) &^ (1<<(rootBits-plen) - 1)
		if v, ok := f.short[shortKey(top, uint8(plen))]; ok {
			return matchEntry(v, uint8(plen))
		}
	}
	return 0
}

// entryOf is what a root slot or a kid list holds for n: the block itself
// when n has no kids (one load less per lookup), else the node.
func (f *fib) entryOf(n *node) unsafe.Pointer {
	if n.tag != nodeTag {
		return unsafe.Pointer(unsafe.SliceData(n.blk))
	}
	return unsafe.Pointer(n)
}

// acquireLeaf returns the shared single-interval entry answering def.
func (f *fib) acquireLeaf(def uint64) unsafe.Pointer {
	ref := f.leaves[def]
	if ref == nil {
		// Width 32: the direct form's shift is then 32, so every window
		// (IPv4's 16-bit one and IPv6's 32-bit ones) indexes entry 0.
		blk := encodeBlock([]uint32{0}, []uint64{def}, 32)
		n := &node{blk: blk, bytes: blockBytes(blk)}
		ref = &leafRef{entry: f.entryOf(n), def: def, bytes: n.bytes}
		f.leaves[def] = ref
		f.leafMem += ref.bytes
	}
	ref.refs++
	return ref.entry
}

func (f *fib) releaseLeaf(ref *leafRef) {
	ref.refs--
	if ref.refs > 0 {
		return
	}
	delete(f.leaves, ref.def)
	f.leafMem -= ref.bytes
}

// leafRefOf returns the shared leaf a root entry is, or nil. Only leaves
// have a single interval, which encodeBlock writes in the direct form (two
// words): a slot with routes longer than /16 has at least two intervals (no
// such route covers all of a window), a node has the tag instead.
func (f *fib) leafRefOf(p unsafe.Pointer) *leafRef {
	h := *(*uint64)(p)
	if h&nodeTag != 0 || h&directFlag == 0 || uint32(h) != 1 {
		return nil
	}
	return f.leaves[*(*uint64)(unsafe.Add(p, 8))] // word 1: the only entry
}
