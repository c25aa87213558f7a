package kube

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/podfwd/podfwd/dataplane"
)

// peerSet is the part of a config that Nodes decide: our pod CIDRs and the
// peers, sorted by name. Comparing two sets tells whether a new config is
// needed at all.
type peerSet struct {
	local []netip.Prefix
	peers []dataplane.Peer
}

func (a peerSet) equal(b peerSet) bool {
	return slices.Equal(a.local, b.local) && slices.EqualFunc(a.peers, b.peers, peerEqual)
}

// buildPeerSet turns the views of every Node into a peer set. Peers that
// would make the whole config invalid (overlapping our pod CIDRs, reusing
// our or another peer's underlay) are left out and named in dropped, so
// one bad Node never stops the cluster's config. ok is false when our own
// pod CIDRs are not known yet.
func buildPeerSet(self string, views map[string]nodeView, fallbackLocal []netip.Prefix, localUnderlay netip.Addr) (set peerSet, dropped map[string]string, ok bool) {
	set.local = fallbackLocal
	if v, found := views[self]; found && len(v.podCIDRs) > 0 {
		set.local = v.podCIDRs
	}
	if len(set.local) == 0 {
		return set, nil, false
	}
	names := make([]string, 0, len(views))
	for name, v := range views {
		if name != self && v.skip == "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	dropped = map[string]string{}
	underlays := make(map[netip.Addr]string, len(names))
	claimed := make(map[netip.Prefix]string, len(names))
	set.peers = make([]dataplane.Peer, 0, len(names))
	// Pod CIDRs are checked against the local ones and for exact repeats:
	// two peers' CIDRs that merely overlap are the LPM's business (the
	// longer prefix wins), and checking every pair would cost n² at 5,000
	// nodes.
next:
	for _, name := range names {
		p := views[name].peer
		if p.Underlay == localUnderlay {
			dropped[name] = fmt.Sprintf("underlay %s is our own", p.Underlay)
			continue
		}
		if other, dup := underlays[p.Underlay]; dup {
			dropped[name] = fmt.Sprintf("underlay %s is also node %s's", p.Underlay, other)
			continue
		}
		for _, c := range p.PodCIDRs {
			for _, l := range set.local {
				if c.Overlaps(l) {
					dropped[name] = fmt.Sprintf("pod CIDR %s overlaps ours (%s)", c, l)
					continue next
				}
			}
			if other, dup := claimed[c]; dup {
				dropped[name] = fmt.Sprintf("pod CIDR %s is also node %s's", c, other)
				continue next
			}
		}
		underlays[p.Underlay] = name
		for _, c := range p.PodCIDRs {
			claimed[c] = name
		}
		set.peers = append(set.peers, p)
	}
	return set, dropped, true
}

// configFrom copies base and fills in the peer set and generation. The
// result is a new value: configs are never changed once handed out.
func configFrom(base *dataplane.Config, set peerSet, generation uint64) *dataplane.Config {
	cfg := *base
	cfg.Generation = generation
	cfg.LocalPodCIDRs = slices.Clone(set.local)
	cfg.Peers = slices.Clone(set.peers)
	return &cfg
}
