package linuxio

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
)

// listenUDP opens a UDPPort inside ns and closes it in Cleanup.
func listenUDP(t testing.TB, ns *testNS, laddr string, opts UDPOptions) *UDPPort {
	t.Helper()
	var u *UDPPort
	var err error
	ns.do(t, func() { u, err = ListenUDP(netip.MustParseAddrPort(laddr), opts) })
	if err != nil {
		t.Fatalf("ListenUDP(%s): %v", laddr, err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// plainUDP opens an ordinary net.UDPConn inside ns.
func plainUDP(t testing.TB, ns *testNS, laddr string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	var err error
	ns.do(t, func() { c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(laddr))) })
	if err != nil {
		t.Fatalf("listen %s: %v", laddr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads from port until want datagrams (counting GRO segments) or
// the deadline, and returns each datagram's bytes and source.
func readAll(t *testing.T, port dataplane.Port, want, room int) (data [][]byte, from []netip.AddrPort, segs []int) {
	t.Helper()
	pkts := newPackets(port.BatchSize(), room)
	type result struct {
		data [][]byte
		from []netip.AddrPort
		segs []int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for len(r.data) < want {
			for _, p := range pkts {
				p.Reset(dataplane.Headroom)
			}
			n, err := port.ReadBatch(pkts)
			if err != nil {
				r.err = err
				break
			}
			for _, p := range pkts[:n] {
				b := p.Bytes()
				r.segs = append(r.segs, p.Segments)
				for off := 0; off < len(b); off += p.SegmentSize {
					r.data = append(r.data, append([]byte(nil), b[off:min(off+p.SegmentSize, len(b))]...))
					r.from = append(r.from, p.Addr)
				}
			}
		}
		done <- r
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("ReadBatch after %d datagrams: %v", len(r.data), r.err)
		}
		return r.data, r.from, r.segs
	case <-time.After(10 * time.Second):
		port.Close() // unblocks the reader; the test fails either way
		t.Fatalf("only part of %d datagrams arrived within 10s", want)
	}
	return nil, nil, nil
}

func TestUDPBatchBothWays(t *testing.T) {
	ns := newTestNS(t, "udpb")
	for _, tc := range []struct {
		name, a, b, bDial string
		raw               bool // outside the netpoller (rawConn)
	}{
		{"ipv4", "127.0.0.1:0", "127.0.0.1:0", "", false},
		{"ipv6", "[::1]:0", "[::1]:0", "", false},
		{"ipv4-to-dual-stack", "127.0.0.1:0", "[::]:0", "127.0.0.1", false},
		{"raw-ipv4", "127.0.0.1:0", "127.0.0.1:0", "", true},
		{"raw-ipv6", "[::1]:0", "[::1]:0", "", true},
		{"raw-ipv4-to-dual-stack", "127.0.0.1:0", "[::]:0", "127.0.0.1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := listenUDP(t, ns, tc.a, UDPOptions{BatchSize: 16, Raw: tc.raw})
			b := listenUDP(t, ns, tc.b, UDPOptions{BatchSize: 16, Raw: tc.raw})
			bAddr := b.LocalAddr()
			if tc.bDial != "" {
				bAddr = netip.AddrPortFrom(netip.MustParseAddr(tc.bDial), bAddr.Port())
			}
			const n = 40 // more than one batch each way
			for dir, ends := range [][2]*UDPPort{{a, b}, {b, a}} {
				src, dst := ends[0], ends[1]
				dstAddr, srcAddr := bAddr, a.LocalAddr()
				if dir == 1 {
					dstAddr, srcAddr = a.LocalAddr(), bAddr
				}
				pkts := newPackets(n, 2048)
				for i, p := range pkts {
					fill(p, pattern(dir*100+i, 20+i*37))
					p.Addr = dstAddr
				}
				if sent, err := src.WriteBatch(pkts); sent != n || err != nil {
					t.Fatalf("dir %d: WriteBatch = %d, %v", dir, sent, err)
				}
				data, from, _ := readAll(t, dst, n, MaxGROSize)
				for i := range n {
					if !bytes.Equal(data[i], pattern(dir*100+i, 20+i*37)) {
						t.Errorf("dir %d datagram %d: contents differ (len %d)", dir, i, len(data[i]))
					}
					if from[i] != srcAddr {
						t.Errorf("dir %d datagram %d: source %v, want %v", dir, i, from[i], srcAddr)
					}
				}
			}
		})
	}
}

func TestUDPGSOSendArrivesAsDatagrams(t *testing.T) {
	ns := newTestNS(t, "gso")
	a := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{})
	if !a.Offloads().GSO {
		t.Fatalf("UDP GSO not available on this kernel: %v", a.Offloads())
	}
	rx := plainUDP(t, ns, "127.0.0.1:0")
	const segs, size = 10, 1000
	train := make([]byte, 0, segs*size)
	for i := range segs {
		n := size
		if i == segs-1 {
			n = 500 // the last segment may be shorter
		}
		train = append(train, pattern(i, n)...)
	}
	p := newPacket(len(train))
	fill(p, train)
	p.Addr = rx.LocalAddr().(*net.UDPAddr).AddrPort()
	p.Segments, p.SegmentSize = segs, size
	if n, err := a.WriteBatch([]*dataplane.Packet{p}); n != 1 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	buf := make([]byte, 65536)
	rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range segs {
		n, from, err := rx.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		want := train[i*size : min((i+1)*size, len(train))]
		if !bytes.Equal(buf[:n], want) {
			t.Errorf("datagram %d: %d bytes, want %d, contents equal=%v", i, n, len(want), bytes.Equal(buf[:n], want))
		}
		if from != a.LocalAddr() {
			t.Errorf("datagram %d from %v, want %v", i, from, a.LocalAddr())
		}
	}
}

func TestUDPGSOToGROPort(t *testing.T) {
	ns := newTestNS(t, "gro")
	for _, tc := range []struct{ name, a, b, dial string }{
		{"ipv4", "127.0.0.1:0", "127.0.0.1:0", ""},
		{"ipv6", "[::1]:0", "[::1]:0", ""},
		{"dual-stack-to-ipv4", "[::]:0", "127.0.0.1:0", ""},
		{"ipv4-to-dual-stack", "127.0.0.1:0", "[::]:0", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := listenUDP(t, ns, tc.a, UDPOptions{})
			b := listenUDP(t, ns, tc.b, UDPOptions{})
			if !a.Offloads().GSO || !b.Offloads().GRO {
				t.Fatalf("offloads: a %v, b %v", a.Offloads(), b.Offloads())
			}
			to, from := b.LocalAddr(), a.LocalAddr()
			if tc.dial != "" {
				to = netip.AddrPortFrom(netip.MustParseAddr(tc.dial), to.Port())
			}
			if from.Addr().IsUnspecified() {
				from = netip.AddrPortFrom(to.Addr(), from.Port()) // the kernel picks the source
			}
			const segs, size = 10, 1200
			train := pattern(7, segs*size-300)
			p := newPacket(len(train))
			fill(p, train)
			p.Addr = to
			p.Segments, p.SegmentSize = segs, size
			if n, err := a.WriteBatch([]*dataplane.Packet{p}); n != 1 || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			data, srcs, segCounts := readAll(t, b, segs, MaxGROSize)
			if len(data) != segs {
				t.Fatalf("%d datagrams, want %d", len(data), segs)
			}
			for i, d := range data {
				if !bytes.Equal(d, train[i*size:min((i+1)*size, len(train))]) {
					t.Errorf("segment %d: %d bytes, contents or boundary wrong", i, len(d))
				}
				if srcs[i] != from {
					t.Errorf("segment %d from %v, want %v", i, srcs[i], from)
				}
			}
			// Loopback hands a GSO train to a GRO socket whole; say so
			// rather than assert it, since that is the kernel's choice.
			t.Logf("received as %d buffer(s), segments per buffer %v", len(segCounts), segCounts)
		})
	}
}

