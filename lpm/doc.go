// Package lpm holds longest-prefix-match tables for IPv4 and IPv6 that map a
// prefix to a 32-bit value (a next-hop index).
//
// Readers never lock: a lookup loads one atomic pointer to an immutable
// snapshot and walks it. One writer at a time (serialized by a mutex inside
// the table) applies a Batch of inserts and deletes, rebuilds only the parts
// the batch touched (copy-on-write) and publishes the new snapshot with one
// atomic store, so a reader sees the whole batch or none of it. A View pins
// one snapshot for several lookups (one atomic load per packet batch).
//
// Layout of a snapshot: the address's first 16 bits name a root slot. Each
// slot with routes longer than /16 has an immutable "range block": the
// leaf-pushed answer for the slot's address space, either as a sorted list of
// interval starts with one entry per interval (searched through a jump index
// in the header's cache line and a few branch-free steps), or, when every
// interval starts at a multiple of 2^k and that is not much larger, as the
// entries themselves indexed by the key's top bits (a /16 of /24 pod CIDRs:
// 256 entries, one load). An entry holds value and prefix length in one
// word. IPv4 needs one such level (bits 16..31); IPv6 uses windows of 32 bits
// (16..47, 48..79, 80..111) and a last one of 16 bits, where an entry either
// holds the answer or points to the next window's block, so a /48 resolves
// in one block and a /64 in two.
//
// The root adapts to the table when each snapshot is built (root.go): the
// aligned run of slots holding the long routes is direct-indexed (all 65536
// for a BGP table, 512 KiB; 32 pointers for a /11 pod cluster; one for a
// /16), and the other slots are answered by one small range block over slot
// numbers whose entries are answers or pointers to slot blocks. A lookup
// pays one predictable compare for the choice. When one slot holds all long
// IPv6 routes (a pod cluster), addresses in its busiest /48 start directly at
// that /48's window: a pod /64 resolves in one block.
//
// Memory: a slot whose only long route is one /24 costs a 48-byte block; a
// pod-CIDR table costs 10-30 bytes per prefix, a 10-route table about 1 KiB.
// Routes of length <= 16 are pushed into the blocks below them; when one
// changes, untouched blocks are copied with the new default rather than
// rebuilt. The writer keeps its own per-slot arrays (about 1.3 MiB once
// routes of length <= 16 exist), which readers never touch.
package lpm
