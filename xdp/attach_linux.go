package xdp

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AttachMode is where an XDP program runs.
type AttachMode int

const (
	// AttachDriver is native XDP in the driver's receive path.
	AttachDriver AttachMode = iota + 1
	// AttachGeneric is generic (SKB) XDP, after the kernel built an skb.
	AttachGeneric
)

// String names the mode as ip-link shows it.
func (m AttachMode) String() string {
	switch m {
	case AttachDriver:
		return "xdpdrv"
	case AttachGeneric:
		return "xdpgeneric"
	}
	return fmt.Sprintf("AttachMode(%d)", int(m))
}

// ErrForeignProgram is wrapped when the interface already runs an XDP
// program that is not podfwd's and AttachOptions.ReplaceForeign is false.
var ErrForeignProgram = errors.New("xdp: interface runs an XDP program that is not podfwd's")

// ErrAttachedByLink is wrapped when the interface's XDP program is held by a
// live bpf link (another running process, or a pinned link): it cannot be
// replaced from here.
var ErrAttachedByLink = errors.New("xdp: interface's XDP program is held by a live bpf link")

// AttachOptions tune AttachProgram.
type AttachOptions struct {
	// GenericOnly skips the native (driver) attempt.
	GenericOnly bool
	// ReplaceForeign lets Attach detach an XDP program that is not
	// podfwd's. Without it only programs named RedirectProgramName or
	// PassProgramName are replaced.
	ReplaceForeign bool
}

// Attachment is an XDP program attached to an interface through a bpf link.
// The link lives as long as its file descriptor: Close, or the process's
// exit (even by SIGKILL), detaches the program.
type Attachment struct {
	link     link.Link
	ifindex  int
	mode     AttachMode
	replaced string
}

// AttachProgram attaches prog to the interface ifindex (in the network
// namespace of the calling thread) through a bpf link, in driver mode and
// else in generic mode. A program already attached without a link, as an
// older podfwd that used netlink left it, is detached first; see
// AttachOptions for which programs are replaced.
func AttachProgram(prog *ebpf.Program, ifindex int, opts AttachOptions) (*Attachment, error) {
	replaced, err := removeStale(ifindex, opts)
	if err != nil {
		return nil, err
	}
	a := &Attachment{ifindex: ifindex, replaced: replaced}
	var driverErr error
	if !opts.GenericOnly {
		a.link, driverErr = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: link.XDPDriverMode})
		if driverErr == nil {
			a.mode = AttachDriver
			return a, nil
		}
	}
	a.link, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: link.XDPGenericMode})
	if err != nil {
		return nil, fmt.Errorf("xdp: attach to ifindex %d (driver mode: %v): %w", ifindex, driverErr, err)
	}
	a.mode = AttachGeneric
	return a, nil
}

// removeStale detaches a program attached to ifindex through netlink and
// returns its name, or "" when none was attached.
func removeStale(ifindex int, opts AttachOptions) (string, error) {
	l, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return "", fmt.Errorf("xdp: look up ifindex %d: %w", ifindex, err)
	}
	x := l.Attrs().Xdp
	if x == nil || !x.Attached || x.ProgId == 0 {
		return "", nil
	}
	name := programName(x.ProgId)
	if name != RedirectProgramName && name != PassProgramName && name != PodProgramName && !opts.ReplaceForeign {
		return "", fmt.Errorf("%w: %s has program %d %q", ErrForeignProgram, l.Attrs().Name, x.ProgId, name)
	}
	var modes []int
	switch x.AttachMode {
	case xdpAttachedDrv:
		modes = []int{unix.XDP_FLAGS_DRV_MODE}
	case xdpAttachedSKB:
		modes = []int{unix.XDP_FLAGS_SKB_MODE}
	case xdpAttachedHW:
		modes = []int{unix.XDP_FLAGS_HW_MODE}
	default:
		modes = []int{unix.XDP_FLAGS_DRV_MODE, unix.XDP_FLAGS_SKB_MODE}
	}
	for _, m := range modes {
		if err := netlink.LinkSetXdpFdWithFlags(l, -1, m); err != nil {
			if errors.Is(err, unix.EBUSY) {
				return "", fmt.Errorf("%w: %s program %d %q: %w", ErrAttachedByLink, l.Attrs().Name, x.ProgId, name, err)
			}
			return "", fmt.Errorf("xdp: detach stale program %d from %s: %w", x.ProgId, l.Attrs().Name, err)
		}
	}
	return name, nil
}

// Values of IFLA_XDP_ATTACHED.
const (
	xdpAttachedDrv = 1
	xdpAttachedSKB = 2
	xdpAttachedHW  = 3
)

// programName returns the kernel's name for program id, or "" when it
// cannot be read.
func programName(id uint32) string {
	p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		return ""
	}
	defer p.Close()
	info, err := p.Info()
	if err != nil {
		return ""
	}
	return info.Name
}

// AttachPassThrough attaches a program that passes every packet to
// ifindex. On a veth, native XDP_TX and XDP_REDIRECT into the device only
// work when its peer has an XDP program; this is that program.
func AttachPassThrough(ifindex int, opts AttachOptions) (*Attachment, error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         PassProgramName,
		Type:         ebpf.XDP,
		License:      "Dual MIT/GPL",
		Instructions: passInstructions(),
	})
	if err != nil {
		return nil, fmt.Errorf("xdp: load pass-through program: %w", err)
	}
	// The link keeps its own reference to the program.
	defer prog.Close()
	return AttachProgram(prog, ifindex, opts)
}

// Mode reports where the program runs.
func (a *Attachment) Mode() AttachMode { return a.mode }

// Ifindex returns the interface the program is attached to.
func (a *Attachment) Ifindex() int { return a.ifindex }

// Replaced returns the name of a stale program that Attach detached first,
// or "".
func (a *Attachment) Replaced() string { return a.replaced }

// LinkID returns the kernel's id of the bpf link.
func (a *Attachment) LinkID() (link.ID, error) {
	info, err := a.link.Info()
	if err != nil {
		return 0, fmt.Errorf("xdp: link info: %w", err)
	}
	return info.ID, nil
}

// Close detaches the program by closing the link. It is idempotent.
func (a *Attachment) Close() error {
	if a.link == nil {
		return nil
	}
	err := a.link.Close()
	a.link = nil
	return err
}