func TestUDPGROOfSeparateDatagrams(t *testing.T) {
	ns := newTestNS(t, "gro2")
	b := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{})
	tx := plainUDP(t, ns, "127.0.0.1:0")
	const n = 10
	for i := range n {
		if _, err := tx.WriteToUDPAddrPort(pattern(i, 1000), b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	data, _, segCounts := readAll(t, b, n, MaxGROSize)
	for i := range n {
		if !bytes.Equal(data[i], pattern(i, 1000)) {
			t.Errorf("datagram %d wrong", i)
		}
	}
	for _, s := range segCounts {
		if s < 1 {
			t.Errorf("Segments = %d, want >= 1", s)
		}
	}
	t.Logf("%d separate sends arrived as %d buffer(s): %v (loopback does not run GRO)", n, len(segCounts), segCounts)
}

func TestUDPTruncatedDatagramDropped(t *testing.T) {
	ns := newTestNS(t, "trunc")
	b := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{DisableGRO: true})
	tx := plainUDP(t, ns, "127.0.0.1:0")
	tx.WriteToUDPAddrPort(pattern(1, 300), b.LocalAddr())
	tx.WriteToUDPAddrPort(pattern(2, 50), b.LocalAddr())
	data, _, _ := readAll(t, b, 1, 100)
	if len(data) != 1 || !bytes.Equal(data[0], pattern(2, 50)) {
		t.Fatalf("got %d datagrams, first %d bytes; want only the 50-byte one", len(data), len(data[0]))
	}
	if got := b.Truncated(); got != 1 {
		t.Errorf("Truncated() = %d, want 1", got)
	}
}

