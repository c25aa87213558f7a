package xdp

import (
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/podfwd/podfwd/internal/testenv"
	"golang.org/x/sys/unix"
)

// The receive benchmarks compare an AF_XDP socket behind the redirect
// program (copy mode on veth) with a plain UDP socket on the same veth
// pair. A goroutine in namespace a floods 60-byte frames (64 on a real
// wire, with the FCS: 14 Ethernet + 20 IPv4 + 8 UDP + 18 payload) through
// a connected UDP socket with sendmmsg, 64 at a time; the benchmark receives b.N of them in b. Reported:
// received packets per second, the share of sent packets that were lost,
// CPU time of the whole process per received packet (getrusage
// RUSAGE_SELF: it includes the sender and the kernel's softirq work done on
// its thread, the same for both receivers), and CPU time of the receiving
// thread alone per packet (RUSAGE_THREAD).

const benchPayload = 18

// flood starts the sender and returns a stop function that returns how many
// packets it sent.
func flood(b *testing.B, p *vethPair, port uint16) (stop func() uint64) {
	b.Helper()
	var fd int
	testenv.InNetns(b, p.HA, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		return unix.Connect(fd, &unix.SockaddrInet4{Addr: p.AddrB.As4(), Port: int(port)})
	})
	var quit atomic.Bool
	var sent atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		msgs := newMmsgs(64, benchPayload)
		for !quit.Load() {
			k, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs.hdrs[0])), uintptr(len(msgs.hdrs)), 0, 0, 0)
			if errno == 0 {
				sent.Add(uint64(k))
			}
		}
	}()
	return func() uint64 {
		quit.Store(true)
		<-done
		unix.Close(fd)
		return sent.Load()
	}
}

// mmsgs is a batch of one-buffer messages for sendmmsg and recvmmsg.
type mmsgs struct {
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
	bufs [][]byte
}

func newMmsgs(n, size int) *mmsgs {
	m := &mmsgs{hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n), bufs: make([][]byte, n)}
	for i := range n {
		m.bufs[i] = make([]byte, size)
		m.iovs[i].Base = &m.bufs[i][0]
		m.iovs[i].SetLen(size)
		m.hdrs[i].Hdr.Iov = &m.iovs[i]
		m.hdrs[i].Hdr.SetIovlen(1)
	}
	return m
}

type cpuClock struct {
	wall         time.Time
	proc, thread time.Duration
}

func readCPU() cpuClock {
	var self, thread unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &self)
	unix.Getrusage(unix.RUSAGE_THREAD, &thread)
	d := func(r unix.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return cpuClock{wall: time.Now(), proc: d(self), thread: d(thread)}
}

func report(b *testing.B, start cpuClock, received int, sent uint64) {
	end := readCPU()
	elapsed := end.wall.Sub(start.wall)
	b.ReportMetric(float64(received)/elapsed.Seconds(), "pkt/s")
	b.ReportMetric(float64(end.proc-start.proc)/float64(received), "cpu-ns/pkt")
	b.ReportMetric(float64(end.thread-start.thread)/float64(received), "rx-cpu-ns/pkt")
	if sent > 0 {
		b.ReportMetric(100*(1-float64(received)/float64(sent)), "loss-%")
	}
}

func BenchmarkReceive64AFXDP(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n := &liveNode{vethPair: newVethPair(b)}
	r, err := NewRedirect(RedirectConfig{LocalIPv4: n.AddrB, UDPPorts: []uint16{vxlanPort}}, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var s *Socket
	var att *Attachment
	testenv.InNetns(b, n.HB, func() (err error) {
		if s, err = Open(n.IdxB, 0, SocketConfig{FrameSize: 2048, NumFrames: 4096}); err != nil {
			return err
		}
		att, err = r.Attach(n.IdxB, AttachOptions{})
		return err
	})
	defer s.Close()
	defer att.Close()
	if err := r.Register(s); err != nil {
		b.Fatal(err)
	}
	stop := flood(b, n.vethPair, vxlanPort)
	descs := make([]Desc, 64)
	b.ResetTimer()
	start := readCPU()
	received := 0
	for received < b.N {
		k, err := s.Receive(descs)
		if err != nil {
			b.Fatal(err)
		}
		if k == 0 {
			if _, err := s.Wait(100 * time.Millisecond); err != nil {
				b.Fatal(err)
			}
			continue
		}
		received += k
		s.Release(descs[:k])
	}
	sent := stop()
	b.StopTimer()
	report(b, start, received, sent)
	if st, err := s.Stats(); err == nil && b.N > 1000 {
		b.Logf("b.N=%d mode=%s zero-copy=%v stats=%+v", b.N, att.Mode(), s.ZeroCopy(), st)
	}
}

func BenchmarkReceive64UDPSocket(b *testing.B) { benchmarkUDP(b, false) }

func BenchmarkReceive64UDPRecvmmsg(b *testing.B) { benchmarkUDP(b, true) }

// benchmarkUDP receives with one read per packet, or with recvmmsg 64 at a
// time when batch is set.
func benchmarkUDP(b *testing.B, batch bool) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := newVethPair(b)
	var fd int
	testenv.InNetns(b, p.HB, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrInet4{Addr: netip.MustParseAddr("0.0.0.0").As4(), Port: vxlanPort})
	})
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	stop := flood(b, p, vxlanPort)
	buf := make([]byte, 2048)
	msgs := newMmsgs(64, 2048)
	b.ResetTimer()
	start := readCPU()
	received := 0
	for received < b.N {
		if batch {
			// MSG_WAITFORONE: block for the first datagram only.
			k, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs.hdrs[0])), uintptr(len(msgs.hdrs)), unix.MSG_WAITFORONE, 0, 0)
			if errno == 0 {
				received += int(k)
				continue
			}
			if errno == unix.EAGAIN || errno == unix.EINTR {
				continue
			}
			b.Fatal(errno)
		}
		if _, err := unix.Read(fd, buf); err != nil {
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			b.Fatal(err)
		}
		received++
	}
	sent := stop()
	b.StopTimer()
	report(b, start, received, sent)
}
