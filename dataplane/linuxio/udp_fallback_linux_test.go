package linuxio

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"golang.org/x/sys/unix"
)

// eioOnGSO behaves like a kernel whose route cannot checksum: sendmmsg
// fails with EIO on a message carrying UDP_SEGMENT, and sends the rest.
func eioOnGSO(calls *int) sendmmsgFunc {
	return func(fd uintptr, hdrs []unix.Mmsghdr) (int, unix.Errno) {
		*calls++
		for i := range hdrs {
			if hdrs[i].Hdr.Controllen > 0 {
				if i == 0 {
					return 0, unix.EIO
				}
				return sendmmsg(fd, hdrs[:i]) // the kernel reports the error on the next call
			}
		}
		return sendmmsg(fd, hdrs)
	}
}

func TestUDPGSOFallsBackOnEIO(t *testing.T) {
	ns := newTestNS(t, "eio")
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	a := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{Logger: log})
	if !a.Offloads().GSO {
		t.Fatalf("UDP GSO not available: %v", a.Offloads())
	}
	var calls int
	a.c.sendmmsg = eioOnGSO(&calls)
	rx := plainUDP(t, ns, "127.0.0.1:0")
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()

	// A plain datagram, a 5-segment train, a plain datagram: the train
	// fails with EIO and must be resent as 5 datagrams, in order.
	pkts := newPackets(3, 8000)
	fill(pkts[0], pattern(0, 100))
	fill(pkts[1], pattern(1, 5*700-20))
	pkts[1].Segments, pkts[1].SegmentSize = 5, 700
	fill(pkts[2], pattern(2, 90))
	for _, p := range pkts {
		p.Addr = to
	}
	for round := range 2 {
		if n, err := a.WriteBatch(pkts); n != 3 || err != nil {
			t.Fatalf("round %d: WriteBatch = %d, %v", round, n, err)
		}
		var want [][]byte
		want = append(want, pkts[0].Bytes())
		for off := 0; off < pkts[1].Len(); off += 700 {
			want = append(want, pkts[1].Bytes()[off:min(off+700, pkts[1].Len())])
		}
		want = append(want, pkts[2].Bytes())
		buf := make([]byte, 65536)
		rx.SetReadDeadline(time.Now().Add(5 * time.Second))
		for i, w := range want {
			n, _, err := rx.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("round %d datagram %d: %v", round, i, err)
			}
			if !bytes.Equal(buf[:n], w) {
				t.Errorf("round %d datagram %d: %d bytes, want %d", round, i, n, len(w))
			}
		}
	}
	if a.Offloads().GSO {
		t.Error("GSO still on after EIO")
	}
	if got := strings.Count(logBuf.String(), "GSO off"); got != 1 {
		t.Errorf("fallback logged %d times, want once:\n%s", got, logBuf.String())
	}
}

// TestUDPLongTrainSplitWithoutGSO checks the userspace split when GSO is
// switched off by option: every segment is its own datagram, and a train
// longer than one batch of messages spans several sendmmsg calls.
func TestUDPLongTrainSplitWithoutGSO(t *testing.T) {
	ns := newTestNS(t, "split")
	a := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{DisableGSO: true, BatchSize: 4})
	if a.Offloads().GSO {
		t.Fatal("DisableGSO ignored")
	}
	rx := plainUDP(t, ns, "127.0.0.1:0")
	rx.SetReadBuffer(1 << 20)
	p := newPacket(11 * 100)
	fill(p, pattern(3, 11*100))
	p.Addr = rx.LocalAddr().(*net.UDPAddr).AddrPort()
	p.Segments, p.SegmentSize = 11, 100
	if n, err := a.WriteBatch([]*dataplane.Packet{p}); n != 1 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	buf := make([]byte, 2048)
	rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range 11 {
		n, _, err := rx.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], p.Bytes()[i*100:(i+1)*100]) {
			t.Errorf("datagram %d wrong (%d bytes)", i, n)
		}
	}
}
