package topo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrProgrammed is returned by Program on a node that is already
// programmed; Unprogram it first.
var ErrProgrammed = errors.New("topo: node already programmed")

// ErrPeer is returned by Program for a peer that is not another node of the
// same topology.
var ErrPeer = errors.New("topo: bad peer")

// vxlanOverhead is outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet
// (14); over IPv6 the outer header is 40, so 70.
const (
	vxlanOverhead   = 50
	vxlanOverhead6  = 70
	vxlanDeviceUp   = "link set %s up"
	vxlanDeviceLine = "link add %s address %s mtu %d type vxlan id %d local %s dev %s dstport %d nolearning"
)

// Program makes every node carry pods' traffic to every other node in mode.
func (t *Topology) Program(ctx context.Context, mode Mode) error {
	for _, n := range t.Nodes {
		if err := n.Program(ctx, mode); err != nil {
			return err
		}
	}
	return nil
}

// Program makes this node, and only this node, send traffic for the given
// peers' pod CIDRs through the kernel in mode (all other nodes when peers is
// empty). The peers are not touched: for interop, one node can run the
// kernel VXLAN device while its peer runs podfwd. Mode Unprogrammed is
// Unprogram.
func (n *Node) Program(ctx context.Context, mode Mode, peers ...*Node) error {
	if mode == Unprogrammed {
		return n.Unprogram(ctx)
	}
	peers = slices.Clone(peers) // kept for Unprogram; the caller may reuse its slice
	if len(peers) == 0 {
		for _, m := range n.topo.Nodes {
			if m != n {
				peers = append(peers, m)
			}
		}
	}
	for _, m := range peers {
		switch {
		case m == nil:
			return fmt.Errorf("%w: node %d got a nil peer", ErrPeer, n.Index)
		case m == n:
			return fmt.Errorf("%w: node %d cannot peer with itself", ErrPeer, n.Index)
		case m.topo != n.topo:
			return fmt.Errorf("%w: node %d cannot peer with %s of another topology", ErrPeer, n.Index, m.Namespace)
		}
	}
	if n.topo.isClosed() {
		return ErrClosed
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mode != Unprogrammed {
		return fmt.Errorf("%w: node %d is %v", ErrProgrammed, n.Index, n.mode)
	}
	var ipLines, bridgeLines []string
	switch mode {
	case KernelNative:
		ipLines = n.nativeLines(peers)
	case KernelVXLAN:
		ipLines, bridgeLines = n.vxlanLines(peers)
	default:
		return fmt.Errorf("%w: unknown %v", ErrConfig, mode)
	}
	// Record first: a half-applied program is undone by Unprogram too.
	n.mode, n.peers = mode, peers
	if err := batch(ctx, "ip", n.Namespace, ipLines); err != nil {
		return err
	}
	return batch(ctx, "bridge", n.Namespace, bridgeLines)
}

// Unprogram removes what Program added, leaving the node as New built it.
// An unprogrammed node is left alone.
func (n *Node) Unprogram(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var lines []string
	switch n.mode {
	case Unprogrammed:
		return nil
	case KernelNative:
		for _, m := range n.peers {
			lines = append(lines, "route del "+m.PodCIDRv4.String())
			if m.PodCIDRv6.IsValid() {
				lines = append(lines, "route del "+m.PodCIDRv6.String())
			}
		}
	case KernelVXLAN:
		// The routes, neighbours and FDB entries go with the devices.
		lines = append(lines, "link del "+VXLANDevice)
		if n.topo.Config.IPv6 {
			lines = append(lines, "link del "+VXLANDeviceV6)
		}
	}
	// -force: remove the rest even if a half-applied Program left a gap.
	err := run(ctx, strings.Join(lines, "\n")+"\n", "ip", "-n", n.Namespace, "-force", "-batch", "-")
	n.mode, n.peers = Unprogrammed, nil
	return err
}

// nativeLines route each peer's pod CIDRs via the peer's underlay address,
// as flannel's host-gw backend does.
func (n *Node) nativeLines(peers []*Node) []string {
	var lines []string
	for _, m := range peers {
		lines = append(lines, fmt.Sprintf("route replace %s via %s dev %s", m.PodCIDRv4, m.UnderlayIPv4, UnderlayLink))
		if m.PodCIDRv6.IsValid() {
			lines = append(lines, fmt.Sprintf("route replace %s via %s dev %s", m.PodCIDRv6, m.UnderlayIPv6, UnderlayLink))
		}
	}
	return lines
}

// vxlanLines program the node the way flannel's vxlan backend does: one
// device per underlay family holding the node's subnet address (network
// address, /32 or /128); per peer a static FDB entry (peer VTEP MAC -> peer
// underlay IP), a permanent neighbour (peer subnet address -> peer VTEP MAC)
// and an onlink route to the peer's pod CIDR via that subnet address.
func (n *Node) vxlanLines(peers []*Node) (ip, bridge []string) {
	cfg := n.topo.Config
	ip = []string{
		fmt.Sprintf(vxlanDeviceLine, VXLANDevice, n.VTEPMAC, cfg.MTU-vxlanOverhead,
			VXLANVNI, n.UnderlayIPv4, UnderlayLink, cfg.VXLANPort),
		fmt.Sprintf("addr add %s/32 dev %s", n.PodCIDRv4.Addr(), VXLANDevice),
		fmt.Sprintf(vxlanDeviceUp, VXLANDevice),
	}
	if cfg.IPv6 {
		ip = append(ip,
			fmt.Sprintf(vxlanDeviceLine, VXLANDeviceV6, n.VTEPMAC6, cfg.MTU-vxlanOverhead6,
				VXLANVNI, n.UnderlayIPv6, UnderlayLink, cfg.VXLANPort),
			fmt.Sprintf("addr add %s/128 dev %s nodad", n.PodCIDRv6.Addr(), VXLANDeviceV6),
			fmt.Sprintf(vxlanDeviceUp, VXLANDeviceV6))
	}
	for _, m := range peers {
		gw := m.PodCIDRv4.Addr()
		ip = append(ip,
			fmt.Sprintf("neigh replace %s lladdr %s dev %s nud permanent", gw, m.VTEPMAC, VXLANDevice),
			fmt.Sprintf("route replace %s via %s dev %s onlink", m.PodCIDRv4, gw, VXLANDevice))
		bridge = append(bridge, fmt.Sprintf("fdb append %s dev %s dst %s", m.VTEPMAC, VXLANDevice, m.UnderlayIPv4))
		if cfg.IPv6 {
			gw6 := m.PodCIDRv6.Addr()
			ip = append(ip,
				fmt.Sprintf("neigh replace %s lladdr %s dev %s nud permanent", gw6, m.VTEPMAC6, VXLANDeviceV6),
				fmt.Sprintf("route replace %s via %s dev %s onlink", m.PodCIDRv6, gw6, VXLANDeviceV6))
			bridge = append(bridge, fmt.Sprintf("fdb append %s dev %s dst %s", m.VTEPMAC6, VXLANDeviceV6, m.UnderlayIPv6))
		}
	}
	return ip, bridge
}
