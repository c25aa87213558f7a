package linuxio

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Poller is the dataplane.Poller of tun io: one epoll set over the pod
// TUN's and the underlay socket's descriptors plus an eventfd for Wake. It
// is level-triggered, so a wait returns at once while a port still holds
// packets.
//
// Spinning is only worth it while the other threads leave a core free: a
// monitor samples how many threads are runnable (/proc/loadavg) every
// 10 ms and turns spinning off while, over the last 100 ms, the others
// (all runnable threads but the monitor and the spinner itself) wanted
// every core — then the spinner would only take time from the pods, the
// applications or the kernel's softirqs, which is what a busy node needs.
// It turns spinning back on once they leave a whole core free again.
type Poller struct {
	epfd, evfd int
	spin       time.Duration
	spinOK     atomic.Bool
	stop       chan struct{}
	closed     atomic.Bool
	events     [4]unix.EpollEvent
	wakeBuf    [8]byte
}

// NewPoller watches fds for input; spin is the budget Spin reports while
// the machine has an idle core.
func NewPoller(spin time.Duration, fds ...int) (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("linuxio: epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("linuxio: eventfd: %w", err)
	}
	p := &Poller{epfd: epfd, evfd: evfd, spin: spin, stop: make(chan struct{})}
	for _, fd := range append(fds, evfd) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			p.closeFDs()
			return nil, fmt.Errorf("linuxio: epoll_ctl add %d: %w", fd, err)
		}
	}
	p.spinOK.Store(spin > 0)
	if spin > 0 {
		go p.watchLoad(runtime.NumCPU())
	}
	return p, nil
}

// Wait blocks until a watched descriptor is readable or Wake was called.
func (p *Poller) Wait() error {
	for {
		n, err := unix.EpollWait(p.epfd, p.events[:], -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range p.events[:n] {
			if int(ev.Fd) == p.evfd {
				_, _ = unix.Read(p.evfd, p.wakeBuf[:])
			}
		}
		return nil
	}
}

// Wake makes a Wait in progress, or the next one, return.
func (p *Poller) Wake() {
	if p.closed.Load() {
		return
	}
	var one = [8]byte{1}
	_, _ = unix.Write(p.evfd, one[:])
}

// Spin reports the spin budget, 0 while the machine has no idle core.
func (p *Poller) Spin() time.Duration {
	if p.spinOK.Load() {
		return p.spin
	}
	return 0
}

// Yield gives the CPU to another runnable thread, if there is one.
func (p *Poller) Yield() { _, _, _ = unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// Close stops the monitor and releases the descriptors. The watched
// ports' own descriptors are the caller's.
func (p *Poller) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	close(p.stop)
	p.closeFDs()
	return nil
}

func (p *Poller) closeFDs() {
	unix.Close(p.evfd)
	unix.Close(p.epfd)
}

// watchLoad keeps spinOK in step with the machine (see Poller).
func (p *Poller) watchLoad(cpus int) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var window [10]int
	i, sum := 0, 0
	buf := make([]byte, 128)
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		// Neither this monitor (running as it reads) nor the spinner
		// counts; when the spinner sleeps that undercounts the others by
		// one, erring toward spinning.
		r := max(runnable(buf)-2, 0)
		sum += r - window[i]
		window[i] = r
		i = (i + 1) % len(window)
		avg := float64(sum) / float64(len(window))
		switch {
		case avg >= float64(cpus):
			p.spinOK.Store(false)
		case avg <= float64(cpus-1):
			p.spinOK.Store(true)
		}
	}
}

// runnable returns the kernel's count of runnable threads right now (the
// fourth field of /proc/loadavg, "running/total"), or 0 when unreadable.
func runnable(buf []byte) int {
	f, err := os.Open("/proc/loadavg")
	if err != nil {
		return 0
	}
	n, _ := f.Read(buf)
	f.Close()
	fields := strings.Fields(string(buf[:n]))
	if len(fields) < 4 {
		return 0
	}
	running, _, _ := strings.Cut(fields[3], "/")
	v, _ := strconv.Atoi(running)
	return v
}
