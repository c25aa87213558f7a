package xdp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// ErrBadPodPrefix is wrapped by SetDestinations' error about a prefix it
// cannot store.
var ErrBadPodPrefix = errors.New("xdp: bad destination prefix")

// MaxPodDestinations bounds the prefixes of each family that
// SetDestinations takes (the size of each LPM trie; entries are allocated
// only when used).
const MaxPodDestinations = 1 << 16

// lpmKey4 and lpmKey6 are the LPM tries' keys: the prefix length in host
// byte order, then the address in network byte order, as the program
// builds them from the packet.
type lpmKey4 struct {
	PrefixLen uint32
	Addr      [4]byte
}

type lpmKey6 struct {
	PrefixLen uint32
	Addr      [16]byte
}

// podSlotKey is the slot map's key: where a packet came in.
type podSlotKey struct {
	Ifindex uint32
	Queue   uint32
}

// destinationSet masks and deduplicates prefixes. It rejects an invalid
// prefix, naming it and its index, and more than MaxPodDestinations of a
// family. An IPv4-mapped IPv6 prefix stays IPv6: it matches IPv6 packets.
func destinationSet(prefixes []netip.Prefix) (map[netip.Prefix]struct{}, error) {
	set := make(map[netip.Prefix]struct{}, len(prefixes))
	n4, n6 := 0, 0
	for i, p := range prefixes {
		m := p.Masked()
		if !m.IsValid() {
			return nil, fmt.Errorf("%w: prefix %d (%v)", ErrBadPodPrefix, i, p)
		}
		if _, dup := set[m]; dup {
			continue
		}
		set[m] = struct{}{}
		if m.Addr().Is4() {
			n4++
		} else {
			n6++
		}
	}
	if n4 > MaxPodDestinations || n6 > MaxPodDestinations {
		return nil, fmt.Errorf("%w: %d IPv4 and %d IPv6 prefixes, at most %d of each", ErrBadPodPrefix, n4, n6, MaxPodDestinations)
	}
	return set, nil
}

// diffDestinations returns the prefixes to add and to delete to turn cur
// into want, each sorted.
func diffDestinations(cur, want map[netip.Prefix]struct{}) (add, del []netip.Prefix) {
	for p := range want {
		if _, ok := cur[p]; !ok {
			add = append(add, p)
		}
	}
	for p := range cur {
		if _, ok := want[p]; !ok {
			del = append(del, p)
		}
	}
	sortPrefixes(add)
	sortPrefixes(del)
	return add, del
}

// sortPrefixes orders IPv4 before IPv6, then by address, then shorter
// prefixes first.
func sortPrefixes(ps []netip.Prefix) {
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
}
