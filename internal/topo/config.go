package topo

import (
	"errors"
	"fmt"
	"regexp"
)

// ErrConfig is wrapped by every error New returns for an invalid Config.
var ErrConfig = errors.New("topo: invalid config")

// Mode says who carries pod traffic between nodes.
type Mode int

const (
	// Unprogrammed leaves the cross-node path empty, for podfwd to program.
	Unprogrammed Mode = iota
	// KernelNative routes each peer's pod CIDRs via the peer's underlay
	// address (flannel's host-gw backend).
	KernelNative
	// KernelVXLAN programs a kernel VXLAN device exactly as flannel's vxlan
	// backend does: flannel.1 (and flannel-v6.1 when IPv6 is on), with
	// static FDB, neighbour and onlink route entries per peer.
	KernelVXLAN
)

// String names the mode as flags and logs spell it.
func (m Mode) String() string {
	switch m {
	case Unprogrammed:
		return "unprogrammed"
	case KernelNative:
		return "kernel-native"
	case KernelVXLAN:
		return "kernel-vxlan"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Config describes a topology; the zero value is 2 nodes × 2 pods, IPv4
// only, MTU 1500, nothing programmed, a per-process prefix.
type Config struct {
	// Prefix starts every namespace name. Empty means "pf" + 4 hex digits
	// of the PID (the testenv.RunPrefix form, which Sweep understands),
	// with "t<n>" appended for the n-th (n ≥ 2) topology of this process;
	// namespaces found under a default prefix are a dead same-PID run's
	// and are removed. With an explicit prefix, existing namespaces of the
	// same names make New fail with ErrNamespaceExists.
	Prefix string
	// Nodes is the number of node namespaces, 1..250; 0 means 2.
	Nodes int
	// PodsPerNode is the number of pods on each node, 0..200; 0 means 2.
	// (A node without pods is not expressible; none is needed.)
	PodsPerNode int
	// NoPods leaves the nodes without cni0 and pods, for a caller that
	// attaches pods itself (the real CNI plugins, as a kubelet would); see
	// Topology.AddNamespace. PodsPerNode is then ignored.
	NoPods bool
	// MTU of the underlay links, 1280..9000; 0 means 1500.
	MTU int
	// PodMTU of the pod veths and cni0; 0 means MTU-50 (room for VXLAN or
	// option-less Geneve over IPv4), or MTU-70 with IPv6 on (room for
	// VXLAN over an IPv6 underlay), as flannel sizes its pods.
	PodMTU int
	// IPv6 adds the IPv6 underlay, pod and route setup beside IPv4.
	IPv6 bool
	// VXLANPort is the UDP port of the kernel VXLAN devices; 0 means 8472
	// (flannel's), not the IANA 4789.
	VXLANPort uint16
	// Mode is programmed on every node toward every other node by New.
	Mode Mode
	// UnderlayQueues gives both ends of every node's underlay veth that
	// many TX and RX queues (veth delivers a packet on the receiving end's
	// RX queue of the index it was sent on), for multi-queue receivers
	// such as io xdp; 1..64, 0 means the veth default (one each).
	UnderlayQueues int
	// TightHopMTU, when set, puts a router between node 1 and the rest of
	// the underlay whose routes toward either side carry this MTU (below
	// MTU), so node 1's traffic to any other node crosses one real L3 hop
	// that is tighter than the links: a DF packet above it is answered
	// with fragmentation needed / packet too big from the router's own
	// address (RouterIPv4, RouterIPv6), an IPv4 packet without DF is
	// fragmented, and the TTL drops by one. Addresses stay as without it
	// (proxy ARP and proxy NDP); see tighthop.go. 0 means no router;
	// otherwise 576..MTU-1, and 1280 or more with IPv6 on.
	TightHopMTU int
}

// maxUnderlayQueues bounds Config.UnderlayQueues (a veth takes up to 4096;
// more than a test machine's cores serves nothing).
const maxUnderlayQueues = 64

// prefixPattern keeps prefixes usable as file names and in `ip` arguments.
var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.]{0,31}$`)

// withDefaults returns cfg with zero fields filled in and checks the ranges.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = defaultPrefix()
	}
	if cfg.Nodes == 0 {
		cfg.Nodes = 2
	}
	if cfg.PodsPerNode == 0 {
		cfg.PodsPerNode = 2
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.PodMTU == 0 {
		cfg.PodMTU = cfg.MTU - 50
		if cfg.IPv6 {
			cfg.PodMTU = cfg.MTU - 70
		}
	}
	if cfg.VXLANPort == 0 {
		cfg.VXLANPort = DefaultVXLANPort
	}
	switch {
	case !prefixPattern.MatchString(cfg.Prefix):
		return cfg, fmt.Errorf("%w: prefix %q must match %s", ErrConfig, cfg.Prefix, prefixPattern)
	case cfg.Nodes < 1 || cfg.Nodes > maxNodes:
		return cfg, fmt.Errorf("%w: %d nodes, want 1..%d", ErrConfig, cfg.Nodes, maxNodes)
	case !cfg.NoPods && (cfg.PodsPerNode < 1 || cfg.PodsPerNode > maxPodsPerNode):
		return cfg, fmt.Errorf("%w: %d pods per node, want 1..%d", ErrConfig, cfg.PodsPerNode, maxPodsPerNode)
	case cfg.MTU < 1280 || cfg.MTU > 9000:
		return cfg, fmt.Errorf("%w: MTU %d, want 1280..9000", ErrConfig, cfg.MTU)
	case cfg.PodMTU < 1200 || cfg.PodMTU > cfg.MTU:
		return cfg, fmt.Errorf("%w: pod MTU %d, want 1200..%d", ErrConfig, cfg.PodMTU, cfg.MTU)
	case cfg.IPv6 && cfg.PodMTU < 1280:
		return cfg, fmt.Errorf("%w: pod MTU %d is below IPv6's minimum 1280", ErrConfig, cfg.PodMTU)
	case cfg.UnderlayQueues < 0 || cfg.UnderlayQueues > maxUnderlayQueues:
		return cfg, fmt.Errorf("%w: %d underlay queues, want 0..%d", ErrConfig, cfg.UnderlayQueues, maxUnderlayQueues)
	case cfg.TightHopMTU != 0 && (cfg.TightHopMTU < 576 || cfg.TightHopMTU >= cfg.MTU):
		return cfg, fmt.Errorf("%w: tight hop MTU %d, want 576..%d", ErrConfig, cfg.TightHopMTU, cfg.MTU-1)
	case cfg.TightHopMTU != 0 && cfg.IPv6 && cfg.TightHopMTU < 1280:
		return cfg, fmt.Errorf("%w: tight hop MTU %d is below IPv6's minimum 1280", ErrConfig, cfg.TightHopMTU)
	case cfg.TightHopMTU != 0 && cfg.Nodes < 2:
		return cfg, fmt.Errorf("%w: a tight hop needs 2 nodes or more", ErrConfig)
	case cfg.Mode < Unprogrammed || cfg.Mode > KernelVXLAN:
		return cfg, fmt.Errorf("%w: unknown %v", ErrConfig, cfg.Mode)
	}
	return cfg, nil
}
