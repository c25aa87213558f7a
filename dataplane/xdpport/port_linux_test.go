package xdpport

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/xdp"
	"github.com/vishvananda/netlink"
)

const tunnelPort = 4789

func newPackets(n int) []*dataplane.Packet {
	pool := dataplane.NewPool(n, dataplane.Headroom+2048)
	pkts := make([]*dataplane.Packet, n)
	for i := range pkts {
		pkts[i] = pool.Get()
	}
	return pkts
}

// readN reads one batch and fails unless it holds exactly n packets. Every
// ReadBatch gives back the batch before it, so the test's packets must
// arrive together: the caller sends them first and readN lets them land.
func readN(t *testing.T, p *Port, pkts []*dataplane.Packet, n int) int {
	t.Helper()
	time.Sleep(50 * time.Millisecond)
	k, err := p.ReadBatch(pkts)
	if err != nil {
		t.Fatal(err)
	}
	if k != n {
		t.Fatalf("read %d packets, want %d", k, n)
	}
	return k
}

func (p *Port) inUMEM(pk *dataplane.Packet) bool {
	d, ok := p.descOf(pk)
	return ok && d.Len == uint32(pk.Len())
}

// descOf is inPlace without taking the frame: where pk lies in the UMEM.
func (p *Port) descOf(pk *dataplane.Packet) (xdp.Desc, bool) {
	saved := make([]uint32, len(p.lent))
	for i := range p.lent {
		saved[i] = p.lent[i].Load()
		p.lent[i].Store(frameLent)
	}
	d, ok := p.inPlace(pk)
	for i := range p.lent {
		p.lent[i].Store(saved[i])
	}
	return d, ok
}

func TestReadBatchLendsUMEMFrames(t *testing.T) {
	l := newLink(t)
	p := l.openPort(t, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 128}})
	t.Logf("XDP %s mode, zero-copy %v", p.AttachMode(), p.ZeroCopy())
	peer := l.udpOn(t, true, 40000)
	dst := netip.AddrPortFrom(l.AddrB, tunnelPort)
	for i := range 3 {
		if _, err := peer.WriteToUDPAddrPort(fmt.Appendf(nil, "tunnel %d", i), dst); err != nil {
			t.Fatal(err)
		}
	}
	pkts := newPackets(8)
	n := readN(t, p, pkts, 3)
	for i, pk := range pkts[:n] {
		if !p.inUMEM(pk) {
			t.Fatalf("packet %d is not a view of a UMEM frame", i)
		}
		if len(pk.Buf) != 2048 || pk.Start < 256 {
			t.Errorf("packet %d: Buf %d bytes, Start %d: want the whole frame with the kernel's 256 bytes of headroom", i, len(pk.Buf), pk.Start)
		}
		f := pk.Bytes()
		if !bytes.Equal(f[0:6], l.MACB) || !bytes.Equal(f[6:12], l.MACA) || !bytes.HasSuffix(f, fmt.Appendf(nil, "tunnel %d", i)) {
			t.Errorf("packet %d is not the frame the peer sent: % x", i, f)
		}
	}
	if c := p.Frames(); c.Held != 3 {
		t.Errorf("after one batch of 3: %+v, want 3 held", c)
	}
	// The next ReadBatch gives the three back before it blocks for more.
	if _, err := peer.WriteToUDPAddrPort([]byte("next"), dst); err != nil {
		t.Fatal(err)
	}
	if k := readN(t, p, pkts, 1); k != 1 || !bytes.HasSuffix(pkts[0].Bytes(), []byte("next")) {
		t.Fatalf("second batch: %d packets", k)
	}
	if c := p.Frames(); c.Held != 1 {
		t.Errorf("after the second batch: %+v, want only its 1 frame held", c)
	}
	if st, err := p.Stats(); err != nil || st.RxDropped != 0 {
		t.Errorf("Stats: %+v, %v", st, err)
	}

	// Other traffic still reaches the kernel while the program is attached.
	plain := l.udpOn(t, false, 5000)
	if _, err := peer.WriteToUDPAddrPort([]byte("for the kernel"), netip.AddrPortFrom(l.AddrB, 5000)); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFrom(t, plain); string(got) != "for the kernel" {
		t.Fatalf("kernel socket got %q", got)
	}
}

func TestWriteBatchCopiesForeignBuffers(t *testing.T) {
	l := newLink(t)
	p := l.openPort(t, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 64}})
	peer := l.udpOn(t, true, 40001)
	pkts := newPackets(3)
	for i, pk := range pkts {
		frame := udpFrame(l.MACB, l.MACA, netip.AddrPortFrom(l.AddrB, tunnelPort),
			netip.AddrPortFrom(l.AddrA, 40001), fmt.Appendf(nil, "copied %d", i))
		pk.Reset(dataplane.Headroom)
		pk.SetLen(copy(pk.Buf[pk.Start:], frame))
	}
	if n, err := p.WriteBatch(pkts); n != 3 || err != nil {
		t.Fatalf("WriteBatch: %d, %v", n, err)
	}
	for i := range 3 {
		got, from := readFrom(t, peer)
		if string(got) != fmt.Sprintf("copied %d", i) || from != netip.AddrPortFrom(l.AddrB, tunnelPort) {
			t.Fatalf("peer got %q from %v", got, from)
		}
	}
	waitSettled(t, p, 64)
}

