package xdp

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestDestinationSetMasksAndDeduplicates(t *testing.T) {
	set, err := destinationSet(prefixes("10.244.1.7/24", "10.244.1.0/24", "fd00:10:244:1::5/64", "::ffff:10.0.0.0/104"))
	if err != nil {
		t.Fatal(err)
	}
	want := prefixes("10.244.1.0/24", "fd00:10:244:1::/64", "::ffff:10.0.0.0/104")
	if len(set) != len(want) {
		t.Fatalf("set %v, want %v", set, want)
	}
	for _, p := range want {
		if _, ok := set[p]; !ok {
			t.Errorf("set %v lacks %v", set, p)
		}
	}
}

func TestDestinationSetRejectsInvalid(t *testing.T) {
	_, err := destinationSet([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}})
	if !errors.Is(err, ErrBadPodPrefix) || !strings.Contains(err.Error(), "prefix 1") {
		t.Fatalf("invalid prefix: %v, want ErrBadPodPrefix naming prefix 1", err)
	}
	many := make([]netip.Prefix, MaxPodDestinations+1)
	for i := range many {
		many[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}
	if _, err := destinationSet(many); !errors.Is(err, ErrBadPodPrefix) {
		t.Fatalf("%d IPv4 prefixes: %v, want ErrBadPodPrefix", len(many), err)
	}
}

func TestDiffDestinations(t *testing.T) {
	set := func(ss ...string) map[netip.Prefix]struct{} {
		m, err := destinationSet(prefixes(ss...))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, c := range []struct {
		name             string
		cur, want        map[netip.Prefix]struct{}
		wantAdd, wantDel []netip.Prefix
	}{
		{"from empty", set(), set("10.1.0.0/16", "fd00::/64"), prefixes("10.1.0.0/16", "fd00::/64"), nil},
		{"to empty", set("10.1.0.0/16", "fd00::/64"), set(), nil, prefixes("10.1.0.0/16", "fd00::/64")},
		{"same", set("10.1.0.0/16"), set("10.1.0.0/16"), nil, nil},
		{"length changes", set("10.1.0.0/16"), set("10.1.0.0/24"), prefixes("10.1.0.0/24"), prefixes("10.1.0.0/16")},
		{"overlap", set("10.1.0.0/16", "10.2.0.0/16", "fd00:1::/64"), set("10.2.0.0/16", "10.3.0.0/16", "fd00:1::/64", "fd00:2::/64"),
			prefixes("10.3.0.0/16", "fd00:2::/64"), prefixes("10.1.0.0/16")},
	} {
		add, del := diffDestinations(c.cur, c.want)
		if !slices.Equal(add, c.wantAdd) || !slices.Equal(del, c.wantDel) {
			t.Errorf("%s: add %v del %v, want add %v del %v", c.name, add, del, c.wantAdd, c.wantDel)
		}
	}
}

func TestSortPrefixes(t *testing.T) {
	ps := prefixes("fd00::/8", "10.2.0.0/16", "10.1.0.0/24", "10.1.0.0/16", "0.0.0.0/0")
	sortPrefixes(ps)
	want := prefixes("0.0.0.0/0", "10.1.0.0/16", "10.1.0.0/24", "10.2.0.0/16", "fd00::/8")
	if !slices.Equal(ps, want) {
		t.Fatalf("sorted %v, want %v", ps, want)
	}
}
