package lpm

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// table is what the tests need of Table4 and Table6.
type table interface {
	Apply(*Batch) error
	LookupAddr(netip.Addr) (uint32, uint8, bool)
	Len() int
	All(func(netip.Prefix, uint32) bool)
}

type lookupFunc func(netip.Addr) (uint32, uint8, bool)

// checkProbe compares one address's answer from the table (through both the
// netip and the hot-path entry points) with the reference's.
func checkProbe(t *testing.T, tb table, want lookupFunc, a netip.Addr) {
	t.Helper()
	if !a.IsValid() {
		return
	}
	v, l, ok := tb.LookupAddr(a)
	wv, wl, wok := want(a)
	if v != wv || l != wl || ok != wok {
		t.Fatalf("lookup %v = (%d, /%d, %v), want (%d, /%d, %v)", a, v, l, ok, wv, wl, wok)
	}
	var hv uint32
	var hl uint8
	var hok bool
	switch x := tb.(type) {
	case *Table4:
		b := a.As4()
		hv, hl, hok = x.View().Lookup(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
	case *Table6:
		b := a.As16()
		hv, hl, hok = x.Lookup(&b)
	}
	if hv != v || hl != l || hok != ok {
		t.Fatalf("hot-path lookup %v = (%d, /%d, %v), LookupAddr says (%d, /%d, %v)", a, hv, hl, hok, v, l, ok)
	}
}

func checkAll(t *testing.T, tb table, ref *refTable) {
	t.Helper()
	if tb.Len() != len(ref.routes) {
		t.Fatalf("Len = %d, want %d", tb.Len(), len(ref.routes))
	}
	n := 0
	for p, v := range tb.All {
		n++
		if wv, ok := ref.routes[p]; !ok || wv != v {
			t.Fatalf("All yielded %v=%d, reference has %d (present %v)", p, v, wv, ok)
		}
	}
	if n != len(ref.routes) {
		t.Fatalf("All yielded %d routes, want %d", n, len(ref.routes))
	}
}

// runNested applies rounds of random batches of nested, overlapping prefixes
// (inserts, replaces, deletes of present and absent prefixes, deletes of
// covering prefixes followed by re-inserts) and checks the table against the
// linear-scan reference after each batch.
func runNested(t *testing.T, tb table, gen func(*rand.Rand) netip.Prefix, randAddr func(*rand.Rand) netip.Addr, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	ref := newRef()
	var present []netip.Prefix
	for round := range 60 {
		var b Batch
		var touched []netip.Prefix
		for range 1 + r.IntN(40) {
			switch x := r.IntN(10); {
			case x < 6 || len(present) == 0:
				p := gen(r)
				b.Insert(p, r.Uint32N(1000))
				touched = append(touched, p)
			case x < 9:
				p := present[r.IntN(len(present))]
				b.Delete(p)
				touched = append(touched, p)
			default:
				p := gen(r)
				b.Delete(p)
				touched = append(touched, p)
			}
		}
		if round%7 == 3 && len(present) > 0 {
			// Delete the shortest present prefix (it covers others), then
			// in the next batch put it back.
			short := present[0]
			for _, p := range present {
				if p.Bits() < short.Bits() {
					short = p
				}
			}
			b.Delete(short)
			touched = append(touched, short)
			if err := tb.Apply(&b); err != nil {
				t.Fatal(err)
			}
			ref.apply(&b)
			checkBatch(t, tb, ref, touched, r, randAddr)
			b = Batch{}
			b.Insert(short, 7)
		}
		if err := tb.Apply(&b); err != nil {
			t.Fatal(err)
		}
		ref.apply(&b)
		present = present[:0]
		for p := range ref.routes {
			present = append(present, p)
		}
		checkBatch(t, tb, ref, touched, r, randAddr)
	}
	checkAll(t, tb, ref)
}

func checkBatch(t *testing.T, tb table, ref *refTable, touched []netip.Prefix, r *rand.Rand, randAddr func(*rand.Rand) netip.Addr) {
	t.Helper()
	for _, p := range touched {
		for range 4 {
			checkProbe(t, tb, ref.lookup, probeNear(r, p))
		}
	}
	n := 0
	for p := range ref.routes { // map order: a different sample each time
		if n++; n > 60 {
			break
		}
		checkProbe(t, tb, ref.lookup, probeNear(r, p))
	}
	for range 200 {
		checkProbe(t, tb, ref.lookup, randAddr(r))
	}
	checkAll(t, tb, ref)
}

func TestRandomNested4(t *testing.T) {
	for seed := range uint64(4) {
		runNested(t, NewTable4(), nestedPrefix4, randAddr4, seed)
	}
}

func TestRandomNested6(t *testing.T) {
	for seed := range uint64(4) {
		runNested(t, NewTable6(), nestedPrefix6, randAddr6, seed)
	}
}

// runLarge loads n BGP-shaped prefixes in batches, deletes and re-inserts a
// slice of them, and checks random and boundary probes against a per-length
// map reference.
func runLarge(t *testing.T, tb table, ps []netip.Prefix, vs []uint32, bits int, randAddr func(*rand.Rand) netip.Addr) {
	ref := newRef()
	var b Batch
	for i, p := range ps {
		b.Insert(p, vs[i])
		if b.Len() == 5000 || i == len(ps)-1 {
			if err := tb.Apply(&b); err != nil {
				t.Fatal(err)
			}
			ref.apply(&b)
			b.Reset()
		}
	}
	r := rand.New(rand.NewPCG(9, 9))
	check := func() {
		fr := freezeRef(ref, bits)
		for range 30_000 {
			checkProbe(t, tb, fr.lookup, randAddr(r))
		}
		for i := 0; i < len(ps); i += 7 {
			checkProbe(t, tb, fr.lookup, probeNear(r, ps[i]))
		}
	}
	check()
	// Delete every third prefix (short ones cover many), then re-insert half
	// of those with new values, in one batch each.
	for i := 0; i < len(ps); i += 3 {
		b.Delete(ps[i])
	}
	if err := tb.Apply(&b); err != nil {
		t.Fatal(err)
	}
	ref.apply(&b)
	b.Reset()
	check()
	for i := 0; i < len(ps); i += 6 {
		b.Insert(ps[i], vs[i]^1)
	}
	if err := tb.Apply(&b); err != nil {
		t.Fatal(err)
	}
	ref.apply(&b)
	check()
	checkAll(t, tb, ref)
}

func largeN(t *testing.T) int {
	if testing.Short() {
		return 20_000
	}
	return 100_000
}

func TestRandomLarge4(t *testing.T) {
	ps, vs := genBGP4(largeN(t), 1)
	runLarge(t, NewTable4(), ps, vs, 32, randAddr4)
}

func TestRandomLarge6(t *testing.T) {
	ps, vs := genBGP6(largeN(t), 1)
	runLarge(t, NewTable6(), ps, vs, 128, randAddr6)
}
