package topo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// ErrNamespaceExists is returned by New when a namespace it would create
// already exists (with an explicit prefix; see Config.Prefix).
var ErrNamespaceExists = errors.New("topo: namespace exists")

// build creates the namespaces, the underlay and the pods. Each namespace
// is recorded as soon as it exists, so Close can undo a half-built topology.
func (t *Topology) build(ctx context.Context, reclaim bool) error {
	all := []string{t.Underlay}
	for _, n := range t.Nodes {
		all = append(all, n.Namespace)
		for _, p := range n.Pods {
			all = append(all, p.Namespace)
		}
	}
	if err := t.clearLeftovers(all, reclaim); err != nil {
		return err
	}
	for _, ns := range all {
		if err := t.addNamespace(ctx, ns); err != nil {
			return err
		}
	}
	if err := t.setSysctls(); err != nil {
		return err
	}
	// The underlay bridge must exist before node batches plug into it, and
	// every veth must exist before the far side configures it.
	if err := batch(ctx, "ip", t.Underlay, t.underlayBridgeLines()); err != nil {
		return err
	}
	for _, n := range t.Nodes {
		if err := batch(ctx, "ip", n.Namespace, n.buildLines()); err != nil {
			return err
		}
	}
	if err := batch(ctx, "ip", t.Underlay, t.underlayPortLines()); err != nil {
		return err
	}
	if t.tightHop() {
		if err := t.buildRouter(ctx); err != nil {
			return err
		}
	}
	for _, p := range t.Pods() {
		if err := batch(ctx, "ip", p.Namespace, p.buildLines()); err != nil {
			return err
		}
	}
	return nil
}

// clearLeftovers deals with namespaces that already bear our names. With a
// default prefix they can only be a dead process's that had our PID (this
// process never repeats a default prefix, and PIDs are unique while they
// live), so every namespace under the prefix is removed. With an explicit
// prefix another live run may own them: refuse.
func (t *Topology) clearLeftovers(ours []string, reclaim bool) error {
	existing, err := listNamespaces()
	if err != nil {
		return err
	}
	var clash []string
	for _, name := range existing {
		mine := slices.Contains(ours, name)
		if mine || (reclaim && strings.HasPrefix(name, t.Config.Prefix+"-")) {
			clash = append(clash, name)
		}
	}
	if len(clash) == 0 {
		return nil
	}
	if !reclaim {
		return fmt.Errorf("%w: %v (left by a crashed run? topo.Sweep or `ip netns delete` removes them)",
			ErrNamespaceExists, clash)
	}
	if err := killIn(clash); err != nil {
		return err
	}
	for _, name := range clash {
		if err := deleteNamespace(name); err != nil {
			return err
		}
	}
	return nil
}

// AddNamespace creates a namespace named the topology's prefix, a dash and
// suffix (e.g. a pod the caller attaches with the CNI plugins) and returns
// its name; Close removes it with the rest.
func (t *Topology) AddNamespace(ctx context.Context, suffix string) (string, error) {
	ns := t.Config.Prefix + "-" + suffix
	if err := t.addNamespace(ctx, ns); err != nil {
		return "", err
	}
	return ns, nil
}

// addNamespace creates a named namespace with `ip netns add` (which also
// prepares the shared mount of the netns directory) and records it.
func (t *Topology) addNamespace(ctx context.Context, ns string) error {
	if t.isClosed() {
		return ErrClosed
	}
	if err := run(ctx, "", "ip", "netns", "add", ns); err != nil {
		return err
	}
	t.mu.Lock()
	t.namespaces = append(t.namespaces, ns)
	t.mu.Unlock()
	return nil
}

