package bench

import "github.com/podfwd/podfwd/internal/topo"

// Mode is one way of carrying pod traffic between nodes: a kernel
// reference (programmed by topo) or podfwd with an io path and an encap.
type Mode struct {
	Name   string    // row label, e.g. "tun/vxlan"
	Kernel topo.Mode // KernelNative or KernelVXLAN for a kernel reference; Unprogrammed for podfwd
	IO     string    // podfwd io: tun | udp-process
	Encap  string    // podfwd encap: vxlan | geneve | ipip | none
	Port   int       // tunnel UDP port (0: the encap's default)
}

// IsKernel reports whether the mode is one of the kernel's own datapaths.
func (m Mode) IsKernel() bool { return m.Kernel != topo.Unprogrammed }

// KernelVXLANName is the reference row every ratio is taken against.
const KernelVXLANName = "kernel/vxlan"

// DefaultModes is the matrix that runs on this machine, in display order:
// the kernel's ceiling and reference first, the flannel UDP baseline, then
// podfwd's tun io in each encap and native routing through podfwd.
func DefaultModes() []Mode {
	return []Mode{
		{Name: "kernel/native", Kernel: topo.KernelNative},
		{Name: KernelVXLANName, Kernel: topo.KernelVXLAN},
		{Name: "udp-process/vxlan", IO: "udp-process", Encap: "vxlan", Port: topo.DefaultVXLANPort},
		{Name: "tun/vxlan", IO: "tun", Encap: "vxlan", Port: topo.DefaultVXLANPort},
		{Name: "tun/geneve", IO: "tun", Encap: "geneve"},
		{Name: "tun/ipip", IO: "tun", Encap: "ipip"},
		{Name: "podfwd/none", IO: "tun", Encap: "none"},
	}
}
