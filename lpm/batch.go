package lpm

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrWrongFamily is returned by Apply when a batch holds a prefix of the other
// address family (or an IPv4-mapped IPv6 prefix given to Table4).
var ErrWrongFamily = errors.New("lpm: prefix of the wrong address family")

// ErrInvalidPrefix is returned by Apply when a batch holds the zero or an
// otherwise invalid netip.Prefix.
var ErrInvalidPrefix = errors.New("lpm: invalid prefix")

// ErrTooDense is returned by Apply when one address window would need more
// intervals than a range block can index (more than 4M); nothing is applied.
var ErrTooDense = errors.New("lpm: too many prefixes in one address window")

// Batch is an ordered list of inserts and deletes applied atomically by
// Table4.Apply or Table6.Apply. A Batch may be built with prefixes of either
// family, but a table rejects (applies nothing of) a batch that holds a
// prefix of the other family. Later operations on the same prefix win. The
// zero value is an empty batch; a Batch is not safe for concurrent use.
type Batch struct {
	ops []batchOp
}

type batchOp struct {
	prefix netip.Prefix
	value  uint32
	delete bool
}

// Insert records that p (masked to its canonical form) maps to value,
// replacing any value p already has.
func (b *Batch) Insert(p netip.Prefix, value uint32) {
	b.ops = append(b.ops, batchOp{prefix: p.Masked(), value: value})
}

// Delete records that p (masked) is removed; deleting an absent prefix is
// not an error.
func (b *Batch) Delete(p netip.Prefix) {
	b.ops = append(b.ops, batchOp{prefix: p.Masked(), delete: true})
}

// Len reports the number of recorded operations.
func (b *Batch) Len() int { return len(b.ops) }

// Reset empties the batch, keeping its storage for reuse.
func (b *Batch) Reset() { b.ops = b.ops[:0] }

// validate checks every prefix against the family before anything changes.
func (b *Batch) validate(want4 bool) error {
	for _, o := range b.ops {
		if !o.prefix.IsValid() {
			return fmt.Errorf("%w: %v", ErrInvalidPrefix, o.prefix)
		}
		if o.prefix.Addr().Is4() != want4 {
			return fmt.Errorf("%w: %v", ErrWrongFamily, o.prefix)
		}
	}
	return nil
}
