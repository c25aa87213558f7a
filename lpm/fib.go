package lpm

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
)

// snapshot is what readers see: immutable once published.
type snapshot struct {
	root
	bytes int // memory of everything reachable from the root, root included
	count int
}

// leafRef is a shared block for root slots that no route longer than /16
// touches: one per distinct default, so 65536 slots under a /8 cost one block.
type leafRef struct {
	entry unsafe.Pointer
	def   uint64
	bytes int
	refs  int
}

// fib is the family-independent core of Table4 and Table6: the writer's
// authoritative routes plus the published snapshot.
type fib struct {
	fam *family
	cur atomic.Pointer[snapshot]

	mu        sync.Mutex          // serializes writers; readers never take it
	short     map[uint32]uint32   // routes of length <= 16, keyed by shortKey
	defaults  []uint64            // per root slot, its longest short route (nil: none yet)
	slots     map[uint16]*wnode   // routes longer than /16, per root slot
	slotBytes []int32             // bytes of each non-leaf slot's nodes (nil: none yet)
	leaves    map[uint64]*leafRef // shared leaf blocks by default entry
	leafMem   int
	treeMem   int
	count     int
	dirty     [1 << rootBits / 64]uint64 // root slots to rebuild
	dirtyAny  bool
	long      [1 << rootBits / 64]uint64 // root slots with routes longer than /16
	slotEnt   []unsafe.Pointer           // per root slot, its block, node or shared leaf
}

func newFib(fam *family) *fib {
	f := &fib{
		fam:    fam,
		short:  map[uint32]uint32{},
		slots:  map[uint16]*wnode{},
		leaves: map[uint64]*leafRef{},
	}
	f.slotEnt = make([]unsafe.Pointer, 1<<rootBits)
	for i := range f.slotEnt {
		f.slotEnt[i] = f.acquireLeaf(0)
	}
	f.cur.Store(f.snapshot())
	return f
}

// snapshot builds a snapshot of the writer's current slot entries.
func (f *fib) snapshot() *snapshot {
	s := &snapshot{count: f.count}
	var rootBytes int
	s.root, rootBytes = f.buildRoot()
	// Shared leaves reached only through outer slots are counted too: there
	// are few of them, one per distinct short-route answer.
	s.bytes = int(unsafe.Sizeof(snapshot{})) + rootBytes + f.leafMem + f.treeMem
	return s
}

// shortKey identifies a route of length plen <= 16 by its top 16 bits.
func shortKey(top16 uint32, plen uint8) uint32 { return top16<<5 | uint32(plen) }

func (f *fib) markSlots(first, last uint32) {
	for s := first; s <= last; s++ {
		f.dirty[s/64] |= 1 << (s % 64)
	}
	f.dirtyAny = true
}

// change records one insert or delete in the writer's routes and marks what
// must be rebuilt. It returns the previous state so a failed batch can be
// undone.
func (f *fib) change(p netip.Prefix, value uint32, del bool) (oldValue uint32, existed bool) {
	a := addrOf(p.Addr())
	plen := uint8(p.Bits())
	slot := a.bits(0, rootBits)
	if plen <= rootBits {
		top := slot &^ (1<<(rootBits-plen) - 1)
		k := shortKey(top, plen)
		oldValue, existed = f.short[k]
		switch {
		case del && !existed, !del && existed && oldValue == value:
			return oldValue, existed
		case del:
			delete(f.short, k)
			f.count--
		default:
			if !existed {
				f.count++
			}
			f.short[k] = value
		}
		last := top | (1<<(rootBits-plen) - 1)
		f.updateDefaults(top, last, plen, del)
		f.markSlots(top, last)
		return oldValue, existed
	}
	return f.changeLong(a, uint16(slot), plen, value, del)
}

