package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/vishvananda/netlink"
)

// neighbourWait bounds how long the start waits, for all next hops at
// once, before it goes on with the unresolved ones left at a zero MAC (the
// engine drops their frames as neighbour-unresolved until the follower
// installs their MAC).
const neighbourWait = 3 * time.Second

// neighbourSettle ends that wait early once no further next hop has
// resolved for this long after they were asked for: answers on a link take
// milliseconds, and a Node that is down (or not there: a stale Node object)
// would otherwise hold the start, and every other peer's traffic, for all
// of neighbourWait.
const neighbourSettle = 300 * time.Millisecond

// usableNeighbour are the neighbour states whose address can be used: the
// kernel itself would send to a STALE entry (and then re-check it).
const usableNeighbour = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY |
	netlink.NUD_PROBE | netlink.NUD_PERMANENT | netlink.NUD_NOARP

// frameAddresses are the Ethernet addresses frame mode needs and the
// control plane does not know, as the kernel's tables give them now.
type frameAddresses struct {
	local [6]byte                    // our underlay interface's MAC
	peers map[netip.Addr]peerNextHop // by peer underlay address
}

// peerNextHop is where frames to one peer go first.
type peerNextHop struct {
	hop   netip.Addr // the peer itself on the link, or the route's gateway; invalid if err
	mac   [6]byte    // zero: no usable neighbour entry
	stale bool       // usable, but the kernel has not confirmed it lately
	err   error      // why there is no next hop at all (no route, wrong interface)
}

// resolved reports whether frames to the peer can be addressed.
func (h peerNextHop) resolved() bool { return h.mac != [6]byte{} }

// readFrameAddresses reads ul's MAC and, for every peer of cfg, the next
// hop from the routing table and its MAC from the neighbour table. It
// never waits and never sends: an unresolved peer comes back with a zero
// MAC.
func readFrameAddresses(ul netlink.Link, cfg *dataplane.Config) (frameAddresses, error) {
	mac := ul.Attrs().HardwareAddr
	if len(mac) != 6 {
		return frameAddresses{}, fmt.Errorf("underlay interface %s has no Ethernet address (io xdp carries Ethernet frames)", ul.Attrs().Name)
	}
	fa := frameAddresses{local: [6]byte(mac), peers: make(map[netip.Addr]peerNextHop, len(cfg.Peers))}
	family := netlink.FAMILY_V4
	if cfg.LocalUnderlay.Is6() {
		family = netlink.FAMILY_V6 // NDP's entries
	}
	neighs, err := netlink.NeighList(ul.Attrs().Index, family)
	if err != nil {
		return frameAddresses{}, fmt.Errorf("neighbour table of %s: %w", ul.Attrs().Name, err)
	}
	for _, p := range cfg.Peers {
		hop, err := nextHop(ul, p.Underlay)
		if err != nil {
			fa.peers[p.Underlay] = peerNextHop{err: err}
			continue
		}
		h := peerNextHop{hop: hop}
		for _, n := range neighs {
			if a, _ := netip.AddrFromSlice(n.IP); a.Unmap() == hop {
				h.mac, _ = usableMAC(n)
				h.stale = n.State&netlink.NUD_STALE != 0
				break
			}
		}
		fa.peers[p.Underlay] = h
	}
	return fa, nil
}

// usableMAC returns a neighbour entry's Ethernet address if its state lets
// frames be sent to it.
func usableMAC(n netlink.Neigh) ([6]byte, bool) {
	if len(n.HardwareAddr) != 6 || n.State&usableNeighbour == 0 {
		return [6]byte{}, false
	}
	return [6]byte(n.HardwareAddr), true
}

// resolvePeerMACs fills cfg (in place, at the start) with ul's MAC and each
// peer's next-hop MAC. Next hops without a usable entry are asked for
// (see askNeighbour) all at once and waited for up to neighbourWait, or
// until none has resolved for neighbourSettle; a peer still unresolved
// then is logged and left at a zero MAC for the follower to fill in — a
// node that is down must not keep the others from starting.
func resolvePeerMACs(log *slog.Logger, ul netlink.Link, cfg *dataplane.Config) error {
	deadline := time.Now().Add(neighbourWait)
	var lastAsk, progress time.Time
	lastMissing := -1
	for {
		fa, err := readFrameAddresses(ul, cfg)
		if err != nil {
			return err
		}
		missing := 0
		for _, h := range fa.peers {
			if !h.resolved() {
				missing++
			}
		}
		now := time.Now()
		if lastMissing < 0 || missing < lastMissing {
			lastMissing, progress = missing, now
		}
		settled := !lastAsk.IsZero() && now.Sub(progress) > neighbourSettle
		if missing == 0 || now.After(deadline) || settled {
			next, changes := withFrameAddresses(cfg, nil, fa)
			*cfg = *next
			logMACChanges(log, cfg.Generation, changes)
			return nil
		}
		if time.Since(lastAsk) > 500*time.Millisecond {
			for _, h := range fa.peers {
				if h.err == nil && !h.resolved() {
					_ = askNeighbour(ul.Attrs().Index, h.hop)
				}
			}
			lastAsk = time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nextHop returns the address whose MAC frames to dst carry: dst itself on
// the link, or the route's gateway. The route must leave through ul: the
// socket can only send there.
func nextHop(ul netlink.Link, dst netip.Addr) (netip.Addr, error) {
	routes, err := netlink.RouteGet(dst.AsSlice())
	if err != nil {
		return netip.Addr{}, fmt.Errorf("route lookup: %w", err)
	}
	if len(routes) == 0 {
		return netip.Addr{}, errors.New("no route")
	}
	r := routes[0]
	if r.LinkIndex != ul.Attrs().Index {
		return netip.Addr{}, fmt.Errorf("the route leaves through ifindex %d, not the XDP interface %s", r.LinkIndex, ul.Attrs().Name)
	}
	if gw, ok := netip.AddrFromSlice(r.Gw); ok && gw.IsValid() && !gw.IsUnspecified() {
		return gw.Unmap(), nil
	}
	return dst, nil
}

// askNeighbour makes the kernel resolve hop on ifindex (ARP or neighbour
// discovery), or re-confirm a STALE entry, exactly as it would before
// sending it a packet: an RTM_NEWNEIGH with NTF_USE, which creates the
// entry if needed and changes no address. Nothing is sent to the peer
// but the kernel's own solicitation.
func askNeighbour(ifindex int, hop netip.Addr) error {
	err := netlink.NeighSet(&netlink.Neigh{LinkIndex: ifindex, IP: hop.AsSlice(), Flags: netlink.NTF_USE})
	if err != nil {
		return fmt.Errorf("asking the kernel to resolve %s: %w", hop, err)
	}
	return nil
}

func macString(mac [6]byte) string { return net.HardwareAddr(mac[:]).String() }
