package lpm

import (
	"errors"
	"net/netip"
	"testing"
)

func TestApplyRejectsWrongFamilyAtomically(t *testing.T) {
	t4, t6 := NewTable4(), NewTable6()
	var b Batch
	b.Insert(netip.MustParsePrefix("10.0.0.0/8"), 1)
	b.Insert(netip.MustParsePrefix("2001:db8::/32"), 2)
	if err := t4.Apply(&b); !errors.Is(err, ErrWrongFamily) {
		t.Fatalf("Table4.Apply(mixed) = %v, want ErrWrongFamily", err)
	}
	if err := t6.Apply(&b); !errors.Is(err, ErrWrongFamily) {
		t.Fatalf("Table6.Apply(mixed) = %v, want ErrWrongFamily", err)
	}
	if t4.Len() != 0 || t6.Len() != 0 {
		t.Fatalf("a rejected batch changed the tables: Len %d, %d", t4.Len(), t6.Len())
	}
	if _, _, ok := t4.LookupAddr(netip.MustParseAddr("10.1.2.3")); ok {
		t.Fatal("a rejected batch is visible")
	}
	if err := t4.Insert(netip.MustParsePrefix("::ffff:10.0.0.0/104"), 1); !errors.Is(err, ErrWrongFamily) {
		t.Fatalf("Table4 took an IPv4-mapped IPv6 prefix: %v", err)
	}
	if err := t4.Insert(netip.Prefix{}, 1); !errors.Is(err, ErrInvalidPrefix) {
		t.Fatalf("Table4 took the zero prefix: %v", err)
	}
	if err := t6.Delete(netip.Prefix{}); !errors.Is(err, ErrInvalidPrefix) {
		t.Fatalf("Table6 took the zero prefix: %v", err)
	}
}

func TestNonCanonicalPrefixIsMasked(t *testing.T) {
	t4 := NewTable4()
	if err := t4.Insert(netip.MustParsePrefix("10.1.2.3/16"), 5); err != nil {
		t.Fatal(err)
	}
	v, l, ok := t4.LookupAddr(netip.MustParseAddr("10.1.200.1"))
	if !ok || v != 5 || l != 16 {
		t.Fatalf("lookup = (%d, /%d, %v), want (5, /16, true)", v, l, ok)
	}
	for p := range t4.All {
		if p != netip.MustParsePrefix("10.1.0.0/16") {
			t.Fatalf("All yielded %v, want 10.1.0.0/16", p)
		}
	}
	if err := t4.Delete(netip.MustParsePrefix("10.1.9.9/16")); err != nil {
		t.Fatal(err)
	}
	if t4.Len() != 0 {
		t.Fatalf("deleting the non-canonical form left Len = %d", t4.Len())
	}
}

func TestEdgeRoutes(t *testing.T) {
	t4, t6 := NewTable4(), NewTable6()
	var b4, b6 Batch
	b4.Insert(netip.MustParsePrefix("0.0.0.0/0"), 1)
	b4.Insert(netip.MustParsePrefix("255.255.255.255/32"), 2)
	b4.Insert(netip.MustParsePrefix("0.0.0.0/32"), 3)
	b6.Insert(netip.MustParsePrefix("::/0"), 1)
	b6.Insert(netip.MustParsePrefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), 2)
	b6.Insert(netip.MustParsePrefix("2001:db8::1/128"), 3)
	if err := t4.Apply(&b4); err != nil {
		t.Fatal(err)
	}
	if err := t6.Apply(&b6); err != nil {
		t.Fatal(err)
	}
	cases4 := []struct {
		a    uint32
		v    uint32
		plen uint8
	}{{0xffffffff, 2, 32}, {0xfffffffe, 1, 0}, {0, 3, 32}, {1, 1, 0}}
	for _, c := range cases4 {
		if v, l, ok := t4.Lookup(c.a); !ok || v != c.v || l != c.plen {
			t.Errorf("v4 %08x = (%d, /%d, %v), want (%d, /%d)", c.a, v, l, ok, c.v, c.plen)
		}
	}
	cases6 := []struct {
		a    string
		v    uint32
		plen uint8
	}{{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 2, 128}, {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 1, 0}, {"2001:db8::1", 3, 128}, {"2001:db8::2", 1, 0}}
	for _, c := range cases6 {
		if v, l, ok := t6.LookupAddr(netip.MustParseAddr(c.a)); !ok || v != c.v || l != c.plen {
			t.Errorf("v6 %s = (%d, /%d, %v), want (%d, /%d)", c.a, v, l, ok, c.v, c.plen)
		}
	}
	if _, _, ok := t6.LookupAddr(netip.MustParseAddr("10.0.0.1")); ok {
		t.Error("Table6 matched an IPv4 address")
	}
	if v, _, ok := t4.LookupAddr(netip.MustParseAddr("::ffff:10.0.0.1")); !ok || v != 1 {
		t.Error("Table4 did not unmap an IPv4-mapped address")
	}
}
