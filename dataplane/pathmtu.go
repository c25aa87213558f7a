package dataplane

import (
	"sync/atomic"

	"github.com/podfwd/podfwd/encap"
)

// minPathMTU4 and minPathMTU6 bound a learned path MTU from below, as the
// kernel does (net.ipv4.route.min_pmtu's 552; IPv6's link minimum): a
// forged or broken ICMP error must not shrink the tunnel to nothing.
const (
	minPathMTU4 = 552
	minPathMTU6 = 1280
)

// PathMTU is the path MTU learned toward one peer's underlay address: the
// largest outer packet that crosses every hop, 0 while unknown. The
// control plane stores what the underlay's ICMP errors tell it (and clears
// it again when the knowledge expires); the egress loops load it per
// packet, lock-free. One PathMTU outlives the Configs that point to it, so
// a config change keeps what was learned. The zero value is ready to use.
type PathMTU struct{ v atomic.Int32 }

// Load returns the learned path MTU, 0 when none is known.
func (p *PathMTU) Load() int { return int(p.v.Load()) }

// Store records mtu (0 forgets it); a value below the family's minimum is
// raised to it. It reports whether the value changed.
func (p *PathMTU) Store(mtu int, ipv6 bool) bool {
	if mtu != 0 {
		mtu = min(max(mtu, minPathMTU4), 0xffff)
		if ipv6 {
			mtu = max(mtu, minPathMTU6)
		}
	}
	return p.v.Swap(int32(mtu)) != int32(mtu)
}

// innerMTU is the largest inner packet nh carries without any outer
// fragment: the tunnel MTU, lowered to what a learned path MTU leaves
// after the tunnel's overhead.
func (f *fib) innerMTU(nh *nextHop) int {
	mtu := f.tunnelMTU
	if nh.pmtu != nil {
		if p := nh.pmtu.Load(); p != 0 && p-f.overhead < mtu {
			mtu = p - f.overhead
		}
	}
	return mtu
}

// pathVerdict is what to do with an inner packet toward a peer, by its
// size against the tunnel MTU and the peer's path MTU.
type pathVerdict uint8

const (
	pathFits     pathVerdict = iota // send it
	pathAnswer                      // refuse it and tell the sender the MTU (IPv6, or IPv4 with DF)
	pathDrop                        // refuse it silently: IPv4 without DF above the tunnel MTU itself
	pathFragment                    // IPv4 without DF above the path only: fragment the inner packet to the MTU
)

// pathFit judges an inner packet of n bytes (the largest segment's, for a
// super-packet) toward nh and returns the MTU that applies. An IPv4 packet
// without DF that fits the tunnel but not the path goes on whole over a
// socket, whose kernel fragments the outer packet as it does for its own
// tunnels; whole frames (AF_XDP) have no kernel behind them to fragment
// the outer packet, so there podfwd fragments the inner one (which also
// spares the receiver a reassembly).
func (l *egressLoop) pathFit(f *fib, nh *nextHop, n int, v6, df bool) (pathVerdict, int) {
	mtu := f.innerMTU(nh)
	switch {
	case n <= mtu:
		return pathFits, mtu
	case v6:
		if mtu < minPathMTU6 {
			// The path leaves an IPv6 sender less than IPv6's minimum,
			// which it cannot go below: up to 1280 bytes go on and the
			// outer packet is fragmented, as the kernel's tunnels do.
			if n <= minPathMTU6 && n <= f.tunnelMTU {
				return pathFits, mtu
			}
			mtu = minPathMTU6
		}
		return pathAnswer, mtu
	case df:
		return pathAnswer, mtu
	case n > f.tunnelMTU:
		return pathDrop, mtu
	case l.e.opts.UnderlayKind == UnderlayFrame:
		return pathFragment, mtu
	}
	return pathFits, mtu
}

// tooBigReason names a refusal: above the tunnel MTU itself, or only above
// the path MTU learned toward the peer.
func (f *fib) tooBigReason(n int) Reason {
	if n > f.tunnelMTU {
		return ReasonTooBig
	}
	return ReasonPathTooBig
}

// innerDF reports whether the IPv4 packet pkt (at least a minimal header)
// forbids fragmentation.
func innerDF(pkt []byte) bool {
	return pkt[encap.IPv4FlagsFragOffset]&(encap.IPv4FlagDF>>8) != 0
}
