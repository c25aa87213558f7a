package lpm

import (
	"net/netip"
	"slices"
)

// routesLocked lists every route; the caller holds f.mu.
func (f *fib) routesLocked() []prefixValue {
	out := make([]prefixValue, 0, f.count)
	for k, v := range f.short {
		plen := uint8(k & 31)
		a := addr128{}.withBits(0, rootBits, k>>5)
		out = append(out, prefixValue{netip.PrefixFrom(a.netipAddr(f.fam.is4), int(plen)), v})
	}
	var walk func(w *wnode, depth int, a addr128)
	walk = func(w *wnode, depth int, a addr128) {
		win := f.fam.windows[depth]
		for _, r := range w.routes {
			ra := a.withBits(win.start, win.width, r.lo)
			out = append(out, prefixValue{netip.PrefixFrom(ra.netipAddr(f.fam.is4), int(r.plen)), r.value})
		}
		for k, kw := range w.kids {
			walk(kw, depth+1, a.withBits(win.start, win.width, k))
		}
	}
	for slot, w := range f.slots {
		walk(w, 0, addr128{}.withBits(0, rootBits, uint32(slot)))
	}
	slices.SortFunc(out, func(a, b prefixValue) int {
		if c := a.p.Addr().Compare(b.p.Addr()); c != 0 {
			return c
		}
		return a.p.Bits() - b.p.Bits()
	})
	return out
}

type prefixValue struct {
	p netip.Prefix
	v uint32
}

// all iterates a copy of the routes taken under the writer lock, so yield
// may call back into the table.
func (f *fib) all(yield func(netip.Prefix, uint32) bool) {
	f.mu.Lock()
	routes := f.routesLocked()
	f.mu.Unlock()
	for _, r := range routes {
		if !yield(r.p, r.v) {
			return
		}
	}
}

func (f *fib) one(p netip.Prefix, v uint32, del bool) error {
	var b Batch
	if del {
		b.Delete(p)
	} else {
		b.Insert(p, v)
	}
	return f.apply(&b)
}
