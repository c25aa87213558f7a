package xdpport

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podfwd/podfwd/xdp"
	"golang.org/x/sys/unix"
)

// PodRoute says how to hand a packet to one local pod directly: through
// the AF_XDP socket on the host-side veth Ifindex, in a frame from
// GatewayMAC (the address the pod resolved its gateway to: the bridge's or
// the veth's) to PodMAC.
type PodRoute struct {
	Addr       netip.Addr
	Ifindex    int
	PodMAC     [6]byte
	GatewayMAC [6]byte
}

// PodSet is the direct pod port (dataplane.DirectPort): one AF_XDP socket
// per host-side veth of a local pod, all read by one reader through one
// poll, written by one writer, with sockets and routes added and removed
// at any time by a third goroutine (the daemon's pod watcher). The XDP
// program that feeds the sockets (only packets for remote pods) is the
// caller's: PodSet only moves frames.
//
// Packets read are bare IP packets in the sockets' UMEM frames (zero
// copy, lent until the next ReadBatch), with the pod's L4 checksum
// completed and the node's hop taken off the TTL. Packets written are
// copied into a frame of the pod's socket behind an Ethernet header.
type PodSet struct {
	name  string
	batch int
	state atomic.Pointer[podState]

	// mu serializes the control side (AddSocket, RemoveSocket, SetRoutes,
	// Close) and guards retired.
	mu       sync.Mutex
	retired  []retiredSocket
	nRetired atomic.Int32

	// wakeFD is an eventfd in the reader's poll set: control changes and
	// Close write to it so that the reader sees them at once.
	wakeFD int

	// Reader side.
	rx       []xdp.Desc
	lentFrom []*podSocket // sockets with frames lent in the last batch
	seen     *podState    // the state pollfds was built for
	pollfds  []unix.PollFd
	polled   []*podSocket // pollfds[i+1] is polled[i]'s socket
	next     int          // round-robin start
	junk     atomic.Uint64

	// Writer side: writerEpoch is odd while WriteBatch runs, so that a
	// retired socket is closed only once no write can still use it.
	writerEpoch atomic.Uint64
	touched     []*podSocket
	undelivered atomic.Uint64

	closed  atomic.Bool
	calls   atomic.Int32
	holding atomic.Bool
}

// podSocket is one pod veth's socket. held belongs to the reader, pending
// to the writer.
type podSocket struct {
	ifindex int
	name    string
	sock    *xdp.Socket
	held    []xdp.Desc
	pending []xdp.Desc
	dead    bool // reader: poll said the socket failed (its veth is gone)
}

// podState is one immutable view of the sockets and routes.
type podState struct {
	sockets []*podSocket
	routes  map[netip.Addr]podDest
}

type podDest struct {
	sock           *podSocket
	podMAC, gwAddr [6]byte
}

// retiredSocket waits to be closed until neither side can use it.
type retiredSocket struct {
	s     *podSocket
	epoch uint64 // writerEpoch when it left the state
}

// ErrPodUnreachable is returned by WriteBatch when a packet's destination
// has no route any more (the pod left between routing and writing).
var ErrPodUnreachable = errors.New("xdpport: pod not reachable directly any more")

// NewPodSet returns an empty set; batch bounds one ReadBatch (0: 64).
func NewPodSet(name string, batch int) (*PodSet, error) {
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("xdpport: eventfd: %w", err)
	}
	ps := &PodSet{name: name, batch: batch, wakeFD: fd, rx: make([]xdp.Desc, batch)}
	ps.state.Store(&podState{routes: map[netip.Addr]podDest{}})
	return ps, nil
}

// Name returns the set's name.
func (ps *PodSet) Name() string { return ps.name }

// BatchSize returns the most packets one ReadBatch returns.
func (ps *PodSet) BatchSize() int { return ps.batch }

// Reaches reports whether a packet for dst can be written now.
func (ps *PodSet) Reaches(dst netip.Addr) bool {
	_, ok := ps.state.Load().routes[dst]
	return ok
}

// Sockets returns the ifindexes served now.
func (ps *PodSet) Sockets() []int {
	st := ps.state.Load()
	out := make([]int, len(st.sockets))
	for i, s := range st.sockets {
		out[i] = s.ifindex
	}
	return out
}

// Routes returns how many pods are reachable directly now.
func (ps *PodSet) Routes() int { return len(ps.state.Load().routes) }

