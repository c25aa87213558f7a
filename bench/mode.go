package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/podfwd/podfwd/internal/topo"
)

// Mode is one way of carrying pod traffic between nodes: a kernel
// reference (programmed by topo), podfwd with an io path and an encap, or a
// row the harness knows about but cannot run (Unsupported says why).
type Mode struct {
	Name   string    // row label, e.g. "tun/vxlan"
	Kernel topo.Mode // KernelNative or KernelVXLAN for a kernel reference; Unprogrammed for podfwd
	IO     string    // podfwd io: tun | udp-process | xdp; "kernel" for the kernel's rows
	Encap  string    // vxlan | geneve | ipip | none
	Port   int       // tunnel UDP port (0: the encap's default)
	// Hybrid runs the daemons with io tun and `hybrid: true` (IO names the
	// row "hybrid").
	Hybrid bool
	// XDPPods runs io xdp with `xdp.pods: true`: AF_XDP on the pods'
	// veths as well, so pod traffic bypasses the kernel on both nodes.
	XDPPods bool
	// Config is appended to each node's config file: the variants that
	// turn one of tun io's mechanisms off, so a run measures it against
	// the default beside it.
	Config string

	// Probe, when set, is how the row finds out at run time, on a fresh
	// unprogrammed topology, whether this machine can run it; its error is
	// the reason reported. probeKernelGeneve is the only one.
	Probe func(ctx context.Context, tp *topo.Topology) error

	// Unsupported, when not empty, is why the row is never run: the
	// feature does not exist yet, not a property of the machine.
	Unsupported string
}

// IsKernel reports whether the mode is one of the kernel's own datapaths.
func (m Mode) IsKernel() bool { return m.Kernel != topo.Unprogrammed || m.IO == ioKernel }

const ioKernel = "kernel"

// KernelVXLANName is the reference row every ratio is taken against.
const KernelVXLANName = "kernel/vxlan"

// DefaultModes is the matrix that `podfwd demo` runs, in display order:
// the kernel's ceiling and reference first, the flannel UDP baseline, then
// podfwd's tun io in each encap and native routing through podfwd.
func DefaultModes() []Mode {
	return []Mode{
		{Name: "kernel/native", Kernel: topo.KernelNative, IO: ioKernel, Encap: "none"},
		{Name: KernelVXLANName, Kernel: topo.KernelVXLAN, IO: ioKernel, Encap: "vxlan"},
		{Name: "udp-process/vxlan", IO: "udp-process", Encap: "vxlan", Port: topo.DefaultVXLANPort},
		{Name: "tun/vxlan", IO: "tun", Encap: "vxlan", Port: topo.DefaultVXLANPort},
		{Name: "tun/geneve", IO: "tun", Encap: "geneve"},
		{Name: "tun/ipip", IO: "tun", Encap: "ipip"},
		{Name: "tun/none", IO: "tun", Encap: "none"},
	}
}

// AllModes is the full matrix of `podfwd bench`, in display order:
// DefaultModes plus the rows this machine or this podfwd may not run
// (kernel Geneve, xdp io with and without the pods' veths, hybrid), which
// are reported, never skipped.
func AllModes() []Mode {
	all := DefaultModes()
	geneve := Mode{Name: "kernel/geneve", IO: ioKernel, Encap: "geneve", Probe: probeKernelGeneve}
	all = append(all[:2], append([]Mode{geneve}, all[2:]...)...)
	for _, e := range []string{"vxlan", "geneve", "ipip"} {
		m := Mode{Name: "xdp/" + e, IO: "xdp", Encap: e}
		if e == "vxlan" {
			m.Port = topo.DefaultVXLANPort
		}
		all = append(all, m)
	}
	for _, e := range []string{"vxlan", "geneve", "ipip"} {
		m := Mode{Name: "xdp-pods/" + e, IO: "xdp", Encap: e, XDPPods: true}
		if e == "vxlan" {
			m.Port = topo.DefaultVXLANPort
		}
		all = append(all, m)
	}
	// Hybrid on this topology's single L2 underlay routes every peer
	// natively (all are on our subnet): the row shows hybrid's decision
	// costs nothing against native routing.
	return append(all, Mode{Name: "hybrid", IO: "hybrid", Encap: "vxlan", Port: topo.DefaultVXLANPort, Hybrid: true})
}

// TunVariants are tun/vxlan with one of its mechanisms off: podfwd
// splitting super-packets itself (the fallback when the kernel has no
// UDP-tunnel GSO), and one goroutine per direction woken by Go's
// netpoller instead of the polling thread, or that thread never spinning.
// They are chosen by name only, never part of "all".
func TunVariants() []Mode {
	return []Mode{
		{Name: "tun-split/vxlan", IO: "tun", Encap: "vxlan", Port: topo.DefaultVXLANPort, Config: "offloads: {tunnelGSO: false}\n"},
		{Name: "tun-netpoll/vxlan", IO: "tun", Encap: "vxlan", Port: topo.DefaultVXLANPort, Config: "poll: {spin: off}\n"},
		{Name: "tun-nospin/vxlan", IO: "tun", Encap: "vxlan", Port: topo.DefaultVXLANPort, Config: "poll: {spin: 0s}\n"},
	}
}

// SelectModes returns the modes of AllModes named in the comma-separated
// list, in the list's order; "" or "all" selects every mode. "podfwd/none"
// is accepted for tun/none, its name in `podfwd demo` before the harness.
func SelectModes(list string) ([]Mode, error) {
	all := AllModes()
	if list == "" || list == "all" {
		return all, nil
	}
	all = append(all, TunVariants()...)
	var out []Mode
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "podfwd/none" {
			name = "tun/none"
		}
		if name == "" || seen[name] {
			continue
		}
		found := false
		for _, m := range all {
			if m.Name == name {
				out, found = append(out, m), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: unknown mode %q (known: %s)", ErrOption, name, modeNames(all))
		}
		seen[name] = true
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no mode selected", ErrOption)
	}
	return out, nil
}

func modeNames(ms []Mode) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return strings.Join(names, ",")
}
