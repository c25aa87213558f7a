package lpm

import (
	"encoding/binary"
	"net/netip"
	"unsafe"
)

// Table6 maps IPv6 prefixes to 32-bit values, with the same concurrency
// contract as Table4. The zero value is not usable: use NewTable6.
type Table6 struct{ f *fib }

// NewTable6 returns an empty IPv6 table.
func NewTable6() *Table6 { return &Table6{f: newFib(family6)} }

// Lookup returns the value and prefix length of the longest prefix containing
// the address in network byte order, and whether any matched. addr is only
// read during the call. It takes no lock and allocates nothing.
func (t *Table6) Lookup(addr *[16]byte) (value uint32, prefixLen uint8, ok bool) {
	return t.f.cur.Load().lookup6(binary.BigEndian.Uint64(addr[:]), binary.BigEndian.Uint64(addr[8:]))
}

// Lookup2 is Lookup for an address given as its big-endian halves.
func (t *Table6) Lookup2(hi, lo uint64) (value uint32, prefixLen uint8, ok bool) {
	return t.f.cur.Load().lookup6(hi, lo)
}

// View6 is one published version of a Table6; see View4.
type View6 struct{ s *snapshot }

// View returns the currently published version.
func (t *Table6) View() View6 { return View6{t.f.cur.Load()} }

// Lookup is Table6.Lookup on this version.
func (v View6) Lookup(addr *[16]byte) (value uint32, prefixLen uint8, ok bool) {
	return v.s.lookup6(binary.BigEndian.Uint64(addr[:]), binary.BigEndian.Uint64(addr[8:]))
}

// Lookup2 is Table6.Lookup2 on this version.
func (v View6) Lookup2(hi, lo uint64) (value uint32, prefixLen uint8, ok bool) {
	return v.s.lookup6(hi, lo)
}

// lookup6 is every IPv6 lookup. View6.Lookup2 inlines into its callers, so
// it costs one call; the other forms add at most one more.
func (s *snapshot) lookup6(hi, lo uint64) (value uint32, prefixLen uint8, ok bool) {
	var p unsafe.Pointer
	var e uint64
	if hi>>16 == s.deepTop {
		// The /48 with most routes: start at its window (see root.deep).
		p = s.deep
	} else {
		if slot := uint32(hi >> 48); s.isInner(slot) {
			p = s.inner1(slot)
		} else if p, e = s.outerEntry(slot); p == nil {
			return decodeEntry(e)
		}
		if e = searchEntry(p, uint32(hi>>16), 32); e&3 != entKidBit {
			return decodeEntry(e)
		}
		p = (*node)(p).kids[e>>2]
	}
	e = searchEntry(p, uint32(hi<<16|lo>>48), 32)
	if e&3 == entKidBit {
		p = (*node)(p).kids[e>>2]
		e = searchEntry(p, uint32(lo>>16), 32)
		if e&3 == entKidBit {
			p = (*node)(p).kids[e>>2]
			e = searchEntry(p, uint32(lo&0xffff), 16)
		}
	}
	return decodeEntry(e)
}

// searchEntry searches the block p is, or the block of the node p is. A kid
// entry only comes from a node's block, so the caller may then treat p as a
// *node.
func searchEntry(p unsafe.Pointer, key uint32, width uint) uint64 {
	if *(*uint64)(p)&nodeTag != 0 {
		return searchBlock(unsafe.Pointer(unsafe.SliceData((*node)(p).blk)), key, width)
	}
	return searchBlock(p, key, width)
}

// LookupAddr is Lookup for a netip.Addr; an IPv4 address never matches (an
// IPv4-mapped IPv6 address is looked up as IPv6).
func (t *Table6) LookupAddr(a netip.Addr) (value uint32, prefixLen uint8, ok bool) {
	if !a.Is6() {
		return 0, 0, false
	}
	// Two 8-byte loads of the 8-byte stores As16 makes: handing &b on as a
	// [16]byte copied it with one 16-byte load, which cannot be forwarded
	// from the two stores and stalled until they reached the cache.
	b := a.AsSlice()
	return t.f.cur.Load().lookup6(binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:16]))
}

// Apply applies every operation of b and publishes the result atomically.
// It returns an error wrapping ErrWrongFamily or ErrInvalidPrefix, applying
// nothing, when b holds a prefix that is not a valid IPv6 prefix, and
// ErrTooDense (nothing applied) when one window would exceed a block's size.
func (t *Table6) Apply(b *Batch) error { return t.f.apply(b) }

// Insert maps p (masked) to v, as a batch of one.
func (t *Table6) Insert(p netip.Prefix, v uint32) error { return t.f.one(p, v, false) }

// Delete removes p (masked), as a batch of one; an absent p is not an error.
func (t *Table6) Delete(p netip.Prefix) error { return t.f.one(p, 0, true) }

// Len returns the number of prefixes in the published table.
func (t *Table6) Len() int { return t.f.cur.Load().count }

// MemoryBytes returns the bytes of the published lookup structure; see
// Table4.MemoryBytes.
func (t *Table6) MemoryBytes() int { return t.f.cur.Load().bytes }

// IndexBytes estimates the writer-side route index kept to rebuild blocks.
func (t *Table6) IndexBytes() int { return t.f.indexBytes() }

// All yields every route in address order, from a copy taken under the
// writer lock (yield may call into the table).
func (t *Table6) All(yield func(netip.Prefix, uint32) bool) { t.f.all(yield) }
