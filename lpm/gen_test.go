package lpm

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
)

// bgpLen4 draws an IPv4 prefix length shaped like a BGP table: about 60%
// /24, most of the rest spread over /8../23, a few longer.
func bgpLen4(r *rand.Rand) int {
	x := r.IntN(1000)
	switch {
	case x < 600:
		return 24
	case x < 980:
		return 8 + r.IntN(16) // 8..23
	default:
		return 25 + r.IntN(8) // 25..32
	}
}

// bgpLen6 draws an IPv6 length: mostly /32../48, some shorter, a few longer.
func bgpLen6(r *rand.Rand) int {
	x := r.IntN(1000)
	switch {
	case x < 500:
		return 48
	case x < 900:
		return 32 + r.IntN(16) // 32..47
	case x < 960:
		return 16 + r.IntN(16) // 16..31
	default:
		return 49 + r.IntN(80) // 49..128
	}
}

func randAddr4(r *rand.Rand) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], r.Uint32())
	return netip.AddrFrom4(b)
}

// randAddr6 draws from 2000::/3, where global unicast routes live.
func randAddr6(r *rand.Rand) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], r.Uint64()>>3|1<<61)
	binary.BigEndian.PutUint64(b[8:], r.Uint64())
	return netip.AddrFrom16(b)
}

// genBGP4 returns n distinct IPv4 prefixes with values, deterministic for seed.
func genBGP4(n int, seed uint64) ([]netip.Prefix, []uint32) {
	r := rand.New(rand.NewPCG(seed, 4))
	return genDistinct(n, func() netip.Prefix {
		p, _ := randAddr4(r).Prefix(bgpLen4(r))
		return p
	}, r)
}

// genBGP6 returns n distinct IPv6 prefixes with values, deterministic for seed.
func genBGP6(n int, seed uint64) ([]netip.Prefix, []uint32) {
	r := rand.New(rand.NewPCG(seed, 6))
	return genDistinct(n, func() netip.Prefix {
		p, _ := randAddr6(r).Prefix(bgpLen6(r))
		return p
	}, r)
}

func genDistinct(n int, next func() netip.Prefix, r *rand.Rand) ([]netip.Prefix, []uint32) {
	seen := make(map[netip.Prefix]bool, n)
	ps := make([]netip.Prefix, 0, n)
	vs := make([]uint32, 0, n)
	for len(ps) < n {
		p := next()
		if seen[p] {
			continue
		}
		seen[p] = true
		ps = append(ps, p)
		vs = append(vs, r.Uint32())
	}
	return ps, vs
}

// nestedPrefix4 draws prefixes from a small address region so they nest and
// overlap heavily, with every length from /0 to /32 possible.
func nestedPrefix4(r *rand.Rand) netip.Prefix {
	a := r.Uint32()
	// Few distinct high bits so routes pile up under each other.
	a = a&0x00ffffff | uint32(r.IntN(4))<<24 | 0x0a000000
	if r.IntN(3) == 0 {
		a = a&0x0000ffff | 0x0a0a0000
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], a)
	p, _ := netip.AddrFrom4(b).Prefix(r.IntN(33))
	return p
}

// nestedPrefix6 is nestedPrefix4's IPv6 counterpart, lengths /0../128.
func nestedPrefix6(r *rand.Rand) netip.Prefix {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], 0x20010db8_00000000|r.Uint64()&0x3_0000ffff)
	binary.BigEndian.PutUint64(b[8:], r.Uint64()&0xff000000_000000ff)
	p, _ := netip.AddrFrom16(b).Prefix(r.IntN(129))
	return p
}

// probeNear returns an address inside or next to p, where answers change.
func probeNear(r *rand.Rand, p netip.Prefix) netip.Addr {
	a := p.Addr()
	switch r.IntN(3) {
	case 0:
		return a
	case 1:
		return lastAddr(p).Next()
	default:
		return lastAddr(p)
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
