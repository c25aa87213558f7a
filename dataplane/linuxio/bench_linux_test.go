package linuxio

import (
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"golang.org/x/sys/unix"
)

// benchWindow bounds the datagrams in flight so neither the loopback
// backlog (netdev_max_backlog, 1000) nor the receive buffer overflows: a
// lost datagram would stall the count, so loss fails the benchmark.
const benchWindow = 256

// forceRcvBuf raises SO_RCVBUF past rmem_max (root only).
func forceRcvBuf(b *testing.B, c *net.UDPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var serr error
	rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20) })
	if serr != nil {
		b.Fatal(serr)
	}
}

func portConn(p dataplane.Port) *net.UDPConn {
	switch p := p.(type) {
	case *UDPPort:
		return p.conn
	case *ProcessUDP:
		return p.conn
	}
	return nil
}

// benchTransfer moves b.N datagrams of size bytes from tx to rx over
// loopback and reports datagrams per second. With segs > 1 each packet
// written is a train of segs datagrams.
func benchTransfer(b *testing.B, tx, rx dataplane.Port, dst netip.AddrPort, size, segs, rxRoom int) {
	forceRcvBuf(b, portConn(rx))
	out := newPackets(tx.BatchSize(), size*segs)
	for _, p := range out {
		fill(p, pattern(1, size*segs))
		p.Addr = dst
		if segs > 1 {
			p.Segments, p.SegmentSize = segs, size
		}
	}
	in := newPackets(rx.BatchSize(), rxRoom)
	var received atomic.Int64
	credit := make(chan struct{}, 1)
	rxDone := make(chan error, 1)
	conn := portConn(rx)
	go func() {
		for received.Load() < int64(b.N) {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := rx.ReadBatch(in)
			if err != nil {
				rxDone <- fmt.Errorf("after %d of %d datagrams: %w", received.Load(), b.N, err)
				return
			}
			got := 0
			for _, p := range in[:n] {
				got += max(p.Segments, 1)
			}
			received.Add(int64(got))
			select {
			case credit <- struct{}{}:
			default:
			}
		}
		rxDone <- nil
	}()

	b.SetBytes(int64(size))
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		for sent-int(received.Load()) > benchWindow {
			select {
			case <-credit:
			case err := <-rxDone:
				b.Fatalf("receiver stopped: %v", err)
			}
		}
		// Enough whole packets to reach b.N; the last train may be cut.
		k := 0
		for k < len(out) && sent < b.N {
			p := out[k]
			if segs > 1 {
				left := min(segs, b.N-sent)
				p.End = p.Start + left*size
				p.Segments = left
				sent += left
			} else {
				sent++
			}
			k++
		}
		if n, err := tx.WriteBatch(out[:k]); n != k || err != nil {
			b.Fatalf("WriteBatch = %d of %d, %v", n, k, err)
		}
		for _, p := range out[:k] {
			p.End = p.Start + size*segs
		}
	}
	if err := <-rxDone; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

func BenchmarkUDPLoopback(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(fmt.Sprintf("sendto/%d", size), func(b *testing.B) {
			ns := newTestNS(b, "bench")
			var tx, rx *ProcessUDP
			var err1, err2 error
			ns.do(b, func() {
				tx, err1 = ListenProcessUDP(netip.MustParseAddrPort("127.0.0.1:0"))
				rx, err2 = ListenProcessUDP(netip.MustParseAddrPort("127.0.0.1:0"))
			})
			if err1 != nil || err2 != nil {
				b.Fatal(err1, err2)
			}
			defer tx.Close()
			defer rx.Close()
			benchTransfer(b, tx, rx, rx.LocalAddr(), size, 1, 2048)
		})
		b.Run(fmt.Sprintf("mmsg/%d", size), func(b *testing.B) {
			ns := newTestNS(b, "bench")
			tx := listenUDP(b, ns, "127.0.0.1:0", UDPOptions{})
			rx := listenUDP(b, ns, "127.0.0.1:0", UDPOptions{DisableGRO: true})
			benchTransfer(b, tx, rx, rx.LocalAddr(), size, 1, 2048)
		})
	}
	// The tun io path's shape: trains of 32 datagrams out with UDP GSO,
	// in with UDP GRO (loopback hands a train over whole).
	b.Run("mmsg-gso-gro/1400", func(b *testing.B) {
		ns := newTestNS(b, "bench")
		tx := listenUDP(b, ns, "127.0.0.1:0", UDPOptions{})
		rx := listenUDP(b, ns, "127.0.0.1:0", UDPOptions{})
		if !tx.Offloads().GSO || !rx.Offloads().GRO {
			b.Fatalf("offloads: tx %v, rx %v", tx.Offloads(), rx.Offloads())
		}
		benchTransfer(b, tx, rx, rx.LocalAddr(), 1400, 32, MaxGROSize)
	})
}

// BenchmarkUDPSendOnly is the sender's side alone: datagrams to a loopback
// socket nobody reads (the kernel drops them once its queue is full), so
// the cost is the send syscalls and the stack, without receiver wake-ups.
func BenchmarkUDPSendOnly(b *testing.B) {
	for _, size := range []int{64, 1400} {
		for _, kind := range []string{"sendto", "mmsg"} {
			b.Run(fmt.Sprintf("%s/%d", kind, size), func(b *testing.B) {
				ns := newTestNS(b, "bench")
				sink := plainUDP(b, ns, "127.0.0.1:0")
				var tx dataplane.Port
				if kind == "sendto" {
					var err error
					var p *ProcessUDP
					ns.do(b, func() { p, err = ListenProcessUDP(netip.MustParseAddrPort("127.0.0.1:0")) })
					if err != nil {
						b.Fatal(err)
					}
					defer p.Close()
					tx = p
				} else {
					tx = listenUDP(b, ns, "127.0.0.1:0", UDPOptions{})
				}
				batch := 64
				out := newPackets(batch, size)
				for _, p := range out {
					fill(p, pattern(2, size))
					p.Addr = sink.LocalAddr().(*net.UDPAddr).AddrPort()
				}
				b.SetBytes(int64(size))
				b.ResetTimer()
				for sent := 0; sent < b.N; {
					k := min(batch, b.N-sent)
					if n, err := tx.WriteBatch(out[:k]); n != k || err != nil {
						b.Fatalf("WriteBatch = %d, %v", n, err)
					}
					sent += k
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
			})
		}
	}
}
