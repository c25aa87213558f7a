package lpm

import (
	"math/rand/v2"
	"testing"
)

// TestLookupBatchMatchesLookup checks LookupBatch against Lookup on a
// BGP-shaped table, for lengths around the group size.
func TestLookupBatchMatchesLookup(t *testing.T) {
	tb := NewTable4()
	ps, vs := genBGP4(5000, 11)
	var b Batch
	for i, p := range ps {
		b.Insert(p, vs[i])
	}
	if err := tb.Apply(&b); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	view := tb.View()
	for _, n := range []int{0, 1, 7, 8, 9, 64, 101} {
		addrs := make([]uint32, n)
		for i := range addrs {
			addrs[i] = r.Uint32()
			if i%2 == 0 {
				addrs[i] = as4(lastAddr(ps[r.IntN(len(ps))]))
			}
		}
		out := make([]Match, n)
		view.LookupBatch(addrs, out)
		for i, a := range addrs {
			v, l, ok := view.Lookup(a)
			if out[i] != (Match{v, l, ok}) {
				t.Fatalf("n=%d addr %08x: batch %+v, Lookup (%d, /%d, %v)", n, a, out[i], v, l, ok)
			}
		}
	}
	addrs := make([]uint32, 64)
	out := make([]Match, 64)
	if n := testing.AllocsPerRun(100, func() { view.LookupBatch(addrs, out) }); n != 0 {
		t.Errorf("LookupBatch: %v allocs per run, want 0", n)
	}
}
