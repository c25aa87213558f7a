package xdp

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// Redirect is the loaded XDP program with its two maps: the configuration
// and the XSKMAP from receive queue to AF_XDP socket. Its methods are safe
// for concurrent use (they are map updates).
type Redirect struct {
	prog *ebpf.Program
	cfg  *ebpf.Map
	xsks *ebpf.Map
}

// NewRedirect creates the maps, loads the program (the verifier checks it
// here) and stores cfg. maxQueues bounds the queue indexes Register takes.
func NewRedirect(cfg RedirectConfig, maxQueues int) (*Redirect, error) {
	value, err := cfg.encode()
	if err != nil {
		return nil, err
	}
	if maxQueues < 1 {
		return nil, fmt.Errorf("%w: maxQueues %d", ErrBadRedirectConfig, maxQueues)
	}
	r := &Redirect{}
	r.cfg, err = ebpf.NewMap(&ebpf.MapSpec{Name: "podfwd_cfg", Type: ebpf.Array, KeySize: 4, ValueSize: cfgValueSize, MaxEntries: 1})
	if err != nil {
		return nil, fmt.Errorf("xdp: config map: %w", err)
	}
	r.xsks, err = ebpf.NewMap(&ebpf.MapSpec{Name: "podfwd_xsks", Type: ebpf.XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: uint32(maxQueues)})
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("xdp: XSKMAP: %w", err)
	}
	if err := r.cfg.Put(uint32(0), value); err != nil {
		r.Close()
		return nil, fmt.Errorf("xdp: store config: %w", err)
	}
	r.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         RedirectProgramName,
		Type:         ebpf.XDP,
		License:      "Dual MIT/GPL",
		Instructions: redirectInstructions(r.cfg.FD(), r.xsks.FD()),
	})
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("xdp: load redirect program: %w", err)
	}
	return r, nil
}

// SetConfig replaces the configuration; packets see it from the next one
// on, without a reload.
func (r *Redirect) SetConfig(cfg RedirectConfig) error {
	value, err := cfg.encode()
	if err != nil {
		return err
	}
	if err := r.cfg.Put(uint32(0), value); err != nil {
		return fmt.Errorf("xdp: store config: %w", err)
	}
	return nil
}

// Register makes s receive the tunnel packets of its queue.
func (r *Redirect) Register(s *Socket) error {
	if err := r.xsks.Put(uint32(s.Queue()), uint32(s.FD())); err != nil {
		return fmt.Errorf("xdp: XSKMAP[%d] = socket: %w", s.Queue(), err)
	}
	return nil
}

// Unregister removes the socket of queue; its packets pass to the kernel
// again. Removing an empty slot is not an error.
func (r *Redirect) Unregister(queue int) error {
	if err := r.xsks.Delete(uint32(queue)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("xdp: delete XSKMAP[%d]: %w", queue, err)
	}
	return nil
}

// Program returns the loaded program, for Attach and for test runs
// (BPF_PROG_TEST_RUN). The Redirect keeps ownership.
func (r *Redirect) Program() *ebpf.Program { return r.prog }

// Attach attaches the program to ifindex (see AttachProgram).
func (r *Redirect) Attach(ifindex int, opts AttachOptions) (*Attachment, error) {
	return AttachProgram(r.prog, ifindex, opts)
}

// Close releases the program and maps. Attachments hold their own
// reference to the program and stay until closed.
func (r *Redirect) Close() error {
	var errs []error
	if r.prog != nil {
		errs = append(errs, r.prog.Close())
	}
	if r.cfg != nil {
		errs = append(errs, r.cfg.Close())
	}
	if r.xsks != nil {
		errs = append(errs, r.xsks.Close())
	}
	return errors.Join(errs...)
}
