package dataplane

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/podfwd/podfwd/encap"
)

// Config is the whole forwarding state of one node: who we are, which pod
// CIDRs are local, and every peer with its underlay address and pod CIDRs.
// A Config is immutable once handed to Engine.SetConfig; the control plane
// builds a new one for every change.
type Config struct {
	Generation uint64 // increases with every new config; shown in metrics and traces

	Encap encap.Kind // tunnel format for every peer in Peers
	VNI   uint32     // VXLAN / Geneve network identifier
	Port  uint16     // UDP port for VXLAN / Geneve; 0 means the format's default

	LocalUnderlay netip.Addr // our underlay address (outer source)
	LocalVTEPMAC  [6]byte    // our VTEP MAC: inner Ethernet source on the wire
	// LocalUnderlayMAC is our underlay interface's MAC: the outer Ethernet
	// source when the engine writes whole frames (UnderlayFrame).
	LocalUnderlayMAC [6]byte
	UnderlayMTU      int // MTU of the underlay link; 0 means 1500

	LocalPodCIDRs []netip.Prefix // pod CIDRs of this node (IPv4 and/or IPv6)
	Peers         []Peer

	// ICMPSource4/6 are the addresses ICMP errors we originate come from
	// (fragmentation needed, packet too big, time exceeded). Zero values
	// fall back to the first host address of the local pod CIDR.
	ICMPSource4, ICMPSource6 netip.Addr

	// Tunnel knobs applied to every peer; zero values mean the defaults.
	DF               encap.DFPolicy
	TTL              uint8
	SrcPortMin       uint16
	SrcPortMax       uint16
	ZeroUDPChecksum6 bool
	GeneveOptions    []byte

	// DropPartialChecksums refuses received inner packets whose TCP/UDP
	// checksum holds only the pseudo-header sum, as bad-inner-checksum.
	// Such a packet was never on a wire: a sender's kernel left the sum
	// for an offload, and a link without one (veth, a bridge, virtio-net
	// between VMs on one host) passed it on. podfwd cannot see the
	// sender's skb, so it recognises the pattern and completes the
	// checksum (the default). On a real wire the pattern appears only by
	// a 1-in-65,536 coincidence, and then a corrupted payload would pass
	// unseen: nodes that each have their own NIC can refuse it.
	DropPartialChecksums bool
}

// Peer is another node reachable through the tunnel.
type Peer struct {
	Name     string
	Underlay netip.Addr // the peer's underlay address (outer destination)
	// Underlay6 is the peer's IPv6 underlay address, optional: native
	// routing sends IPv6 pod CIDRs via it when the tunnel underlay is IPv4.
	Underlay6 netip.Addr
	VTEPMAC   [6]byte // the peer's VTEP MAC: inner Ethernet destination
	// UnderlayMAC is the next hop's Ethernet address toward the peer: the
	// outer Ethernet destination when the engine writes whole frames.
	UnderlayMAC [6]byte
	PodCIDRs    []netip.Prefix
	// PathMTU, when set, holds the path MTU learned toward Underlay; the
	// egress loops then answer inner packets the path cannot carry with
	// the MTU it leaves them. The control plane owns it and keeps the same
	// one across configs (see PathMTU); nil means the tunnel MTU alone.
	PathMTU *PathMTU
}

// ErrInvalidConfig wraps every validation failure of a Config.
var ErrInvalidConfig = errors.New("invalid dataplane config")

// Validate checks the config and names the first bad field and why.
func (c *Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
	}
	if !c.LocalUnderlay.IsValid() {
		return bad("localUnderlay", "missing")
	}
	if c.UnderlayMTU != 0 && (c.UnderlayMTU < 576 || c.UnderlayMTU > 65535) {
		return bad("underlayMTU", "%d is outside 576..65535", c.UnderlayMTU)
	}
	if c.VNI > 1<<24-1 {
		return bad("vni", "%d does not fit in 24 bits", c.VNI)
	}
	if len(c.LocalPodCIDRs) == 0 {
		return bad("podCIDRs", "at least one local pod CIDR is required")
	}
	for i, p := range c.LocalPodCIDRs {
		if !p.IsValid() {
			return bad(fmt.Sprintf("podCIDRs[%d]", i), "not a valid prefix")
		}
	}
	seenUnderlay := map[netip.Addr]string{}
	for i, peer := range c.Peers {
		field := fmt.Sprintf("peers[%d]", i)
		if peer.Name != "" {
			field = fmt.Sprintf("peers[%d] (%s)", i, peer.Name)
		}
		if !peer.Underlay.IsValid() {
			return bad(field+".underlay", "missing")
		}
		if peer.Underlay.Is4() != c.LocalUnderlay.Is4() {
			return bad(field+".underlay", "%s is not the same IP family as localUnderlay %s", peer.Underlay, c.LocalUnderlay)
		}
		if peer.Underlay == c.LocalUnderlay {
			return bad(field+".underlay", "%s is our own underlay address", peer.Underlay)
		}
		if other, dup := seenUnderlay[peer.Underlay]; dup {
			return bad(field+".underlay", "%s is also the underlay of peer %q", peer.Underlay, other)
		}
		seenUnderlay[peer.Underlay] = peer.Name
		if len(peer.PodCIDRs) == 0 {
			return bad(field+".podCIDRs", "at least one pod CIDR is required")
		}
		for j, p := range peer.PodCIDRs {
			if !p.IsValid() {
				return bad(fmt.Sprintf("%s.podCIDRs[%d]", field, j), "not a valid prefix")
			}
			for _, local := range c.LocalPodCIDRs {
				if local.Overlaps(p) {
					return bad(fmt.Sprintf("%s.podCIDRs[%d]", field, j), "%s overlaps local pod CIDR %s", p, local)
				}
			}
		}
	}
	p := c.tunnelParams(Peer{})
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%w: tunnel: %w", ErrInvalidConfig, err)
	}
	return nil
}

// underlayMTU returns the configured underlay MTU or the Ethernet default.
func (c *Config) underlayMTU() int {
	if c.UnderlayMTU == 0 {
		return 1500
	}
	return c.UnderlayMTU
}

// TunnelMTU is the largest inner packet the tunnel carries without
// fragmenting the outer packet: the pod-side (TUN) MTU.
func (c *Config) TunnelMTU() int {
	return c.underlayMTU() - encap.Overhead(c.Encap, c.LocalUnderlay.Is6(), len(c.GeneveOptions))
}

// tunnelParams builds the encap parameters for one peer.
func (c *Config) tunnelParams(peer Peer) encap.Params {
	return encap.Params{
		Kind:             c.Encap,
		VNI:              c.VNI,
		Port:             c.Port,
		SrcPortMin:       c.SrcPortMin,
		SrcPortMax:       c.SrcPortMax,
		TTL:              c.TTL,
		DF:               c.DF,
		ZeroUDPChecksum6: c.ZeroUDPChecksum6,
		GeneveOptions:    c.GeneveOptions,
		InnerSrcMAC:      c.LocalVTEPMAC,
		InnerDstMAC:      peer.VTEPMAC,
	}
}
