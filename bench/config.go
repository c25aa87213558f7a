// Package bench runs podfwd and the kernel's own datapaths side by side on
// one machine: it builds the netns topology, starts a mode (a kernel
// reference or podfwd daemons in every node), measures it (iperf3 for TCP,
// its own UDP flood and TCP ping-pong, CPU from /proc and getrusage) and
// tears it down. `podfwd bench` and `podfwd demo` run it (Run); the
// end-to-end tests share its config writer (NodeConfig).
package bench

import (
	"fmt"
	"strings"

	"github.com/podfwd/podfwd/internal/topo"
)

// NodeConfig returns the YAML config of `podfwd run` for node self of tp,
// with every other node as a static peer: the same addresses, VTEP MACs and
// VNI the kernel reference modes use, so either side can be swapped for
// the kernel.
func NodeConfig(tp *topo.Topology, self *topo.Node, io, encapName string, port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "nodeName: %s\nio: %s\nencap: %s\nvni: %d\n", self.Namespace, io, encapName, topo.VXLANVNI)
	if port != 0 {
		fmt.Fprintf(&b, "port: %d\n", port)
	}
	fmt.Fprintf(&b, "vtepMAC: %q\n", self.VTEPMAC.String())
	fmt.Fprintf(&b, "underlay:\n  interface: %s\n  address: %s\n", self.UnderlayLink, self.UnderlayIPv4)
	fmt.Fprintf(&b, "podCIDRs: [%s]\n", nodeCIDRs(self))
	b.WriteString("peers:\n")
	for _, n := range tp.Nodes {
		if n == self {
			continue
		}
		fmt.Fprintf(&b, "  - name: %s\n    underlay: %s\n    vtepMAC: %q\n    podCIDRs: [%s]\n",
			n.Namespace, n.UnderlayIPv4, n.VTEPMAC.String(), nodeCIDRs(n))
		if n.UnderlayIPv6.IsValid() {
			fmt.Fprintf(&b, "    underlay6: %s\n", n.UnderlayIPv6)
		}
	}
	return b.String()
}

func nodeCIDRs(n *topo.Node) string {
	s := n.PodCIDRv4.String()
	if n.PodCIDRv6.IsValid() {
		s += ", " + n.PodCIDRv6.String()
	}
	return s
}
