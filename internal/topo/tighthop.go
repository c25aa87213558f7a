package topo

import (
	"context"
	"fmt"
	"strconv"
)

// routerHost is the host number of the tight hop's router on the underlay
// subnet: 10.99.0.254 and fd99::fe. No node (at most 250) or outside host
// (AddOutside refuses it with a tight hop) takes it.
const routerHost = 254

// The tight hop (Config.TightHopMTU) turns the underlay namespace into a
// router for node 1: node 1's port leaves the bridge and the namespace
// routes between that port and the bridge, with the smaller MTU on the
// route toward either side. Nodes keep their addresses and on-link view of
// 10.99.0.0/24 and fd99::/64: the router answers ARP (proxy ARP) and
// neighbour solicitations (proxy NDP) for the addresses on its other side,
// so every cross-hop packet is addressed to the router's MAC and forwarded
// at L3: TTL decremented, MTU enforced with the router's own ICMP errors
// (sourced from RouterIPv4 / RouterIPv6), IPv4 without DF fragmented.
// Forwarding is the route MTU's business ("forwarding honours the route
// mtu" in the kernel), so the links stay at Config.MTU and node 1's port
// still takes full-size frames in.

// tightHop reports whether the topology has a router in front of node 1.
func (t *Topology) tightHop() bool { return t.Config.TightHopMTU != 0 }

// onRouterSide reports whether n's underlay port is routed, not bridged.
func (n *Node) onRouterSide() bool { return n.topo.tightHop() && n.Index == 1 }

// routerSysctls are written in the underlay namespace once its links
// exist: per-interface knobs need the interface. ICMP rate limits are off
// so that every too-big packet is answered and tests do not depend on
// timing; proxy delays are off so that the first ARP or NDP is answered
// at once.
func (t *Topology) routerSysctls() [][2]string {
	port := underlayPort(1)
	kv := [][2]string{
		{"net/ipv4/ip_forward", "1"},
		{"net/ipv4/icmp_ratelimit", "0"},
		{"net/ipv4/conf/all/rp_filter", "0"},
		{"net/ipv4/conf/all/send_redirects", "0"},
	}
	for _, dev := range []string{port, underlayBridge} {
		kv = append(kv,
			[2]string{"net/ipv4/conf/" + dev + "/rp_filter", "0"},
			[2]string{"net/ipv4/conf/" + dev + "/send_redirects", "0"},
			[2]string{"net/ipv4/conf/" + dev + "/proxy_arp", "1"},
			[2]string{"net/ipv4/neigh/" + dev + "/proxy_delay", "0"})
	}
	if t.Config.IPv6 {
		kv = append(kv,
			[2]string{"net/ipv6/conf/all/forwarding", "1"},
			[2]string{"net/ipv6/conf/all/proxy_ndp", "1"},
			[2]string{"net/ipv6/icmp/ratelimit", "0"})
		for _, dev := range []string{port, underlayBridge} {
			kv = append(kv, [2]string{"net/ipv6/neigh/" + dev + "/proxy_delay", "0"})
		}
	}
	return kv
}

// routerLines address the router on the bridge and route each side with
// the tight MTU. The addresses carry no prefix route of their own: the
// routes below, with their MTU, are the only ones.
func (t *Topology) routerLines() []string {
	port, mtu := underlayPort(1), strconv.Itoa(t.Config.TightHopMTU)
	n1 := t.Nodes[0]
	lines := []string{
		"link set " + port + " up",
		fmt.Sprintf("addr add %s/24 dev %s noprefixroute", t.RouterIPv4, underlayBridge),
		fmt.Sprintf("route add %s dev %s src %s mtu %s", underlayIPv4(0).String()+"/24", underlayBridge, t.RouterIPv4, mtu),
		fmt.Sprintf("route add %s/32 dev %s src %s mtu %s", n1.UnderlayIPv4, port, t.RouterIPv4, mtu),
	}
	if !t.Config.IPv6 {
		return lines
	}
	lines = append(lines,
		fmt.Sprintf("addr add %s/64 dev %s nodad noprefixroute", t.RouterIPv6, underlayBridge),
		fmt.Sprintf("route add %s/64 dev %s mtu %s", underlayIPv6(0), underlayBridge, mtu),
		fmt.Sprintf("route add %s/128 dev %s mtu %s", n1.UnderlayIPv6, port, mtu),
		fmt.Sprintf("neigh add proxy %s dev %s", n1.UnderlayIPv6, underlayBridge))
	for _, n := range t.Nodes[1:] {
		lines = append(lines, fmt.Sprintf("neigh add proxy %s dev %s", n.UnderlayIPv6, port))
	}
	return lines
}

// buildRouter makes the underlay namespace node 1's router; build calls it
// once node 1's port exists.
func (t *Topology) buildRouter(ctx context.Context) error {
	if err := doIn(t.Underlay, func() error { return writeSysctls(t.routerSysctls()) }); err != nil {
		return err
	}
	return batch(ctx, "ip", t.Underlay, t.routerLines())
}

// proxyOutsideLines let node 1 resolve an outside host's IPv6 address
// through the router (IPv4 proxy ARP follows the routes by itself).
func (t *Topology) proxyOutsideLines(o *Outside) []string {
	if !t.tightHop() || !o.IPv6.IsValid() {
		return nil
	}
	return []string{fmt.Sprintf("neigh add proxy %s dev %s", o.IPv6, underlayPort(1))}
}