// setSysctls runs before any link exists, so links inherit "default"
// values: no IPv6 duplicate address detection (addresses usable at once),
// and in nodes forwarding on and reverse-path filtering off (a namespace may
// inherit the host's rp_filter; podfwd's TUN path must not trip over it).
func (t *Topology) setSysctls() error {
	ipv6 := t.Config.IPv6
	if _, err := os.Stat("/proc/sys/net/ipv6"); err == nil {
		ipv6 = true // set the IPv6 knobs whenever the kernel has them
	}
	common := [][2]string{}
	if ipv6 {
		common = append(common,
			[2]string{"net/ipv6/conf/all/accept_dad", "0"},
			[2]string{"net/ipv6/conf/default/accept_dad", "0"})
	}
	node := append([][2]string{
		{"net/ipv4/ip_forward", "1"},
		{"net/ipv4/conf/all/rp_filter", "0"},
		{"net/ipv4/conf/default/rp_filter", "0"},
	}, common...)
	if ipv6 {
		node = append(node, [2]string{"net/ipv6/conf/all/forwarding", "1"})
	}
	if err := doIn(t.Underlay, func() error { return writeSysctls(common) }); err != nil {
		return err
	}
	for _, n := range t.Nodes {
		if err := n.Do(func() error { return writeSysctls(node) }); err != nil {
			return err
		}
		for _, p := range n.Pods {
			if err := p.Do(func() error { return writeSysctls(common) }); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *Topology) underlayBridgeLines() []string {
	mtu := strconv.Itoa(t.Config.MTU)
	return []string{
		"link set lo up",
		// No multicast snooping: NDP must flood before any MLD report.
		"link add " + underlayBridge + " mtu " + mtu + " type bridge mcast_snooping 0",
		"link set " + underlayBridge + " up",
	}
}

func (t *Topology) underlayPortLines() []string {
	var lines []string
	for _, n := range t.Nodes {
		if n.onRouterSide() {
			continue // routed, not bridged: see buildRouter
		}
		port := underlayPort(n.Index)
		lines = append(lines, "link set "+port+" master "+underlayBridge, "link set "+port+" up")
	}
	return lines
}

// buildLines creates, from inside the node, its underlay veth (peer into
// the underlay namespace), cni0, and each pod's veth (peer into the pod),
// then addresses them. Creating a veth from inside the namespace that keeps
// one end means no end ever appears in the caller's namespace.
func (n *Node) buildLines() []string {
	cfg := n.topo.Config
	mtu, podMTU := strconv.Itoa(cfg.MTU), strconv.Itoa(cfg.PodMTU)
	queues := ""
	if cfg.UnderlayQueues > 0 {
		q := strconv.Itoa(cfg.UnderlayQueues)
		queues = " numtxqueues " + q + " numrxqueues " + q
	}
	lines := []string{
		"link set lo up",
		fmt.Sprintf("link add %s mtu %s%s type veth peer name %s mtu %s%s netns %s",
			UnderlayLink, mtu, queues, underlayPort(n.Index), mtu, queues, n.topo.Underlay),
		fmt.Sprintf("addr add %s/24 dev %s", n.UnderlayIPv4, UnderlayLink),
		"link set " + UnderlayLink + " up",
	}
	if cfg.IPv6 {
		lines = append(lines, fmt.Sprintf("addr add %s/64 dev %s nodad", n.UnderlayIPv6, UnderlayLink))
	}
	if cfg.NoPods {
		return lines
	}
	lines = append(lines,
		"link add "+PodBridge+" mtu "+podMTU+" type bridge mcast_snooping 0",
		fmt.Sprintf("addr add %s/%d dev %s", n.GatewayV4, n.PodCIDRv4.Bits(), PodBridge))
	if cfg.IPv6 {
		lines = append(lines, fmt.Sprintf("addr add %s/%d dev %s nodad", n.GatewayV6, n.PodCIDRv6.Bits(), PodBridge))
	}
	lines = append(lines, "link set "+PodBridge+" up")
	for _, p := range n.Pods {
		lines = append(lines,
			fmt.Sprintf("link add %s mtu %s type veth peer name %s mtu %s netns %s",
				p.HostVeth, podMTU, p.Link, podMTU, p.Namespace),
			"link set "+p.HostVeth+" master "+PodBridge,
			"link set "+p.HostVeth+" up")
	}
	return lines
}

func (p *Pod) buildLines() []string {
	n := p.Node
	lines := []string{
		"link set lo up",
		fmt.Sprintf("addr add %s/%d dev %s", p.IPv4, n.PodCIDRv4.Bits(), p.Link),
		"link set " + p.Link + " up",
		fmt.Sprintf("route add default via %s dev %s", n.GatewayV4, p.Link),
	}
	if p.IPv6.IsValid() {
		lines = append(lines,
			fmt.Sprintf("addr add %s/%d dev %s nodad", p.IPv6, n.PodCIDRv6.Bits(), p.Link),
			fmt.Sprintf("route add ::/0 via %s dev %s", n.GatewayV6, p.Link))
	}
	return lines
}
