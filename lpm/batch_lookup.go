package lpm

import "unsafe"

// Match is one answer of a batch lookup.
type Match struct {
	Value     uint32 // the matched route's value; 0 when OK is false
	PrefixLen uint8  // the matched route's prefix length
	OK        bool   // whether any route matched
}

// lookupGroup is how many lookups a batch walks in lock step. Issuing the
// group's root and block-header loads back to back lets their cache misses
// overlap, where one-at-a-time lookups mostly wait for each in turn.
const lookupGroup = 8

// LookupBatch looks up every addrs[i] (as Lookup) into out[i]; out must be at
// least as long as addrs. It takes no lock and allocates nothing.
func (v View4) LookupBatch(addrs []uint32, out []Match) {
	out = out[:len(addrs)]
	for len(addrs) >= lookupGroup {
		a := (*[lookupGroup]uint32)(addrs)
		o := (*[lookupGroup]Match)(out)
		var blks [lookupGroup]unsafe.Pointer
		var ents [lookupGroup]uint64
		for i := range lookupGroup {
			if slot := a[i] >> 16; v.s.isInner(slot) {
				blks[i] = v.s.inner1(slot)
			} else {
				blks[i], ents[i] = v.s.outerEntry(slot)
			}
		}
		var sum uint64
		for i := range lookupGroup {
			if blks[i] != nil {
				sum += *(*uint64)(blks[i]) // touch every header before searching any
			}
		}
		for i := range lookupGroup {
			e := ents[i]
			if blks[i] != nil {
				e = searchBlock(blks[i], a[i]&0xffff, 16)
			}
			o[i].Value, o[i].PrefixLen, o[i].OK = decodeEntry(e)
		}
		keepAlive(sum)
		addrs, out = addrs[lookupGroup:], out[lookupGroup:]
	}
	for i, a := range addrs {
		out[i].Value, out[i].PrefixLen, out[i].OK = v.Lookup(a)
	}
}

// keepSink stops the compiler from dropping the header loads.
var keepSink uint64

func keepAlive(x uint64) {
	if x == 1<<64-1 {
		keepSink = x
	}
}
