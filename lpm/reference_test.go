package lpm

import (
	"net/netip"
)

// refTable is the naive model the tables are checked against: a map of
// routes and a linear scan for the longest match.
type refTable struct {
	routes map[netip.Prefix]uint32
}

func newRef() *refTable { return &refTable{routes: map[netip.Prefix]uint32{}} }

func (r *refTable) apply(b *Batch) {
	for _, o := range b.ops {
		if o.delete {
			delete(r.routes, o.prefix)
		} else {
			r.routes[o.prefix] = o.value
		}
	}
}

func (r *refTable) lookup(a netip.Addr) (value uint32, prefixLen uint8, ok bool) {
	best := -1
	for p, v := range r.routes {
		if p.Bits() > best && p.Contains(a) {
			best, value = p.Bits(), v
		}
	}
	if best < 0 {
		return 0, 0, false
	}
	return value, uint8(best), true
}

// sortedRef answers lookups on a frozen copy in O(33) or O(129) map lookups,
// for tables too big for a linear scan.
type sortedRef struct {
	byLen []map[netip.Prefix]uint32
	lens  []int // lengths present, longest first
}

func freezeRef(r *refTable, bits int) *sortedRef {
	s := &sortedRef{byLen: make([]map[netip.Prefix]uint32, bits+1)}
	for p, v := range r.routes {
		if s.byLen[p.Bits()] == nil {
			s.byLen[p.Bits()] = map[netip.Prefix]uint32{}
		}
		s.byLen[p.Bits()][p] = v
	}
	for l := bits; l >= 0; l-- {
		if s.byLen[l] != nil {
			s.lens = append(s.lens, l)
		}
	}
	return s
}

func (s *sortedRef) lookup(a netip.Addr) (value uint32, prefixLen uint8, ok bool) {
	for _, l := range s.lens {
		p, _ := a.Prefix(l)
		if v, found := s.byLen[l][p]; found {
			return v, uint8(l), true
		}
	}
	return 0, 0, false
}
