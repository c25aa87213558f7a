package lpm

// An entry in a range block is a uint64 with one of three forms:
//
//	0                              nothing matches
//	value<<9 | prefixLen<<1 | 1    a match (bit 0 set)
//	kidIndex<<2 | 2                descend into the next window's block (IPv6)
//
// Packing the prefix length beside the value lets a lookup answer both from
// one load.
const (
	entMatchBit = 1
	entKidBit   = 2
)

// matchEntry encodes a matching route's value and prefix length.
func matchEntry(value uint32, prefixLen uint8) uint64 {
	return uint64(value)<<9 | uint64(prefixLen)<<1 | entMatchBit
}

// kidEntry encodes a reference to kid number i of the block's node.
func kidEntry(i int) uint64 { return uint64(i)<<2 | entKidBit }

// decodeEntry turns a leaf entry into the lookup's results.
func decodeEntry(e uint64) (value uint32, prefixLen uint8, ok bool) {
	return uint32(e >> 9), uint8(e >> 1), e&entMatchBit != 0
}
