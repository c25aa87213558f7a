package lpm

import (
	"encoding/binary"
	"net/netip"
)

// window is a run of address bits resolved by one level of range blocks.
type window struct {
	start, width uint // bit offsets from the address's most significant bit
}

// family describes how an address family is cut into levels: a 16-bit root
// followed by windows.
type family struct {
	is4     bool
	windows []window
}

// IPv4 needs one window after the root; IPv6 needs three 32-bit windows and a
// 16-bit one, so a /48 (the common IPv6 length) resolves in the first window.
var (
	family4 = &family{is4: true, windows: []window{{16, 16}}}
	family6 = &family{windows: []window{{16, 32}, {48, 32}, {80, 32}, {112, 16}}}
)

const rootBits = 16

// addr128 is an address as two big-endian halves; IPv4 sits in the top 32
// bits so both families share the writer's code.
type addr128 struct{ hi, lo uint64 }

func addrOf(a netip.Addr) addr128 {
	if a.Is4() {
		b := a.As4()
		return addr128{hi: uint64(binary.BigEndian.Uint32(b[:])) << 32}
	}
	b := a.As16()
	return addr128{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

// bits returns width bits (width <= 32) starting at bit start, as an integer.
func (a addr128) bits(start, width uint) uint32 {
	var top uint64
	if start < 64 {
		top = a.hi<<start | a.lo>>(64-start)
	} else {
		top = a.lo << (start - 64)
	}
	return uint32(top >> (64 - width))
}

// withBits returns a with width bits at start replaced by v.
func (a addr128) withBits(start, width uint, v uint32) addr128 {
	for i := range width {
		bit := start + i
		set := v>>(width-1-i)&1 != 0
		if bit < 64 {
			m := uint64(1) << (63 - bit)
			a.hi = a.hi&^m | boolMask(set)&m
		} else {
			m := uint64(1) << (127 - bit)
			a.lo = a.lo&^m | boolMask(set)&m
		}
	}
	return a
}

func boolMask(b bool) uint64 {
	if b {
		return ^uint64(0)
	}
	return 0
}

// netipAddr converts back for the given family.
func (a addr128) netipAddr(is4 bool) netip.Addr {
	if is4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(a.hi>>32))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], a.hi)
	binary.BigEndian.PutUint64(b[8:], a.lo)
	return netip.AddrFrom16(b)
}
