package xdpport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/xdp"
	"golang.org/x/sys/unix"
)

// Group is several AF_XDP sockets (its members, each a Port with its own
// UMEM) served as one dataplane.Port: every receive queue of a multi-queue
// interface, or the host-side veths of several pods. ReadBatch and
// WriteBatch may run on one goroutine each at the same time, WriteTo on the
// writer's goroutine; Close may run concurrently with all of them. The
// members are read and written only through the Group; their accessors
// (Queue, Stats, Received, ...) are for statistics.
type Group struct {
	name    string
	batch   int
	members []*Port
	// redir and att are the one program of OpenQueues that feeds every
	// member; nil for NewGroup, whose members own theirs.
	redir *xdp.Redirect
	att   *xdp.Attachment

	// Reader side: the member the next read starts from (it rotates, so
	// a busy queue cannot starve the others), and the poll set: every
	// member's socket, then wakeFD, an eventfd Close writes to.
	next    int
	pollfds []unix.PollFd
	wakeFD  int
	counter [8]byte

	// Writer side: each member's share of one chunk of WriteBatch.
	shares [][]*dataplane.Packet

	// closed refuses new calls, calls counts calls in progress; freed says
	// Close released the members and the eventfd.
	closed  atomic.Bool
	calls   atomic.Int32
	closeMu sync.Mutex
	freed   bool
}

// OpenQueues opens one AF_XDP socket per queue of the interface ifindex (in
// the network namespace of the calling thread), each with its own UMEM and
// rings sized by opts.Socket, loads one redirect program whose XSKMAP maps
// every queue to its socket, and attaches it once (driver mode, else
// generic). Tunnel packets arriving on any of the queues reach the Group.
// On error nothing stays attached or open.
func OpenQueues(ifindex int, queues []int, opts Options) (_ *Group, err error) {
	if len(queues) == 0 {
		return nil, errors.New("xdpport: OpenQueues needs at least one queue")
	}
	for i, q := range queues {
		if q < 0 || slices.Contains(queues[:i], q) {
			return nil, fmt.Errorf("xdpport: queues %v: each must be listed once and be >= 0", queues)
		}
	}
	var members []*Port
	var redir *xdp.Redirect
	defer func() {
		if err != nil {
			for _, m := range members {
				m.closeAll()
			}
			if redir != nil {
				_ = redir.Close()
			}
		}
	}()
	if redir, err = xdp.NewRedirect(opts.Redirect, slices.Max(queues)+1); err != nil {
		return nil, err
	}
	for _, q := range queues {
		m, err := openSocket(ifindex, q, opts)
		if err != nil {
			return nil, fmt.Errorf("queue %d: %w", q, err)
		}
		members = append(members, m)
		m.redir = redir
		if err := redir.Register(m.sock); err != nil {
			return nil, err
		}
	}
	att, err := attach(redir, ifindex, opts)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		m.att = att
	}
	g, err := newGroup(members[0].name, members)
	if err != nil {
		_ = att.Close()
		return nil, err
	}
	g.redir, g.att = redir, att
	return g, nil
}

// NewGroup serves members that were opened separately (each with its own
// program attachment, as on several pods' veths) as one port named name.
// The Group owns them from now on: its Close closes them. On error the
// members stay open and the caller's.
func NewGroup(name string, members ...*Port) (*Group, error) {
	if len(members) == 0 {
		return nil, errors.New("xdpport: a group needs at least one member")
	}
	return newGroup(name, slices.Clone(members))
}

func newGroup(name string, members []*Port) (*Group, error) {
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("xdpport: eventfd: %w", err)
	}
	g := &Group{name: name, members: members, wakeFD: wake, shares: make([][]*dataplane.Packet, len(members))}
	for _, m := range members {
		g.batch = max(g.batch, m.batch)
		g.pollfds = append(g.pollfds, unix.PollFd{Fd: int32(m.sock.FD()), Events: unix.POLLIN})
	}
	g.pollfds = append(g.pollfds, unix.PollFd{Fd: int32(wake), Events: unix.POLLIN})
	for i := range g.shares {
		g.shares[i] = make([]*dataplane.Packet, 0, g.batch)
	}
	return g, nil
}

// Name returns the group's name (OpenQueues: Options.Name).
func (g *Group) Name() string { return g.name }

// BatchSize returns the most packets one ReadBatch returns: the largest
// member's batch size.
func (g *Group) BatchSize() int { return g.batch }

// Members returns the sockets in the order they were given (OpenQueues:
// the order of queues), for per-queue statistics. The caller must not read
// or write them, nor keep the slice's backing array for writing.
func (g *Group) Members() []*Port { return g.members }

// AttachMode reports where the program of OpenQueues runs; for NewGroup,
// where the first member's does.
func (g *Group) AttachMode() xdp.AttachMode { return g.members[0].AttachMode() }

// Close detaches the XDP program (tunnel traffic passes to the kernel
// again), makes ReadBatch, WriteBatch and WriteTo return
// dataplane.ErrPortClosed, wakes a blocked reader, waits for calls in
// progress to return and closes every member. A member whose frames the
// reader still holds stays mapped until the reader's next ReadBatch (see
// Port.Close), or until Free. Close is idempotent.
func (g *Group) Close() error {
	g.closeMu.Lock()
	defer g.closeMu.Unlock()
	if g.freed {
		return nil
	}
	var errs []error
	if !g.closed.Swap(true) {
		errs = append(errs, g.wake())
		if g.att != nil {
			errs = append(errs, g.att.Close())
		}
	}
	if err := waitIdle(&g.calls, g.wake); err != nil {
		return errors.Join(append(errs, err)...)
	}
	// Nobody is inside the group now: the members can close, each one
	// unregistering its queue while the program's map still exists.
	held := false
	for _, m := range g.members {
		errs = append(errs, m.Close())
		held = held || !m.isFreed()
	}
	if g.redir != nil {
		errs = append(errs, g.redir.Close())
		g.redir = nil
	}
	if !held {
		g.freed = true
		errs = append(errs, unix.Close(g.wakeFD))
	}
	return errors.Join(errs...)
}

// Free closes the group and unmaps every member even if the reader stopped
// while it held a batch. The caller promises that nobody touches that
// batch any longer.
func (g *Group) Free() error {
	err := g.Close()
	for _, m := range g.members {
		m.holding.Store(false)
	}
	return errors.Join(err, g.Close())
}

// wake makes a blocked (or the next) poll of the reader return.
func (g *Group) wake() error {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	if _, err := unix.Write(g.wakeFD, one[:]); err != nil && !errors.Is(err, unix.EAGAIN) {
		return fmt.Errorf("xdpport: wake: %w", err)
	}
	return nil
}
