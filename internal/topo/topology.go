package topo

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"sync"
	"weak"
)

// ErrClosed is returned by operations on a topology after Close.
var ErrClosed = errors.New("topo: topology closed")

// Topology is a set of namespaces standing in for a cluster. Its fields are
// read-only after New; its methods are safe for concurrent use.
type Topology struct {
	// Config is the configuration with every default filled in.
	Config Config
	// Underlay is the name of the namespace holding the underlay bridge.
	Underlay string
	// Nodes are the nodes, Nodes[i].Index == i+1.
	Nodes []*Node
	// RouterIPv4 (10.99.0.254) and RouterIPv6 (fd99::fe, with IPv6 on) are
	// the tight hop's router, the source of its ICMP errors; invalid
	// without Config.TightHopMTU.
	RouterIPv4, RouterIPv6 netip.Addr

	mu         sync.Mutex
	namespaces []string // created so far, in creation order
	cmds       []weak.Pointer[exec.Cmd]
	closed     bool

	closeOnce sync.Once
	closeErr  error
}

// Node is one node namespace. Its fields are read-only.
type Node struct {
	// Index is K, 1-based; it appears in every address of the node.
	Index int
	// Namespace is the name of the node's network namespace.
	Namespace string
	// UnderlayLink is the node's underlay interface (UnderlayLink).
	UnderlayLink string
	// UnderlayIPv4 is 10.99.0.K (in 10.99.0.0/24).
	UnderlayIPv4 netip.Addr
	// UnderlayIPv6 is fd99::K (in fd99::/64); invalid when IPv6 is off.
	UnderlayIPv6 netip.Addr
	// PodCIDRv4 is 10.244.K.0/24.
	PodCIDRv4 netip.Prefix
	// PodCIDRv6 is fd00:244:K::/64; invalid when IPv6 is off.
	PodCIDRv6 netip.Prefix
	// GatewayV4 is cni0's 10.244.K.1, the pods' IPv4 default gateway.
	GatewayV4 netip.Addr
	// GatewayV6 is cni0's fd00:244:K::1; invalid when IPv6 is off.
	GatewayV6 netip.Addr
	// VTEPMAC is a stable MAC for this node's IPv4-underlay VXLAN device;
	// KernelVXLAN uses it, and podfwd may use it to look the same.
	VTEPMAC net.HardwareAddr
	// VTEPMAC6 is the same for the IPv6-underlay device.
	VTEPMAC6 net.HardwareAddr
	// Pods are the node's pods, Pods[j].Index == j+1.
	Pods []*Pod

	topo *Topology
	mu   sync.Mutex
	mode Mode
	// peers are the nodes this node was programmed toward.
	peers []*Node
}

// Pod is one pod namespace. Its fields are read-only.
type Pod struct {
	// Node is the node the pod runs on.
	Node *Node
	// Index is J, 1-based.
	Index int
	// Namespace is the name of the pod's network namespace.
	Namespace string
	// Link is the pod's interface (PodLink).
	Link string
	// HostVeth is the peer of Link inside the node namespace, on cni0.
	HostVeth string
	// IPv4 is 10.244.K.(10+J).
	IPv4 netip.Addr
	// IPv6 is fd00:244:K::(10+J); invalid when IPv6 is off.
	IPv6 netip.Addr
}

// Topology returns the topology the node belongs to.
func (n *Node) Topology() *Topology { return n.topo }

// Mode returns how the node's cross-node path is programmed now.
func (n *Node) Mode() Mode {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mode
}

// New builds the topology cfg describes and programs cfg.Mode on every node.
// On error, everything it created is removed again. The caller must Close
// the topology.
func New(ctx context.Context, cfg Config) (*Topology, error) {
	reclaim := cfg.Prefix == ""
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := layout(cfg)
	if err := t.build(ctx, reclaim); err != nil {
		return nil, errors.Join(err, t.Close())
	}
	if cfg.Mode != Unprogrammed {
		if err := t.Program(ctx, cfg.Mode); err != nil {
			return nil, errors.Join(err, t.Close())
		}
	}
	return t, nil
}

// TB is the part of testing.TB that NewT uses. Taking it rather than
// testing.TB keeps the testing package out of the podfwd binary, which
// links topo through bench and demo.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Cleanup(func())
}

// NewT is New for tests: it fails tb on error and registers Close with
// tb.Cleanup, so the namespaces go away even when the test fails. The caller
// checks for root first (testenv.RequireRoot).
func NewT(tb TB, cfg Config) *Topology {
	tb.Helper()
	t, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("topo.New: %v", err)
	}
	tb.Cleanup(func() {
		if err := t.Close(); err != nil {
			tb.Errorf("topo.Close: %v", err)
		}
	})
	return t
}

// layout computes every name and address without touching the system.
func layout(cfg Config) *Topology {
	t := &Topology{Config: cfg, Underlay: underlayNamespace(cfg.Prefix)}
	if cfg.TightHopMTU != 0 {
		t.RouterIPv4 = underlayIPv4(routerHost)
		if cfg.IPv6 {
			t.RouterIPv6 = underlayIPv6(routerHost)
		}
	}
	for k := 1; k <= cfg.Nodes; k++ {
		n := &Node{
			Index:        k,
			Namespace:    nodeNamespace(cfg.Prefix, k),
			UnderlayLink: UnderlayLink,
			UnderlayIPv4: underlayIPv4(k),
			PodCIDRv4:    podCIDRv4(k),
			GatewayV4:    hostIn(podCIDRv4(k), 1),
			VTEPMAC:      vtepMAC(k, false),
			VTEPMAC6:     vtepMAC(k, true),
			topo:         t,
		}
		if cfg.IPv6 {
			n.UnderlayIPv6 = underlayIPv6(k)
			n.PodCIDRv6 = podCIDRv6(k)
			n.GatewayV6 = hostIn(n.PodCIDRv6, 1)
		}
		for j := 1; j <= cfg.PodsPerNode && !cfg.NoPods; j++ {
			p := &Pod{
				Node:      n,
				Index:     j,
				Namespace: podNamespace(cfg.Prefix, k, j),
				Link:      PodLink,
				HostVeth:  podHostVeth(j),
				IPv4:      hostIn(n.PodCIDRv4, firstPodHost+j),
			}
			if cfg.IPv6 {
				p.IPv6 = hostIn(n.PodCIDRv6, firstPodHost+j)
			}
			n.Pods = append(n.Pods, p)
		}
		t.Nodes = append(t.Nodes, n)
	}
	return t
}

// Namespaces returns the names of the namespaces created so far.
func (t *Topology) Namespaces() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.namespaces...)
}

// Pods returns every pod of every node, node by node.
func (t *Topology) Pods() []*Pod {
	var pods []*Pod
	for _, n := range t.Nodes {
		pods = append(pods, n.Pods...)
	}
	return pods
}
