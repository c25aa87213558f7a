package masq

import (
	"net/netip"
	"testing"
)

func TestElementsTopOfSpace(t *testing.T) {
	el := elements([]span{{netip.MustParseAddr("10.0.0.0"), netip.MustParseAddr("10.0.0.255")},
		{netip.MustParseAddr("255.0.0.0"), netip.MustParseAddr("255.255.255.255")}})
	if len(el) != 3 || !el[1].IntervalEnd || netip.AddrFrom4([4]byte(el[1].Key)) != netip.MustParseAddr("10.0.1.0") || el[2].IntervalEnd {
		t.Fatalf("elements = %+v", el)
	}
}
