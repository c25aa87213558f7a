package node

import (
	"fmt"
	"net/netip"

	"github.com/podfwd/podfwd/dataplane/xdpport"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// podVeth is a host-side veth with at least one local pod behind it.
type podVeth struct {
	ifindex int
	name    string
	mtu     int
}

// podScan is what discoverPods found: the veths to serve and the pods
// reachable through them.
type podScan struct {
	veths  map[int]podVeth
	routes []xdpport.PodRoute
	// alive names every veth on the node, pod or not: a served veth that
	// is no longer here went away with its pod.
	alive map[int]string
}

// discoverPods finds the local pods the kernel knows: neighbour entries
// (IPv4 ARP, IPv6 ND) for addresses in a local pod CIDR. A pod attached to
// a bridge (the CNI bridge plugin: cni0) is reached through the bridge
// port its MAC was learnt on (the bridge's forwarding database), from the
// bridge's MAC, which is the pod's gateway; a pod attached point-to-point
// (a route to it through its veth, as Calico and Cilium do) through that
// veth, from the veth's MAC. Only veths qualify. A pod the kernel has no
// neighbour entry for is not found: its traffic takes the TUN until the
// kernel resolves it (the pod's first ARP for its gateway does).
func discoverPods(local []netip.Prefix) (podScan, error) {
	scan := podScan{veths: map[int]podVeth{}, alive: map[int]string{}}
	links, err := netlink.LinkList()
	if err != nil {
		return scan, fmt.Errorf("list links: %w", err)
	}
	byIndex := make(map[int]netlink.Link, len(links))
	for _, l := range links {
		byIndex[l.Attrs().Index] = l
		if l.Type() == "veth" {
			scan.alive[l.Attrs().Index] = l.Attrs().Name
		}
	}
	fdb, err := bridgePorts()
	if err != nil {
		return scan, err
	}
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		neighs, err := netlink.NeighList(0, family)
		if err != nil {
			return scan, fmt.Errorf("neighbour table: %w", err)
		}
		for _, n := range neighs {
			addr, ok := netip.AddrFromSlice(n.IP)
			if !ok || len(n.HardwareAddr) != 6 || n.State&usableNeighbour == 0 || !inAny(local, addr.Unmap()) {
				continue
			}
			at, ok := byIndex[n.LinkIndex]
			if !ok {
				continue
			}
			mac := [6]byte(n.HardwareAddr)
			port := at
			if at.Type() == "bridge" {
				idx, ok := fdb[fdbKey{bridge: n.LinkIndex, mac: mac}]
				if !ok {
					continue
				}
				if port, ok = byIndex[idx]; !ok {
					continue
				}
			}
			if port.Type() != "veth" || len(at.Attrs().HardwareAddr) != 6 {
				continue
			}
			a := port.Attrs()
			scan.veths[a.Index] = podVeth{ifindex: a.Index, name: a.Name, mtu: a.MTU}
			scan.routes = append(scan.routes, xdpport.PodRoute{
				Addr: addr.Unmap(), Ifindex: a.Index, PodMAC: mac, GatewayMAC: [6]byte(at.Attrs().HardwareAddr),
			})
		}
	}
	return scan, nil
}

// fdbKey names a MAC learnt on a bridge.
type fdbKey struct {
	bridge int
	mac    [6]byte
}

// bridgePorts reads every bridge's forwarding database: which port each
// MAC was learnt on (the bridge's own addresses are left out).
func bridgePorts() (map[fdbKey]int, error) {
	entries, err := netlink.NeighList(0, unix.AF_BRIDGE)
	if err != nil {
		return nil, fmt.Errorf("bridge forwarding database: %w", err)
	}
	out := make(map[fdbKey]int, len(entries))
	for _, e := range entries {
		if e.MasterIndex == 0 || len(e.HardwareAddr) != 6 || e.LinkIndex == e.MasterIndex {
			continue
		}
		if e.State&netlink.NUD_PERMANENT != 0 {
			continue // the port's own address, not a pod's
		}
		out[fdbKey{bridge: e.MasterIndex, mac: [6]byte(e.HardwareAddr)}] = e.LinkIndex
	}
	return out, nil
}

func inAny(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
