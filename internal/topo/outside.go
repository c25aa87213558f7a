package topo

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
)

// Outside is a machine on the underlay that is not a node: a server
// outside the cluster. It has an address on the underlay subnet and no
// route to any pod CIDR, so it can answer a pod only when the pod's
// traffic was given a node's address (masqueraded).
type Outside struct {
	// Namespace is the outside host's network namespace.
	Namespace string
	// IPv4 is 10.99.0.H; IPv6 is fd99::H (invalid when IPv6 is off).
	IPv4, IPv6 netip.Addr

	topo *Topology
}

// AddOutside plugs an outside host with host number h (above every node's
// index, at most 254) into the underlay bridge; Close removes it.
func (t *Topology) AddOutside(ctx context.Context, h int) (*Outside, error) {
	if h <= len(t.Nodes) || h > 254 {
		return nil, fmt.Errorf("topo: outside host number %d must be above the nodes' (%d) and at most 254", h, len(t.Nodes))
	}
	if t.tightHop() && h == routerHost {
		return nil, fmt.Errorf("topo: outside host number %d is the tight hop's router", h)
	}
	ns, err := t.AddNamespace(ctx, "x"+strconv.Itoa(h))
	if err != nil {
		return nil, err
	}
	o := &Outside{Namespace: ns, IPv4: underlayIPv4(h), topo: t}
	port := "x" + strconv.Itoa(h)
	mtu := strconv.Itoa(t.Config.MTU)
	lines := []string{
		"link set lo up",
		fmt.Sprintf("link add %s mtu %s type veth peer name %s mtu %s netns %s", UnderlayLink, mtu, port, mtu, t.Underlay),
		fmt.Sprintf("addr add %s/24 dev %s", o.IPv4, UnderlayLink),
		"link set " + UnderlayLink + " up",
	}
	if t.Config.IPv6 {
		o.IPv6 = underlayIPv6(h)
		lines = append(lines, fmt.Sprintf("addr add %s/64 dev %s nodad", o.IPv6, UnderlayLink))
	}
	if err := batch(ctx, "ip", ns, lines); err != nil {
		return nil, err
	}
	ul := append([]string{"link set " + port + " master " + underlayBridge, "link set " + port + " up"}, t.proxyOutsideLines(o)...)
	if err := batch(ctx, "ip", t.Underlay, ul); err != nil {
		return nil, err
	}
	return o, nil
}

// Do runs fn on a thread inside the outside host's namespace.
func (o *Outside) Do(fn func() error) error { return doIn(o.Namespace, fn) }

// Command returns a command that runs name inside the outside host, with
// the same contract as Node.Command.
func (o *Outside) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return o.topo.command(ctx, o.Namespace, name, args...)
}

// UnderlayCommand returns a command that runs name inside the underlay
// namespace (where a capture sees every node's wire), with the same
// contract as Node.Command.
func (t *Topology) UnderlayCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	return t.command(ctx, t.Underlay, name, args...)
}
