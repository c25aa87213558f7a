package dataplane

import "github.com/podfwd/podfwd/encap"

// peerICMPError reports whether inner, whose source lies outside the
// sending peer's pod CIDRs, is still what a correct datapath delivers: an
// ICMP error that the peer node itself originated (time exceeded on its
// hop, fragmentation needed or packet too big from a tighter link,
// unreachable), from one of its node addresses, about a packet one of our
// pods sent. That is how traceroute and path MTU discovery work across
// the overlay; anything else from a non-pod source stays spoofed-source.
func (f *fib) peerICMPError(hop uint32, inner []byte, flow *encap.Flow) bool {
	if flow.Proto != encap.ProtoICMP && flow.Proto != encap.ProtoICMPv6 {
		return false
	}
	peer := f.hops[hop].peer
	if flow.Src != peer.Underlay && flow.Src != peer.Underlay6 {
		return false
	}
	quoted, ok := encap.ICMPErrorQuoteSource(inner)
	if !ok {
		return false
	}
	qHop, _, ok := f.route(quoted)
	return ok && qHop == hopLocal
}
