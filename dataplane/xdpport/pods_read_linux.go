package xdpport

import (
	"errors"
	"fmt"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/offload"
	"golang.org/x/sys/unix"
	"net/netip"
)

// ReadBatch gives back the frames of the previous batch, then blocks until
// a pod sends and lends up to len(pkts) packets: each packet's Buf is the
// whole UMEM frame with the IP packet at Buf[Start:End] (the Ethernet
// header stripped, checksums completed, TTL decremented) and the frame's
// headroom in front for encapsulation. Sockets are read round-robin, so a
// busy pod cannot starve another.
func (ps *PodSet) ReadBatch(pkts []*dataplane.Packet) (int, error) {
	ps.calls.Add(1)
	defer ps.calls.Add(-1)
	ps.giveBack()
	want := min(len(pkts), len(ps.rx))
	for {
		if ps.closed.Load() {
			ps.holding.Store(false)
			return 0, dataplane.ErrPortClosed
		}
		if ps.nRetired.Load() > 0 {
			ps.closeRetired()
		}
		st := ps.state.Load()
		if st != ps.seen {
			ps.repoll(st)
		}
		if k := ps.receive(pkts[:want]); k > 0 {
			ps.holding.Store(true)
			return k, nil
		}
		if err := ps.wait(); err != nil {
			return 0, err
		}
	}
}

// receive takes what the sockets have, starting one further each time.
func (ps *PodSet) receive(pkts []*dataplane.Packet) int {
	socks := ps.polled
	k := 0
	for i := range socks {
		if k == len(pkts) {
			break
		}
		s := socks[(ps.next+i)%len(socks)]
		if s.dead {
			continue
		}
		n, err := s.sock.Receive(ps.rx[:len(pkts)-k])
		if err != nil {
			s.dead = true
			continue
		}
		if n > 0 && len(s.held) == 0 {
			ps.lentFrom = append(ps.lentFrom, s)
		}
		for _, d := range ps.rx[:n] {
			s.held = append(s.held, d)
			frame, off := s.sock.WholeFrame(d)
			if frame == nil {
				continue
			}
			ipOff, ipLen, ok := podFrameToIP(frame[off : off+int(d.Len)])
			if !ok {
				ps.junk.Add(1)
				continue
			}
			p := pkts[k]
			p.Buf, p.Start, p.End = frame, off+ipOff, off+ipOff+ipLen
			p.GSO = offload.VirtioNetHdr{}
			p.Addr = netip.AddrPort{}
			p.Segments, p.SegmentSize = 0, 0
			k++
		}
	}
	if len(socks) > 0 {
		ps.next = (ps.next + 1) % len(socks)
	}
	return k
}

// giveBack returns the frames lent in the previous batch to their fill
// rings.
func (ps *PodSet) giveBack() {
	for _, s := range ps.lentFrom {
		s.sock.Release(s.held)
		s.held = s.held[:0]
	}
	ps.lentFrom = ps.lentFrom[:0]
	ps.holding.Store(false)
}

// repoll rebuilds the poll set for st (only when the sockets changed).
func (ps *PodSet) repoll(st *podState) {
	ps.seen = st
	ps.polled = append(ps.polled[:0], st.sockets...)
	ps.pollfds = append(ps.pollfds[:0], unix.PollFd{Fd: int32(ps.wakeFD), Events: unix.POLLIN})
	for _, s := range st.sockets {
		ps.pollfds = append(ps.pollfds, unix.PollFd{Fd: int32(s.sock.FD()), Events: unix.POLLIN})
	}
	if ps.next >= len(ps.polled) {
		ps.next = 0
	}
}

// wait blocks in one poll over every live socket and the wake eventfd. A
// socket whose poll reports an error (its veth went away) is left out
// until the watcher removes it, so that it cannot make the reader spin.
func (ps *PodSet) wait() error {
	for i, s := range ps.polled {
		ps.pollfds[i+1].Events = unix.POLLIN
		if s.dead {
			ps.pollfds[i+1].Fd = -1
		}
	}
	_, err := unix.Poll(ps.pollfds, -1)
	if err != nil && !errors.Is(err, unix.EINTR) {
		return fmt.Errorf("xdpport: poll pod sockets: %w", err)
	}
	if ps.pollfds[0].Revents&unix.POLLIN != 0 {
		var buf [8]byte
		_, _ = unix.Read(ps.wakeFD, buf[:])
	}
	for i, s := range ps.polled {
		if ps.pollfds[i+1].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			s.dead = true
		}
	}
	return nil
}

// closeRetired closes the removed sockets nobody can use any more: the
// reader is between batches (it gave everything back), and the writer
// either was outside WriteBatch when the socket left or has left the call
// it was in.
func (ps *PodSet) closeRetired() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	now := ps.writerEpoch.Load()
	keep := ps.retired[:0]
	for _, r := range ps.retired {
		if r.epoch%2 == 0 || now != r.epoch {
			_ = r.s.sock.Close()
			continue
		}
		keep = append(keep, r)
	}
	ps.retired = keep
	ps.nRetired.Store(int32(len(keep)))
	ps.seen = nil // the poll set may name a closed socket: rebuild it
}
