package lpm

import (
	"cmp"
	"slices"
	"unsafe"
)

// sweepItem is a route or a kid point inside one window, in sweep order.
type sweepItem struct {
	lo, hi uint64
	plen   uint8 // kids sort after every route starting at the same key
	ent    uint64
	kid    *wnode
}

const kidPlen = 255

// nodeOverhead is what a node struct costs besides its block; only nodes
// with kids (IPv6) are reachable by readers, others are the writer's.
const nodeOverhead = int(unsafe.Sizeof(node{}))

// build returns the immutable node for w with def leaf-pushed into every
// interval no route of w covers; it reuses the last build when nothing
// changed and rebuilds kids only where they changed or their default moved.
func (f *fib) build(w *wnode, depth int, def uint64) (*node, error) {
	if !w.dirty && w.built != nil {
		if w.builtDef == def {
			return w.built, nil
		}
		if w.built.tag != nodeTag {
			// Only the default moved (a covering route of length <= 16
			// changed): swap it in a copy instead of rebuilding.
			n := &node{blk: rebaseBlock(w.built.blk, w.builtDef, def), bytes: w.built.bytes}
			w.built, w.builtDef = n, def
			return n, nil
		}
	}
	win := f.fam.windows[depth]
	items := make([]sweepItem, 0, len(w.routes)+len(w.kids))
	for _, r := range w.routes {
		items = append(items, sweepItem{lo: uint64(r.lo), hi: uint64(r.hi), plen: r.plen, ent: matchEntry(r.value, r.plen)})
	}
	for k, kw := range w.kids {
		items = append(items, sweepItem{lo: uint64(k), hi: uint64(k), plen: kidPlen, kid: kw})
	}
	slices.SortFunc(items, func(a, b sweepItem) int {
		if c := cmp.Compare(a.lo, b.lo); c != 0 {
			return c
		}
		return cmp.Compare(a.plen, b.plen)
	})

	maxKey := uint64(1)<<win.width - 1
	keys := []uint32{0}
	ents := []uint64{def}
	var kids []unsafe.Pointer
	kidBytes := 0
	// emit starts a new interval at start with entry ent, merging with the
	// previous interval when they agree.
	emit := func(start uint64, ent uint64) {
		if start > maxKey {
			return
		}
		last := len(keys) - 1
		if uint64(keys[last]) == start {
			ents[last] = ent
			if last > 0 && ents[last-1] == ent {
				keys, ents = keys[:last], ents[:last]
			}
			return
		}
		if ents[last] == ent {
			return
		}
		keys = append(keys, uint32(start))
		ents = append(ents, ent)
	}
	var stack []sweepItem
	below := func() uint64 {
		if len(stack) == 0 {
			return def
		}
		return stack[len(stack)-1].ent
	}
	for _, it := range items {
		for len(stack) > 0 && stack[len(stack)-1].hi < it.lo {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			emit(top.hi+1, below())
		}
		if it.kid != nil {
			kn, err := f.build(it.kid, depth+1, below())
			if err != nil {
				return nil, err
			}
			emit(it.lo, kidEntry(len(kids)))
			emit(it.lo+1, below())
			kids = append(kids, f.entryOf(kn))
			kidBytes += kn.bytes
			continue
		}
		emit(it.lo, it.ent)
		stack = append(stack, it)
	}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		emit(top.hi+1, below())
	}
	if len(keys) > maxIntervals {
		return nil, ErrTooDense
	}
	blk := encodeBlock(keys, ents, win.width)
	n := &node{blk: blk, bytes: blockBytes(blk)}
	if len(kids) > 0 {
		n.tag = nodeTag
		n.kids = slices.Clip(kids)
		n.bytes += nodeOverhead + cap(n.kids)*8 + kidBytes
	}
	w.built, w.builtDef, w.dirty = n, def, false
	return n, nil
}
