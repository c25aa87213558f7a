package masq

import (
	"net/netip"
	"slices"
)

// span is a closed address range [first, last] of one family.
type span struct{ first, last netip.Addr }

// spans merges prefixes of one family into sorted ranges that neither
// overlap nor touch: the kernel rejects overlapping intervals in one set,
// and peer pod CIDRs, the non-masquerade list and node addresses overlap
// freely (a /16 in the list covers every node's /24).
func spans(prefixes []netip.Prefix, v4 bool) []span {
	var out []span
	for _, p := range prefixes {
		if !p.IsValid() || p.Addr().Is4() != v4 {
			continue
		}
		p = p.Masked()
		out = append(out, span{p.Addr(), lastAddr(p)})
	}
	slices.SortFunc(out, func(a, b span) int { return a.first.Compare(b.first) })
	merged := out[:0]
	for _, s := range out {
		if n := len(merged); n > 0 {
			prev := &merged[n-1]
			if next := prev.last.Next(); !next.IsValid() || s.first.Compare(next) <= 0 {
				if s.last.Compare(prev.last) > 0 {
					prev.last = s.last
				}
				continue
			}
		}
		merged = append(merged, s)
	}
	return merged
}

// lastAddr is the highest address inside p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
