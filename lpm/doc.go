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
// Layout of a snapshot: a direct-indexed root of 65536 slots keyed by the
// address's first 16 bits. Each slot points to an immutable "range block":
// the leaf-pushed answer for the slot's address space written as a sorted
// list of interval starts with one entry per interval. A lookup reads the
// block header, a 16-way (or, past 256 intervals, 256-way) jump index in the
// same cache line, binary-searches the few interval starts it selects without
// branches, and reads the entry: value and prefix length in one word. IPv4
// needs one such level (bits 16..31); IPv6 uses windows of 32 bits (16..47,
// 48..79, 80..111) and a last one of 16 bits, where an entry either holds the
// answer or points to the next window's block, so a /48 resolves in one block.
//
// Memory: a slot whose only long route is one /24 costs a 48-byte block;
// slots without routes longer than /16 share one block per distinct answer.
// Routes of length <= 16 are pushed into the blocks below them; when one
// changes, untouched blocks are copied with the new default rather than
// rebuilt.
package lpm
