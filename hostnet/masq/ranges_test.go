package masq

import (
	"net/netip"
	"slices"
	"testing"
)

func TestSpansMerge(t *testing.T) {
	pp := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	a := netip.MustParseAddr
	for _, c := range []struct {
		name string
		in   []netip.Prefix
		v4   bool
		want []span
	}{
		{"contained", pp("10.244.1.0/24", "10.0.0.0/8", "10.99.0.1/32"), true,
			[]span{{a("10.0.0.0"), a("10.255.255.255")}}},
		{"adjacent merge", pp("10.244.2.0/24", "10.244.1.0/24", "10.244.4.0/24"), true,
			[]span{{a("10.244.1.0"), a("10.244.2.255")}, {a("10.244.4.0"), a("10.244.4.255")}}},
		{"family filter", pp("10.244.1.0/24", "fd00:244:1::/64", "fd99::1/128"), false,
			[]span{{a("fd00:244:1::"), a("fd00:244:1:0:ffff:ffff:ffff:ffff")}, {a("fd99::1"), a("fd99::1")}}},
		{"whole space", pp("0.0.0.0/0", "192.168.0.0/16"), true,
			[]span{{a("0.0.0.0"), a("255.255.255.255")}}},
		{"host bits", pp("10.244.1.7/24"), true, []span{{a("10.244.1.0"), a("10.244.1.255")}}},
	} {
		if got := spans(c.in, c.v4); !slices.Equal(got, c.want) {
			t.Errorf("%s: spans = %v, want %v", c.name, got, c.want)
		}
	}
}