// Stats returns the kernel counters of the socket on ifindex.
func (ps *PodSet) Stats(ifindex int) (xdp.Stats, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, s := range ps.state.Load().sockets {
		if s.ifindex == ifindex {
			st, err := s.sock.Stats()
			return st, err == nil
		}
	}
	return xdp.Stats{}, false
}

// Undelivered counts packets WriteBatch could not deliver; Junk counts
// frames read that were not IP packets with a TTL to spare.
func (ps *PodSet) Undelivered() uint64 { return ps.undelivered.Load() }

// Junk counts frames the reader dropped (not IP, or no hop left).
func (ps *PodSet) Junk() uint64 { return ps.junk.Load() }

// AddSocket adopts sock, bound to a queue of the veth ifindex; PodSet
// closes it when it is removed or the set is closed. One socket per veth.
func (ps *PodSet) AddSocket(ifindex int, name string, sock *xdp.Socket) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed.Load() {
		return errors.New("xdpport: pod set closed")
	}
	old := ps.state.Load()
	for _, s := range old.sockets {
		if s.ifindex == ifindex {
			return fmt.Errorf("xdpport: %s (ifindex %d) already has a socket", name, ifindex)
		}
	}
	s := &podSocket{ifindex: ifindex, name: name, sock: sock,
		held: make([]xdp.Desc, 0, ps.batch), pending: make([]xdp.Desc, 0, ps.batch)}
	ps.publish(&podState{sockets: append(old.sockets[:len(old.sockets):len(old.sockets)], s), routes: old.routes})
	return nil
}

// RemoveSocket stops using the socket of ifindex and its routes; the
// socket is closed as soon as neither the reader nor the writer can touch
// it. Removing an unknown ifindex does nothing.
func (ps *PodSet) RemoveSocket(ifindex int) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	old := ps.state.Load()
	next := &podState{routes: make(map[netip.Addr]podDest, len(old.routes))}
	var gone *podSocket
	for _, s := range old.sockets {
		if s.ifindex == ifindex {
			gone = s
		} else {
			next.sockets = append(next.sockets, s)
		}
	}
	if gone == nil {
		return
	}
	for a, d := range old.routes {
		if d.sock != gone {
			next.routes[a] = d
		}
	}
	ps.publish(next)
	ps.retired = append(ps.retired, retiredSocket{s: gone, epoch: ps.writerEpoch.Load()})
	ps.nRetired.Store(int32(len(ps.retired)))
}

// SetRoutes replaces the routes; a route through a veth without a socket
// is left out and reported in the error (the rest are installed).
func (ps *PodSet) SetRoutes(routes []PodRoute) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	old := ps.state.Load()
	next := &podState{sockets: old.sockets, routes: make(map[netip.Addr]podDest, len(routes))}
	var errs []error
	for _, r := range routes {
		var sock *podSocket
		for _, s := range old.sockets {
			if s.ifindex == r.Ifindex {
				sock = s
			}
		}
		if sock == nil {
			errs = append(errs, fmt.Errorf("xdpport: pod %s: no socket on ifindex %d", r.Addr, r.Ifindex))
			continue
		}
		next.routes[r.Addr.Unmap()] = podDest{sock: sock, podMAC: r.PodMAC, gwAddr: r.GatewayMAC}
	}
	ps.publish(next)
	return errors.Join(errs...)
}

// publish installs st and wakes the reader so that it polls the new set.
func (ps *PodSet) publish(st *podState) {
	ps.state.Store(st)
	ps.wake()
}

func (ps *PodSet) wake() {
	var one = [8]byte{1}
	_, _ = unix.Write(ps.wakeFD, one[:])
}

// Close makes ReadBatch and WriteBatch return dataplane.ErrPortClosed,
// wakes the reader, waits (bounded) for calls in progress and closes every
// socket, unless the reader still holds a lent batch: then the sockets
// stay open (their frames stay valid) until the process ends.
func (ps *PodSet) Close() error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed.Swap(true) {
		return nil
	}
	ps.wake()
	deadline := time.Now().Add(closeWait)
	for ps.calls.Load() != 0 {
		if time.Now().After(deadline) {
			return ErrStillInUse
		}
		ps.wake()
		time.Sleep(time.Millisecond)
	}
	if ps.holding.Load() {
		return nil
	}
	var errs []error
	for _, s := range ps.state.Load().sockets {
		errs = append(errs, s.sock.Close())
	}
	for _, r := range ps.retired {
		errs = append(errs, r.s.sock.Close())
	}
	ps.retired = nil
	errs = append(errs, unix.Close(ps.wakeFD))
	return errors.Join(errs...)
}