// TestWriteBatchSendsLentFrameInPlace receives a frame, writes new outer
// Ethernet/IPv4/UDP headers into its headroom (as encapsulation does) and
// sends it: the peer must get the whole received frame as the payload, and
// the frame must have gone out from where it was received.
func TestWriteBatchSendsLentFrameInPlace(t *testing.T) {
	l := newLink(t)
	p := l.openPort(t, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 64}})
	peer := l.udpOn(t, true, 40002)
	if _, err := peer.WriteToUDPAddrPort([]byte("inner"), netip.AddrPortFrom(l.AddrB, tunnelPort)); err != nil {
		t.Fatal(err)
	}
	pkts := newPackets(4)
	readN(t, p, pkts, 1)
	pk := pkts[0]
	received := bytes.Clone(pk.Bytes())
	frameBefore := &pk.Buf[0]
	outer := udpFrame(l.MACB, l.MACA, netip.AddrPortFrom(l.AddrB, tunnelPort),
		netip.AddrPortFrom(l.AddrA, 40002), received)
	hdr := pk.Prepend(42)
	if hdr == nil {
		t.Fatalf("no 42 bytes of headroom in front of a received frame (Start %d)", pk.Start)
	}
	copy(hdr, outer[:42])
	d, _ := p.descOf(pk)
	if n, err := p.WriteBatch(pkts[:1]); n != 1 || err != nil {
		t.Fatalf("WriteBatch: %d, %v", n, err)
	}
	if p.lent[d.Addr/p.frameSize].Load() != frameSent {
		t.Fatal("the lent frame was not taken over for an in-place send (was it copied?)")
	}
	got, _ := readFrom(t, peer)
	if !bytes.Equal(got, received) {
		t.Fatalf("peer got % x\nwant the received frame % x", got, received)
	}
	if &pk.Buf[0] != frameBefore {
		t.Fatal("packet buffer moved")
	}
	// The next ReadBatch must not give the sent frame back to the fill
	// ring: the completion ring does.
	if _, err := peer.WriteToUDPAddrPort([]byte("again"), netip.AddrPortFrom(l.AddrB, tunnelPort)); err != nil {
		t.Fatal(err)
	}
	readN(t, p, pkts, 1)
	p.giveBack()
	waitSettled(t, p, 64)
}

// waitSettled waits for completions and checks that every frame is back.
func waitSettled(t *testing.T, p *Port, total int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for p.Frames().TX > 0 && time.Now().Before(deadline) {
		p.sock.Complete()
		time.Sleep(time.Millisecond)
	}
	if c := p.Frames(); c.TX != 0 || c.Held != 0 || c.Free+c.Fill != total {
		t.Fatalf("frames not all back: %+v of %d", c, total)
	}
}

func TestCloseWakesBlockedReaderAndDetaches(t *testing.T) {
	l := newLink(t)
	p := l.openPort(t, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 64}})
	closeWakesBlockedReader(t, l, p)
	if !p.freed {
		t.Error("Close with no batch lent out did not free the socket")
	}
}

// A reader that holds a batch when Close runs keeps it readable until its
// next ReadBatch, which then frees the socket.
func TestCloseLeavesLentBatchUntilNextRead(t *testing.T) {
	l := newLink(t)
	p := l.openPort(t, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 64}})
	peer := l.udpOn(t, true, 40003)
	if _, err := peer.WriteToUDPAddrPort([]byte("held over close"), netip.AddrPortFrom(l.AddrB, tunnelPort)); err != nil {
		t.Fatal(err)
	}
	pkts := newPackets(4)
	readN(t, p, pkts, 1)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if p.freed {
		t.Fatal("Close unmapped the UMEM while the reader held a batch")
	}
	if !bytes.HasSuffix(pkts[0].Bytes(), []byte("held over close")) {
		t.Fatal("lent packet changed after Close")
	}
	if _, err := p.ReadBatch(pkts); !errors.Is(err, dataplane.ErrPortClosed) {
		t.Fatalf("ReadBatch after Close: %v", err)
	}
	if !p.freed {
		t.Fatal("the reader's return did not free the socket")
	}
}

// TestOpenFailsCleanlyOnBadInterface: an Open that fails leaves nothing
// behind, both when the interface is missing and when it fails after the
// socket was bound and the program attached (a generic-mode attach that
// RequireDriver refuses): no XDP program stays on the link, and the queue
// is free for the next Open.
func TestOpenFailsCleanlyOnBadInterface(t *testing.T) {
	l := newLink(t)
	testenv.InNetns(t, l.HB, func() error {
		_, err := Open(99999, 0, Options{Redirect: redirectTo(l.AddrB, tunnelPort)})
		if err == nil {
			return errors.New("Open on a missing interface succeeded")
		}
		_, err = Open(l.IdxB, 0, Options{Redirect: redirectTo(l.AddrB, tunnelPort),
			Attach: xdp.AttachOptions{GenericOnly: true}, RequireDriver: true})
		if !errors.Is(err, ErrNotDriverMode) {
			return fmt.Errorf("Open in generic mode with RequireDriver: %v, want ErrNotDriverMode", err)
		}
		link, err := netlink.LinkByIndex(l.IdxB)
		if err != nil {
			return err
		}
		if x := link.Attrs().Xdp; x != nil && x.Attached {
			return fmt.Errorf("a failed Open left XDP program %d on %s", x.ProgId, l.IfB)
		}
		// The kernel unbinds a closed AF_XDP socket from its queue a moment
		// later (even after a clean Close), so the queue is polled for.
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			p, err := Open(l.IdxB, 0, Options{Redirect: redirectTo(l.AddrB, tunnelPort)})
			if err == nil {
				return p.Close()
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the queue of a failed Open is not free 2 s later: %w", err)
			}
		}
	})
}
