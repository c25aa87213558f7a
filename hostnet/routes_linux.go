package hostnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/podfwd/podfwd/config"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteProtocol marks every route podfwd installs (the rtm_protocol field,
// `ip route show proto 157`). Reconciliation touches only routes with this
// mark, so routes we do not own are never changed.
const RouteProtocol netlink.RouteProtocol = 157

// Route is one route podfwd wants in the main table: Dst through the TUN
// device (LinkIndex) or via a gateway (the peer's underlay address).
type Route struct {
	Dst       netip.Prefix
	Gateway   netip.Addr // zero for device routes
	LinkIndex int
	OnLink    bool // the gateway is on the link even though no subnet says so (kernel VXLAN routes)
}

func (r Route) key() string { return fmt.Sprintf("%s|%s|%d", r.Dst, r.Gateway, r.LinkIndex) }

// fullKey is key plus the flag that changes how the kernel uses the
// route: a route already in the kernel with the same fullKey needs no
// replace.
func (r Route) fullKey() string {
	return fmt.Sprintf("%s|%v", r.key(), r.OnLink && r.Gateway.IsValid())
}

func (r Route) netlink() *netlink.Route {
	nr := &netlink.Route{
		Dst:       prefixToIPNet(r.Dst),
		LinkIndex: r.LinkIndex,
		Protocol:  RouteProtocol,
		Table:     unix.RT_TABLE_MAIN,
	}
	if r.Gateway.IsValid() {
		nr.Gw = net.IP(r.Gateway.AsSlice())
		if r.OnLink {
			nr.Flags = int(netlink.FLAG_ONLINK)
		}
	} else {
		nr.Scope = netlink.SCOPE_LINK
	}
	return nr
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Masked().Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// OwnedRoutes lists the routes in the main table that carry RouteProtocol.
func OwnedRoutes() ([]netlink.Route, error) {
	var out []netlink.Route
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := netlink.RouteListFiltered(family, &netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN},
			netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		if err != nil {
			return nil, fmt.Errorf("list routes: %w", err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// ReconcileRoutes makes the set of routes we own equal to want: it removes
// our routes that are not wanted (stale, e.g. from a crashed run or a
// deleted peer), adds the missing ones and replaces those that differ.
// Routes already in the kernel as wanted are left alone, so one peer's
// change costs one list and one or two writes, not a write per peer.
// Routes without our protocol mark are never touched.
func ReconcileRoutes(want []Route) error {
	have, err := OwnedRoutes()
	if err != nil {
		return err
	}
	wanted := make(map[string]bool, len(want))
	for _, r := range want {
		wanted[r.key()] = true
	}
	present := make(map[string]bool, len(have))
	var errs []error
	for _, h := range have {
		if h.Dst == nil {
			continue
		}
		p, ok := netipPrefix(h.Dst)
		if !ok {
			continue
		}
		r := Route{Dst: p, LinkIndex: h.LinkIndex}
		if h.Gw != nil {
			r.Gateway, _ = netip.AddrFromSlice(h.Gw)
			r.Gateway = r.Gateway.Unmap()
			r.OnLink = h.Flags&int(netlink.FLAG_ONLINK) != 0
		}
		present[r.fullKey()] = true
		if !wanted[r.key()] {
			if err := netlink.RouteDel(&h); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("delete stale route %s: %w", p, err))
			}
		}
	}
	for _, r := range want {
		if present[r.fullKey()] {
			continue
		}
		if err := netlink.RouteReplace(r.netlink()); err != nil {
			errs = append(errs, fmt.Errorf("route %s: %w", r.Dst, err))
		}
	}
	return errors.Join(errs...)
}

// RemoveOwnedRoutes deletes every route carrying RouteProtocol.
func RemoveOwnedRoutes() error { return ReconcileRoutes(nil) }

func netipPrefix(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// LookupInterface reads an interface's addresses and MTU through netlink.
func LookupInterface(name string) (config.Interface, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return config.Interface{}, fmt.Errorf("interface %q: %w", name, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return config.Interface{}, fmt.Errorf("addresses of %q: %w", name, err)
	}
	ifc := config.Interface{MTU: link.Attrs().MTU}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			ifc.Addrs = append(ifc.Addrs, ip.Unmap())
		}
	}
	return ifc, nil
}
