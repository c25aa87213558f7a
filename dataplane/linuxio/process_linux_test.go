package linuxio

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/internal/testenv"
)

func TestProcessTUNReadWrite(t *testing.T) {
	ns := newTestNS(t, "ptun")
	var tun *ProcessTUN
	var err error
	name := testenv.RunPrefix() + "t"
	ns.do(t, func() { tun, err = OpenProcessTUN(name) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tun.Close() })
	if tun.BatchSize() != 1 || tun.Name() != name {
		t.Fatalf("BatchSize %d, Name %q", tun.BatchSize(), tun.Name())
	}
	configureTestLink(t, ns, name)

	sock := plainUDP(t, ns, "10.77.0.1:5555")
	dst := netip.AddrPortFrom(tunPeer, 9999)
	if _, err := sock.WriteToUDPAddrPort(pattern(3, 200), dst); err != nil {
		t.Fatal(err)
	}
	got, _ := readUntil(t, tun, isIPv4To(17, tunPeer))
	if !bytes.Equal(got[28:], pattern(3, 200)) || !l4ChecksumOK(got) {
		t.Errorf("read %d bytes, payload or checksum wrong", len(got))
	}

	src := netip.AddrPortFrom(tunPeer, 7777)
	p := newPacket(2048)
	fill(p, ipv4UDP(src, netip.AddrPortFrom(tunLocal, 5555), pattern(4, 120)))
	if n, err := tun.WriteBatch([]*dataplane.Packet{p}); n != 1 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	buf := make([]byte, 2048)
	sock.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := sock.ReadFromUDPAddrPort(buf)
	if err != nil || from != src || !bytes.Equal(buf[:n], pattern(4, 120)) {
		t.Errorf("socket got %d bytes from %v, err %v", n, from, err)
	}

	errc := make(chan error, 1)
	go func() {
		pkts := newPackets(1, 2048)
		for { // the kernel may still send IPv6 router solicitations
			if _, err := tun.ReadBatch(pkts); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	tun.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrClosed) || !errors.Is(err, dataplane.ErrPortClosed) {
			t.Errorf("ReadBatch after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadBatch still blocked 5s after Close")
	}
}

func TestProcessUDPOnePerSyscall(t *testing.T) {
	ns := newTestNS(t, "pudp")
	var a, b *ProcessUDP
	var err1, err2 error
	ns.do(t, func() {
		a, err1 = ListenProcessUDP(netip.MustParseAddrPort("127.0.0.1:0"))
		b, err2 = ListenProcessUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	})
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	if a.BatchSize() != 1 {
		t.Fatalf("BatchSize %d, want 1", a.BatchSize())
	}
	pkts := newPackets(2, 4000)
	fill(pkts[0], pattern(1, 64))
	fill(pkts[1], pattern(2, 2500)) // a train of 3 sent as 3 sendto calls
	pkts[1].Segments, pkts[1].SegmentSize = 3, 1000
	for _, p := range pkts {
		p.Addr = b.LocalAddr()
	}
	if n, err := a.WriteBatch(pkts); n != 2 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	data, from, segs := readAll(t, b, 4, 4000)
	want := [][]byte{pkts[0].Bytes(), pkts[1].Bytes()[:1000], pkts[1].Bytes()[1000:2000], pkts[1].Bytes()[2000:]}
	for i := range want {
		if !bytes.Equal(data[i], want[i]) || from[i] != a.LocalAddr() || segs[i] != 1 {
			t.Errorf("datagram %d: %d bytes from %v (segments %d)", i, len(data[i]), from[i], segs[i])
		}
	}
}
