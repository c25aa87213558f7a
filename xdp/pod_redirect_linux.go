package xdp

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Errors of PodRedirect's socket bookkeeping.
var (
	// ErrPodSocketsFull is wrapped when Register finds no free slot.
	ErrPodSocketsFull = errors.New("xdp: every pod socket slot is taken")
	// ErrPodSocketRegistered is wrapped when Register finds a socket
	// already registered for the same interface and queue.
	ErrPodSocketRegistered = errors.New("xdp: a socket is already registered for this interface and queue")
	// ErrPodSocketNotRegistered is wrapped when Unregister is given a
	// socket that is not the one registered for its interface and queue.
	ErrPodSocketNotRegistered = errors.New("xdp: socket is not registered")
)

// PodRedirect is the XDP program for the pods' host-side veths with its
// maps: a pod's packets to a destination in the set (remote pods' CIDRs)
// go to the AF_XDP socket registered for the veth and queue they arrive
// on; everything else passes to the kernel. One PodRedirect serves any
// number of veths. Its methods are safe for concurrent use; they are the
// control path (map updates under a mutex), never per packet.
type PodRedirect struct {
	prog  *ebpf.Program
	dst4  *ebpf.Map // LPM trie: lpmKey4 -> u8
	dst6  *ebpf.Map // LPM trie: lpmKey6 -> u8
	slots *ebpf.Map // hash: podSlotKey -> slot
	xsks  *ebpf.Map // XSKMAP: slot -> socket

	mu    sync.Mutex
	dests map[netip.Prefix]struct{} // what the tries hold
	socks map[podSlotKey]podSocket
	free  []uint32 // free slots
}

// podSocket is a registered socket and the slot it holds.
type podSocket struct {
	s    *Socket
	slot uint32
}

// NewPodRedirect creates the maps and loads the program (the verifier
// checks it here), with an empty destination set. maxSockets bounds how
// many sockets (one per veth and queue) may be registered at once.
func NewPodRedirect(maxSockets int) (*PodRedirect, error) {
	if maxSockets < 1 {
		return nil, fmt.Errorf("xdp: pod redirect for %d sockets, want at least 1", maxSockets)
	}
	p := &PodRedirect{
		dests: make(map[netip.Prefix]struct{}),
		socks: make(map[podSlotKey]podSocket),
		free:  make([]uint32, 0, maxSockets),
	}
	// Popped from the end: slot 0 is handed out first.
	for i := maxSockets - 1; i >= 0; i-- {
		p.free = append(p.free, uint32(i))
	}
	specs := []struct {
		m    **ebpf.Map
		spec *ebpf.MapSpec
	}{
		{&p.dst4, &ebpf.MapSpec{Name: "podfwd_pod_dst4", Type: ebpf.LPMTrie, KeySize: 8, ValueSize: 1, MaxEntries: MaxPodDestinations, Flags: unix.BPF_F_NO_PREALLOC}},
		{&p.dst6, &ebpf.MapSpec{Name: "podfwd_pod_dst6", Type: ebpf.LPMTrie, KeySize: 20, ValueSize: 1, MaxEntries: MaxPodDestinations, Flags: unix.BPF_F_NO_PREALLOC}},
		{&p.slots, &ebpf.MapSpec{Name: "podfwd_pod_slot", Type: ebpf.Hash, KeySize: 8, ValueSize: 4, MaxEntries: uint32(maxSockets)}},
		{&p.xsks, &ebpf.MapSpec{Name: "podfwd_pod_xsks", Type: ebpf.XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: uint32(maxSockets)}},
	}
	for _, s := range specs {
		m, err := ebpf.NewMap(s.spec)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("xdp: map %s: %w", s.spec.Name, err)
		}
		*s.m = m
	}
	var err error
	p.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         PodProgramName,
		Type:         ebpf.XDP,
		License:      "Dual MIT/GPL",
		Instructions: podInstructions(p.dst4.FD(), p.dst6.FD(), p.slots.FD(), p.xsks.FD()),
	})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("xdp: load pod program: %w", err)
	}
	return p, nil
}

// SetDestinations replaces the destination set with prefixes (both
// families; each is masked, duplicates collapse). Only the difference to
// the current set is written, additions before deletions, so a prefix
// present before and after never leaves the tries and a covering prefix
// is in place before the one it replaces goes. On an error the set is
// what was written until then (see Destinations); an invalid prefix is
// rejected, wrapping ErrBadPodPrefix, before anything is written.
func (p *PodRedirect) SetDestinations(prefixes []netip.Prefix) error {
	want, err := destinationSet(prefixes)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	add, del := diffDestinations(p.dests, want)
	for _, d := range add {
		if err := p.putDestination(d); err != nil {
			return err
		}
		p.dests[d] = struct{}{}
	}
	for _, d := range del {
		if err := p.deleteDestination(d); err != nil {
			return err
		}
		delete(p.dests, d)
	}
	return nil
}

