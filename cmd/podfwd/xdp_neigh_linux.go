package main

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

// errNeighbourUnresolved is wrapped when a peer's next hop has no Ethernet
// address in the kernel's neighbour table even after a probe.
var errNeighbourUnresolved = errors.New("next hop's Ethernet address not resolved")

// neighbourWait bounds how long start waits for one next hop to resolve.
const neighbourWait = 3 * time.Second

// usableNeighbour are the neighbour states whose address can be used: the
// kernel itself would send to a STALE entry (and then re-check it).
const usableNeighbour = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY |
	netlink.NUD_PROBE | netlink.NUD_PERMANENT | netlink.NUD_NOARP

// resolvePeerMACs sets every peer's UnderlayMAC to the Ethernet address of
// its next hop on ul (the peer itself, or the gateway of the route to it),
// from the kernel's neighbour table. A missing entry is resolved by the
// kernel after we send the peer one datagram to the discard port; a peer
// that stays unresolved fails the start and is named.
func resolvePeerMACs(log *slog.Logger, ul netlink.Link, cfg *dataplane.Config) error {
	for i := range cfg.Peers {
		p := &cfg.Peers[i]
		hop, err := nextHop(ul, p.Underlay)
		if err != nil {
			return fmt.Errorf("peer %s (%s): %w", p.Name, p.Underlay, err)
		}
		mac, err := neighbourMAC(ul.Attrs().Index, hop, p.Underlay)
		if err != nil {
			return fmt.Errorf("peer %s (%s): %w", p.Name, p.Underlay, err)
		}
		p.UnderlayMAC = mac
		log.Info("peer next hop", "peer", p.Name, "underlay", p.Underlay, "nextHop", hop, "mac", net.HardwareAddr(mac[:]).String())
	}
	return nil
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

// neighbourMAC reads hop's MAC on ifindex, probing once (and again every
// half second) until it resolves or neighbourWait passes.
func neighbourMAC(ifindex int, hop, peer netip.Addr) ([6]byte, error) {
	deadline := time.Now().Add(neighbourWait)
	var lastProbe time.Time
	for {
		mac, ok, err := lookupNeighbour(ifindex, hop)
		if err != nil {
			return mac, err
		}
		if ok {
			return mac, nil
		}
		if time.Now().After(deadline) {
			return mac, fmt.Errorf("%w: %s after %v", errNeighbourUnresolved, hop, neighbourWait)
		}
		if time.Since(lastProbe) > 500*time.Millisecond {
			probePeer(peer)
			lastProbe = time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lookupNeighbour(ifindex int, hop netip.Addr) (mac [6]byte, ok bool, err error) {
	family := netlink.FAMILY_V4
	if hop.Is6() {
		family = netlink.FAMILY_V6
	}
	neighs, err := netlink.NeighList(ifindex, family)
	if err != nil {
		return mac, false, fmt.Errorf("neighbour table: %w", err)
	}
	for _, n := range neighs {
		a, _ := netip.AddrFromSlice(n.IP)
		if a.Unmap() == hop && len(n.HardwareAddr) == 6 && n.State&usableNeighbour != 0 {
			return [6]byte(n.HardwareAddr), true, nil
		}
	}
	return mac, false, nil
}

// probePeer sends one datagram to the peer's discard port (9) through the
// kernel, which makes it resolve the next hop (ARP or neighbour
// discovery). The peer's kernel answers port-unreachable at most; the
// datagram is no tunnel traffic, so no podfwd counts it.
func probePeer(peer netip.Addr) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, 9)))
	if err != nil {
		return
	}
	_, _ = c.Write([]byte{0})
	c.Close()
}
