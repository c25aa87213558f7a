package lpm

import (
	"cmp"
	"slices"
	"unsafe"
)

// wnode is the writer's authoritative record of one window: the routes that
// end inside it and the windows below it. Readers never see it; they see the
// immutable node built from it.
type wnode struct {
	routes   []route           // sorted by (lo, plen)
	kids     map[uint32]*wnode // keyed by the window's bits of the deeper routes
	dirty    bool              // routes or a descendant changed since built
	built    *node             // last build, reused while clean and builtDef holds
	builtDef uint64            // the leaf-pushed default that build used
}

// route is a prefix ending in a window, as the key range [lo, hi] it covers.
type route struct {
	lo, hi uint32
	plen   uint8
	value  uint32
}

func compareRoute(a route, lo uint32, plen uint8) int {
	if c := cmp.Compare(a.lo, lo); c != 0 {
		return c
	}
	return cmp.Compare(a.plen, plen)
}

// set inserts or replaces a route; it reports whether the route is new and
// whether anything changed.
func (w *wnode) set(r route) (added, changed bool) {
	i, found := findRoute(w.routes, r.lo, r.plen)
	if found {
		if w.routes[i].value == r.value {
			return false, false
		}
		w.routes[i].value = r.value
		return false, true
	}
	w.routes = slices.Insert(w.routes, i, r)
	return true, true
}

// remove deletes the route (lo, plen) and reports whether it existed.
func (w *wnode) remove(lo uint32, plen uint8) bool {
	i, found := findRoute(w.routes, lo, plen)
	if !found {
		return false
	}
	w.routes = slices.Delete(w.routes, i, i+1)
	return true
}

func (w *wnode) empty() bool { return len(w.routes) == 0 && len(w.kids) == 0 }

// node is the readers' immutable view of a window: a range block and, for
// IPv6, the blocks of deeper windows that its kid entries refer to.
//
// A node with kids starts with tag = nodeTag, a bit no block header has, so
// an IPv6 slot or kid pointer can lead either straight to a block (the
// common, kid-less case: one dependent load less) or to a node.
type node struct {
	tag   uint64
	blk   []uint64
	kids  []unsafe.Pointer // each a block or a *node, as entryOf returns
	bytes int              // memory of this node and everything below it
}