func (p *PodRedirect) putDestination(d netip.Prefix) error {
	var err error
	if d.Addr().Is4() {
		err = p.dst4.Put(lpmKey4{PrefixLen: uint32(d.Bits()), Addr: d.Addr().As4()}, uint8(1))
	} else {
		err = p.dst6.Put(lpmKey6{PrefixLen: uint32(d.Bits()), Addr: d.Addr().As16()}, uint8(1))
	}
	if err != nil {
		return fmt.Errorf("xdp: add destination %s: %w", d, err)
	}
	return nil
}

func (p *PodRedirect) deleteDestination(d netip.Prefix) error {
	var err error
	if d.Addr().Is4() {
		err = p.dst4.Delete(lpmKey4{PrefixLen: uint32(d.Bits()), Addr: d.Addr().As4()})
	} else {
		err = p.dst6.Delete(lpmKey6{PrefixLen: uint32(d.Bits()), Addr: d.Addr().As16()})
	}
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("xdp: delete destination %s: %w", d, err)
	}
	return nil
}

// Destinations returns the current destination set, masked and sorted
// (IPv4 first, then by address and length). The caller owns the slice.
func (p *PodRedirect) Destinations() []netip.Prefix {
	p.mu.Lock()
	out := make([]netip.Prefix, 0, len(p.dests))
	for d := range p.dests {
		out = append(out, d)
	}
	p.mu.Unlock()
	sortPrefixes(out)
	return out
}

// Register makes s receive the packets to the destination set that arrive
// on its interface and queue. It fails, wrapping ErrPodSocketRegistered,
// when a socket is registered there already, and wrapping
// ErrPodSocketsFull when maxSockets sockets are.
func (p *PodRedirect) Register(s *Socket) error {
	key := podSlotKey{Ifindex: uint32(s.Ifindex()), Queue: uint32(s.Queue())}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.socks[key]; ok {
		return fmt.Errorf("%w: ifindex %d queue %d", ErrPodSocketRegistered, key.Ifindex, key.Queue)
	}
	if len(p.free) == 0 {
		return fmt.Errorf("%w: %d sockets registered", ErrPodSocketsFull, len(p.socks))
	}
	slot := p.free[len(p.free)-1]
	// The socket goes into its slot before the slot becomes reachable.
	if err := p.xsks.Put(slot, uint32(s.FD())); err != nil {
		return fmt.Errorf("xdp: pod XSKMAP[%d] = socket of ifindex %d queue %d: %w", slot, key.Ifindex, key.Queue, err)
	}
	if err := p.slots.Put(key, slot); err != nil {
		_ = p.xsks.Delete(slot)
		return fmt.Errorf("xdp: pod slot of ifindex %d queue %d: %w", key.Ifindex, key.Queue, err)
	}
	p.free = p.free[:len(p.free)-1]
	p.socks[key] = podSocket{s: s, slot: slot}
	return nil
}

// Unregister frees the slot of s, which must be the socket registered for
// its interface and queue (else the error wraps
// ErrPodSocketNotRegistered); that veth queue's packets pass to the kernel
// again. It may be called after s is closed.
func (p *PodRedirect) Unregister(s *Socket) error {
	key := podSlotKey{Ifindex: uint32(s.Ifindex()), Queue: uint32(s.Queue())}
	p.mu.Lock()
	defer p.mu.Unlock()
	reg, ok := p.socks[key]
	if !ok || reg.s != s {
		return fmt.Errorf("%w: ifindex %d queue %d", ErrPodSocketNotRegistered, key.Ifindex, key.Queue)
	}
	if err := p.slots.Delete(key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("xdp: delete pod slot of ifindex %d queue %d: %w", key.Ifindex, key.Queue, err)
	}
	// The slot is unreachable now and free whatever happens below. A
	// packet still in flight that read it may reach the slot's next
	// socket; the kernel drops it there, as that socket is bound to
	// another interface or queue.
	delete(p.socks, key)
	p.free = append(p.free, reg.slot)
	if err := p.xsks.Delete(reg.slot); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("xdp: delete pod XSKMAP[%d]: %w", reg.slot, err)
	}
	return nil
}

// Program returns the loaded program, for test runs (BPF_PROG_TEST_RUN).
// The PodRedirect keeps ownership.
func (p *PodRedirect) Program() *ebpf.Program { return p.prog }

// Attach attaches the program to the veth ifindex (see AttachProgram). The
// same program may be attached to any number of interfaces; each
// Attachment is the caller's to close.
func (p *PodRedirect) Attach(ifindex int, opts AttachOptions) (*Attachment, error) {
	return AttachProgram(p.prog, ifindex, opts)
}

// Close releases the program and the maps; it is idempotent. Attachments
// hold their own reference to the program and stay until closed.
func (p *PodRedirect) Close() error {
	var errs []error
	if p.prog != nil {
		errs = append(errs, p.prog.Close())
	}
	for _, m := range []*ebpf.Map{p.dst4, p.dst6, p.slots, p.xsks} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	return errors.Join(errs...)
}