func TestUDPReadNeedsGROBuffer(t *testing.T) {
	ns := newTestNS(t, "short")
	b := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{})
	if _, err := b.ReadBatch(newPackets(2, 1500)); !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("ReadBatch with 1500-byte buffers and GRO on: %v, want ErrShortBuffer", err)
	}
}

func TestUDPWriteStopsAtBadPacket(t *testing.T) {
	ns := newTestNS(t, "bad")
	a := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{})
	rx := plainUDP(t, ns, "127.0.0.1:0")
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	pkts := newPackets(3, 100)
	for i, p := range pkts {
		fill(p, pattern(i, 10))
		p.Addr = to
	}
	pkts[1].Addr = netip.MustParseAddrPort("[fd00::1]:9") // IPv6 on an IPv4 socket
	if n, err := a.WriteBatch(pkts); n != 1 || !errors.Is(err, ErrNoAddr) {
		t.Errorf("WriteBatch = %d, %v; want 1, ErrNoAddr", n, err)
	}
	pkts[1].Addr = to
	pkts[1].Segments, pkts[1].SegmentSize = 2, 0
	if n, err := a.WriteBatch(pkts); n != 1 || !errors.Is(err, ErrBadSegments) {
		t.Errorf("WriteBatch = %d, %v; want 1, ErrBadSegments", n, err)
	}
}

func TestUDPCloseUnblocksReader(t *testing.T) {
	ns := newTestNS(t, "close")
	b := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{})
	errc := make(chan error, 1)
	go func() {
		_, err := b.ReadBatch(newPackets(4, MaxGROSize))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the reader park; the result does not depend on it
	b.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) || !errors.Is(err, dataplane.ErrPortClosed) {
			t.Fatalf("ReadBatch after Close: %v; want net.ErrClosed and dataplane.ErrPortClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadBatch still blocked 5s after Close")
	}
	// A packet that would be sent on an open port: only the close may
	// refuse it.
	late := newPackets(1, 10)
	late[0].Addr = netip.MustParseAddrPort("127.0.0.1:9")
	if n, err := b.WriteBatch(late); n != 0 || !errors.Is(err, dataplane.ErrPortClosed) {
		t.Errorf("WriteBatch after Close = %d, %v; want 0, dataplane.ErrPortClosed", n, err)
	}
}