func (f *fib) changeLong(a addr128, slot uint16, plen uint8, value uint32, del bool) (oldValue uint32, existed bool) {
	w := f.slots[slot]
	if w == nil {
		if del {
			return 0, false
		}
		w = &wnode{}
		f.slots[slot] = w
		f.long[slot/64] |= 1 << (slot % 64)
	}
	path := make([]*wnode, 0, len(f.fam.windows))
	keys := make([]uint32, 0, len(f.fam.windows))
	for _, win := range f.fam.windows {
		path = append(path, w)
		end := win.start + win.width
		if uint(plen) <= end {
			lo := a.bits(win.start, win.width)
			r := route{lo: lo, hi: lo | (1<<(end-uint(plen)) - 1), plen: plen, value: value}
			if i, found := findRoute(w.routes, lo, plen); found {
				oldValue, existed = w.routes[i].value, true
			}
			var changed bool
			if del {
				changed = w.remove(lo, plen)
				if changed {
					f.count--
				}
			} else {
				var added bool
				added, changed = w.set(r)
				if added {
					f.count++
				}
			}
			if changed {
				for _, pw := range path {
					pw.dirty = true
				}
				f.markSlots(uint32(slot), uint32(slot))
			}
			f.prune(slot, path, keys)
			return oldValue, existed
		}
		k := a.bits(win.start, win.width)
		keys = append(keys, k)
		next := w.kids[k]
		if next == nil {
			if del {
				f.prune(slot, path, keys[:len(keys)-1])
				return 0, false
			}
			if w.kids == nil {
				w.kids = map[uint32]*wnode{}
			}
			next = &wnode{}
			w.kids[k] = next
		}
		w = next
	}
	return 0, false // unreachable: the last window ends at the family's length
}

// prune drops empty windows from the bottom of path; keys[i] is the key of
// path[i+1] inside path[i].
func (f *fib) prune(slot uint16, path []*wnode, keys []uint32) {
	for i := len(path) - 1; i >= 0; i-- {
		if !path[i].empty() {
			return
		}
		if i == 0 {
			delete(f.slots, slot)
			f.long[slot/64] &^= 1 << (slot % 64)
			f.markSlots(uint32(slot), uint32(slot))
			return
		}
		delete(path[i-1].kids, keys[i-1])
		path[i-1].dirty = true
	}
}

func findRoute(rs []route, lo uint32, plen uint8) (int, bool) {
	return slices.BinarySearchFunc(rs, route{lo: lo, plen: plen}, func(a, b route) int { return compareRoute(a, b.lo, b.plen) })
}

// indexBytes estimates the writer's maps and route slices (Go map overhead
// approximated at 48 bytes per entry).
func (f *fib) indexBytes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	const mapEntry = 48
	total := len(f.short)*mapEntry + len(f.slots)*mapEntry + cap(f.slotBytes)*4 + cap(f.defaults)*8
	var walk func(w *wnode)
	walk = func(w *wnode) {
		total += int(unsafe.Sizeof(*w)) + cap(w.routes)*int(unsafe.Sizeof(route{})) + len(w.kids)*mapEntry
		for _, k := range w.kids {
			walk(k)
		}
	}
	for _, w := range f.slots {
		walk(w)
	}
	return total
}

// updateDefaults keeps defaults (each slot's longest route of length <= 16)
// current after the short route of length plen over slots first..last
// changed: a slot whose default is no longer than plen takes the route (or,
// after a delete, is recomputed), a slot under a longer route keeps it.
func (f *fib) updateDefaults(first, last uint32, plen uint8, del bool) {
	if f.defaults == nil {
		f.defaults = make([]uint64, 1<<rootBits)
	}
	var e uint64
	if !del {
		e = matchEntry(f.short[shortKey(first, plen)], plen)
	}
	for s := first; s <= last; s++ {
		cur := f.defaults[s]
		if cur != 0 && uint8(cur>>1) > plen {
			continue
		}
		if del {
			f.defaults[s] = f.shortBest(uint16(s))
		} else {
			f.defaults[s] = e
		}
	}
}

// defaultOf is slot s's longest short route as a leaf entry (0 when none).
func (f *fib) defaultOf(s uint16) uint64 {
	if f.defaults == nil {
		return 0
	}
	return f.defaults[s]
}
