package lpm

import (
	"net/netip"
	"testing"
)

// TestLookupAllocs asserts the hot paths allocate nothing.
func TestLookupAllocs(t *testing.T) {
	t4, t6 := NewTable4(), NewTable6()
	ps, vs := genBGP4(2000, 3)
	for i, p := range ps {
		if err := t4.Insert(p, vs[i]); err != nil {
			t.Fatal(err)
		}
	}
	ps6, vs6 := genBGP6(2000, 3)
	var b Batch
	for i, p := range ps6 {
		b.Insert(p, vs6[i])
	}
	if err := t6.Apply(&b); err != nil {
		t.Fatal(err)
	}
	a4 := netip.MustParseAddr("192.0.2.1")
	a6 := netip.MustParseAddr("2001:db8::1")
	b6 := a6.As16()
	var sink uint32
	cases := map[string]func(){
		"Table4.Lookup":     func() { v, _, _ := t4.Lookup(0xc0000201); sink += v },
		"Table4.LookupAddr": func() { v, _, _ := t4.LookupAddr(a4); sink += v },
		"View4.Lookup":      func() { v, _, _ := t4.View().Lookup(0x0a000001); sink += v },
		"Table6.Lookup":     func() { v, _, _ := t6.Lookup(&b6); sink += v },
		"Table6.Lookup2":    func() { v, _, _ := t6.Lookup2(0x20010db8_00000000, 1); sink += v },
		"Table6.LookupAddr": func() { v, _, _ := t6.LookupAddr(a6); sink += v },
	}
	for name, fn := range cases {
		if n := testing.AllocsPerRun(1000, fn); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
	_ = sink
}
