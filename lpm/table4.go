package lpm

import "net/netip"

// Table4 maps IPv4 prefixes to 32-bit values. Lookups are lock-free and safe
// concurrently with each other and with one or more writers; writers are
// serialized inside the table. The zero value is not usable: use NewTable4.
type Table4 struct{ f *fib }

// NewTable4 returns an empty IPv4 table.
func NewTable4() *Table4 { return &Table4{f: newFib(family4)} }

// Lookup returns the value and prefix length of the longest prefix containing
// addr (host byte order: 10.0.0.1 is 0x0a000001), and whether any matched.
// It takes no lock and allocates nothing.
func (t *Table4) Lookup(addr uint32) (value uint32, prefixLen uint8, ok bool) {
	return View4{t.f.cur.Load()}.Lookup(addr)
}

// View4 is one published version of a Table4: every lookup on it answers
// from the same batch boundary. A dataplane takes one per packet batch (one
// atomic load) and looks up each packet on it; holding it keeps that
// version's memory alive.
type View4 struct{ s *snapshot }

// View returns the currently published version.
func (t *Table4) View() View4 { return View4{t.f.cur.Load()} }

// Lookup is Table4.Lookup on this version.
func (v View4) Lookup(addr uint32) (value uint32, prefixLen uint8, ok bool) {
	if slot := addr >> 16; v.s.isInner(slot) {
		return decodeEntry(searchBlock(v.s.inner1(slot), addr&0xffff, 16))
	}
	p, e := v.s.outerEntry(addr >> 16)
	if p != nil {
		e = searchBlock(p, addr&0xffff, 16)
	}
	return decodeEntry(e)
}

// LookupAddr is Lookup for a netip.Addr; IPv4-mapped IPv6 addresses are
// unmapped, other IPv6 addresses never match.
func (t *Table4) LookupAddr(a netip.Addr) (value uint32, prefixLen uint8, ok bool) {
	a = a.Unmap()
	if !a.Is4() {
		return 0, 0, false
	}
	b := a.As4()
	return t.Lookup(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
}

// Apply applies every operation of b and publishes the result atomically:
// a concurrent Lookup sees all of b or none of it. It returns an error
// wrapping ErrWrongFamily or ErrInvalidPrefix, applying nothing, when b holds
// a prefix that is not a valid IPv4 prefix.
func (t *Table4) Apply(b *Batch) error { return t.f.apply(b) }

// Insert maps p (masked) to v, as a batch of one.
func (t *Table4) Insert(p netip.Prefix, v uint32) error { return t.f.one(p, v, false) }

// Delete removes p (masked), as a batch of one; an absent p is not an error.
func (t *Table4) Delete(p netip.Prefix) error { return t.f.one(p, 0, true) }

// Len returns the number of prefixes in the published table.
func (t *Table4) Len() int { return t.f.cur.Load().count }

// MemoryBytes returns the bytes of the published lookup structure (root and
// blocks, allocator size classes included). The writer's own route index,
// which readers never touch, is reported by IndexBytes.
func (t *Table4) MemoryBytes() int { return t.f.cur.Load().bytes }

// IndexBytes estimates the writer-side route index kept to rebuild blocks.
func (t *Table4) IndexBytes() int { return t.f.indexBytes() }

// All yields every route in address order, from a copy taken under the
// writer lock (yield may call into the table).
func (t *Table4) All(yield func(netip.Prefix, uint32) bool) { t.f.all(yield) }
