package xdpport

import (
	"errors"
	"fmt"

	"github.com/podfwd/podfwd/dataplane"
	"golang.org/x/sys/unix"
)

// ReadBatch gives back every member's previous batch, then lends up to
// len(pkts) received frames from the members, as Port.ReadBatch does for
// one socket (same contract: valid until the next ReadBatch or Close). It
// reads the members in turn without blocking, starting one member further
// on every call, so that a queue that always has a full batch waiting
// cannot starve the others; only when every member is empty does it block,
// in one poll over all of them. It returns dataplane.ErrPortClosed once
// the group is closed.
func (g *Group) ReadBatch(pkts []*dataplane.Packet) (int, error) {
	g.calls.Add(1)
	if g.closed.Load() {
		return g.readClosed()
	}
	for _, m := range g.members {
		m.giveBack()
	}
	for {
		k, err := g.readRound(pkts)
		if k > 0 || err != nil {
			g.calls.Add(-1)
			return k, err
		}
		if err := g.wait(); err != nil {
			g.calls.Add(-1)
			return 0, err
		}
		if g.closed.Load() {
			return g.readClosed()
		}
	}
}

// TryReadBatch is ReadBatch without waiting: it gives back the previous
// batch and reads one round of the members, returning 0 and no error when
// every RX ring is empty. It lets the engine's polling thread serve the
// group beside the TUN, trying the rings (memory reads, no system call)
// while it spins and waiting in its own poller (on FDs) otherwise.
func (g *Group) TryReadBatch(pkts []*dataplane.Packet) (int, error) {
	g.calls.Add(1)
	if g.closed.Load() {
		return g.readClosed()
	}
	for _, m := range g.members {
		m.giveBack()
	}
	k, err := g.readRound(pkts)
	g.calls.Add(-1)
	return k, err
}

// FDs lists the members' socket descriptors, which a poller waits on
// for received frames.
func (g *Group) FDs() []int {
	fds := make([]int, len(g.members))
	for i, m := range g.members {
		fds[i] = m.sock.FD()
	}
	return fds
}

// readRound offers what is left of pkts to each member once, from g.next
// on, and moves g.next one member further. An error of one member ends the
// round; packets lent before it are returned first, and the error comes
// again on the next call.
func (g *Group) readRound(pkts []*dataplane.Packet) (int, error) {
	i := g.next
	if g.next++; g.next == len(g.members) {
		g.next = 0
	}
	k := 0
	for range g.members {
		if k == len(pkts) {
			break
		}
		got, err := g.members[i].tryRead(pkts[k:])
		k += got
		if err != nil && k == 0 {
			return 0, err
		}
		if i++; i == len(g.members) {
			i = 0
		}
	}
	return k, nil
}

// wait blocks until some member's RX ring has frames or Close wakes it. In
// copy mode the poll also makes the kernel send what waits on the members'
// TX rings, as xdp.Socket.Wait does for one socket.
func (g *Group) wait() error {
	_, err := unix.Poll(g.pollfds, -1)
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return nil
		}
		return fmt.Errorf("xdpport: poll: %w", err)
	}
	if g.pollfds[len(g.pollfds)-1].Revents&unix.POLLIN != 0 {
		// Drain the eventfd so that the next poll blocks again.
		_, _ = unix.Read(g.wakeFD, g.counter[:])
	}
	return nil
}

// readClosed ends a ReadBatch on a closed group: the caller is done with
// its last batch, so members Close had to leave mapped can now be freed.
func (g *Group) readClosed() (int, error) {
	for _, m := range g.members {
		m.holding.Store(false)
	}
	g.calls.Add(-1)
	_ = g.Close()
	return 0, dataplane.ErrPortClosed
}
