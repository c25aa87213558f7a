package bench

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/podfwd/podfwd/internal/topo"
	"golang.org/x/sys/unix"
)

// udpPayload is the datagram size of the small-packet test: 64 bytes of
// UDP payload, the size iperf3 -l 64 sends too.
const udpPayload = 64

// udpBatch is how many datagrams one sendmmsg/recvmmsg call carries.
const udpBatch = 64

// udpOut is what one flood measured.
type udpOut struct {
	sent, received uint64
	seconds        float64 // the sender's time
}

func (u udpOut) pps() float64 {
	if u.seconds <= 0 {
		return 0
	}
	return float64(u.received) / u.seconds
}

func (u udpOut) loss() float64 {
	if u.sent == 0 {
		return 0
	}
	return 1 - float64(min(u.received, u.sent))/float64(u.sent)
}

// udpFlood blasts 64-byte UDP datagrams from pod `from` to pod `to` for d,
// as fast as one sender with sendmmsg batches can, while a receiver in
// `to` counts them with recvmmsg. The sockets are opened inside the pods'
// namespaces (a socket keeps its namespace), so both loops run here.
func udpFlood(from, to *topo.Pod, d time.Duration) (udpOut, error) {
	var rx, tx int
	var port int
	err := to.Do(func() error {
		var err error
		rx, port, err = udpReceiver(to.IPv4.As4())
		return err
	})
	if err != nil {
		return udpOut{}, err
	}
	defer unix.Close(rx)
	err = from.Do(func() error {
		var err error
		tx, err = udpSender(to.IPv4.As4(), port)
		return err
	})
	if err != nil {
		return udpOut{}, err
	}
	defer unix.Close(tx)

	var received atomic.Uint64
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); countDatagrams(rx, &received, &stop) }()
	start := time.Now()
	sent, err := sendDatagrams(tx, start.Add(d))
	secs := time.Since(start).Seconds()
	time.Sleep(200 * time.Millisecond) // let what is in flight arrive
	stop.Store(true)
	wg.Wait()
	return udpOut{sent: sent, received: received.Load(), seconds: secs}, err
}

func udpReceiver(addr [4]byte) (fd, port int, err error) {
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("udp receiver socket: %w", err)
	}
	// A deep buffer so a burst the receiver loop is late for is not
	// counted as loss of the path; FORCE lifts rmem_max (we are root).
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("udp receiver timeout: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: addr}); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("udp receiver bind: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("udp receiver port: %w", err)
	}
	return fd, sa.(*unix.SockaddrInet4).Port, nil
}

func udpSender(addr [4]byte, port int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("udp sender socket: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: addr, Port: port}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("udp sender connect: %w", err)
	}
	return fd, nil
}

// mmsgs is a batch of one-buffer messages for sendmmsg/recvmmsg.
type mmsgs struct {
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
	buf  []byte
}

func newMmsgs(n, size int) *mmsgs {
	m := &mmsgs{hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n), buf: make([]byte, n*size)}
	for i := range m.hdrs {
		m.iovs[i].Base = &m.buf[i*size]
		m.iovs[i].SetLen(size)
		m.hdrs[i].Hdr.Iov = &m.iovs[i]
		m.hdrs[i].Hdr.SetIovlen(1)
	}
	return m
}

// sendDatagrams sends batches on the connected socket until the deadline.
// A full queue or an ICMP error reported back (ENOBUFS, EAGAIN,
// ECONNREFUSED) only costs that call: the flood goes on.
func sendDatagrams(fd int, until time.Time) (uint64, error) {
	m := newMmsgs(udpBatch, udpPayload)
	var sent uint64
	for time.Now().Before(until) {
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&m.hdrs[0])), udpBatch, 0, 0, 0)
		switch errno {
		case 0:
			sent += uint64(n)
		case unix.ENOBUFS, unix.EAGAIN, unix.ECONNREFUSED, unix.EINTR:
		default:
			return sent, fmt.Errorf("sendmmsg: %w", errno)
		}
	}
	return sent, nil
}

// countDatagrams receives batches until stop is set; the socket's receive
// timeout bounds how long it takes to notice.
func countDatagrams(fd int, received *atomic.Uint64, stop *atomic.Bool) {
	m := newMmsgs(udpBatch, 2048)
	for !stop.Load() {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&m.hdrs[0])), udpBatch, unix.MSG_WAITFORONE, 0, 0)
		if errno == 0 {
			received.Add(uint64(n))
			continue
		}
		if !errors.Is(errno, unix.EAGAIN) && !errors.Is(errno, unix.EINTR) {
			return
		}
	}
}
