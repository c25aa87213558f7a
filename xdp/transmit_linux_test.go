package xdp

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"golang.org/x/sys/unix"
)

// readUDP reads one datagram from c within 2 s.
func readUDP(t *testing.T, c interface {
	SetReadDeadline(time.Time) error
	ReadFromUDPAddrPort([]byte) (int, netip.AddrPort, error)
}) ([]byte, netip.AddrPort) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 2048)
	k, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("peer read: %v", err)
	}
	return buf[:k], from
}

func TestTransmitBuiltFrame(t *testing.T) {
	n := newLiveNode(t, SocketConfig{FrameSize: 2048, NumFrames: 64})
	peer := udpIn(t, n.vethPair, true, 40001)
	payload := []byte("built in UMEM, sent through the TX ring")
	frame := frameSpec{srcMAC: n.MACB, dstMAC: n.MACA, src: n.AddrB, dst: n.AddrA, proto: 17,
		sport: vxlanPort, dport: 40001, payload: payload}.build()
	addr, buf, ok := n.sock.AllocFrame()
	if !ok {
		t.Fatal("AllocFrame: no free frame")
	}
	const off = 128
	copy(buf[off:], frame)
	if k, err := n.sock.Transmit([]Desc{{Addr: addr + off, Len: uint32(len(frame))}}); k != 1 || err != nil {
		t.Fatalf("Transmit: %d, %v", k, err)
	}
	got, from := readUDP(t, peer)
	if !bytes.Equal(got, payload) || from != netip.AddrPortFrom(n.AddrB, vxlanPort) {
		t.Fatalf("peer got %q from %v", got, from)
	}
	waitFramesSettle(t, n.sock, 64)
}

// waitFramesSettle waits until the completion ring returned every sent
// frame, then checks that no frame went missing.
func waitFramesSettle(t *testing.T, s *Socket, total int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for s.Frames().TX > 0 && time.Now().Before(deadline) {
		s.Complete()
		time.Sleep(time.Millisecond)
	}
	if c := s.Frames(); c.TX != 0 || c.Held != 0 || c.Free+c.Fill != total {
		t.Fatalf("frames not all back: %+v of %d", c, total)
	}
}

// swapUDP4 turns a received Ethernet/IPv4/UDP frame around in place: MACs,
// addresses and ports swap, which leaves the IP checksum valid. The UDP
// checksum is cleared ("none", allowed for IPv4): a frame that a veth peer
// sent with checksum offload on reaches XDP with an incomplete checksum in
// that field, which no receiver would accept.
func swapUDP4(f []byte) {
	var tmp [6]byte
	copy(tmp[:], f[0:6])
	copy(f[0:6], f[6:12])
	copy(f[6:12], tmp[:])
	ip := f[14:]
	var a [4]byte
	copy(a[:], ip[12:16])
	copy(ip[12:16], ip[16:20])
	copy(ip[16:20], a[:])
	l4 := ip[int(ip[0]&0x0f)*4:]
	var p [2]byte
	copy(p[:], l4[0:2])
	copy(l4[0:2], l4[2:4])
	copy(l4[2:4], p[:])
	l4[6], l4[7] = 0, 0
}

func TestTransmitInPlaceEcho(t *testing.T) {
	n := newLiveNode(t, SocketConfig{FrameSize: 2048, NumFrames: 64})
	peer := udpIn(t, n.vethPair, true, 40002)
	payload := []byte("echo me back from the same frame")
	if _, err := peer.WriteToUDPAddrPort(payload, netip.AddrPortFrom(n.AddrB, vxlanPort)); err != nil {
		t.Fatal(err)
	}
	d := receiveN(t, n.sock, 1, 2*time.Second)[0]
	swapUDP4(n.sock.Frame(d))
	if k, err := n.sock.Transmit([]Desc{d}); k != 1 || err != nil {
		t.Fatalf("Transmit: %d, %v", k, err)
	}
	got, from := readUDP(t, peer)
	if !bytes.Equal(got, payload) || from != netip.AddrPortFrom(n.AddrB, vxlanPort) {
		t.Fatalf("peer got %q from %v", got, from)
	}
	waitFramesSettle(t, n.sock, 64)
}

// TestTransmitPrependedHeaders receives a frame, writes new Ethernet, IPv4
// and UDP headers into the headroom in front of it (as encapsulation does)
// and sends the grown descriptor: the peer must receive the whole original
// frame as the payload.
func TestTransmitPrependedHeaders(t *testing.T) {
	n := newLiveNode(t, SocketConfig{FrameSize: 2048, NumFrames: 64, Headroom: 64})
	peer := udpIn(t, n.vethPair, true, 40003)
	if _, err := peer.WriteToUDPAddrPort([]byte("inner"), netip.AddrPortFrom(n.AddrB, genevePort)); err != nil {
		t.Fatal(err)
	}
	d := receiveN(t, n.sock, 1, 2*time.Second)[0]
	h := n.sock.Headroom(d)
	if h < 64 {
		t.Fatalf("received frame has %d bytes of headroom, configured 64", h)
	}
	t.Logf("received frame at offset %d of its frame (configured headroom 64)", h)
	whole, off := n.sock.WholeFrame(d)
	if off != h || len(whole) != 2048 || &whole[off] != &n.sock.Frame(d)[0] {
		t.Fatalf("WholeFrame: %d bytes, offset %d; Headroom %d", len(whole), off, h)
	}
	inner := bytes.Clone(n.sock.Frame(d))
	outer := frameSpec{srcMAC: n.MACB, dstMAC: n.MACA, src: n.AddrB, dst: n.AddrA, proto: 17,
		sport: genevePort, dport: 40003, payload: inner}.build()
	hdrLen := len(outer) - len(inner)
	grown, ok := n.sock.Prepend(d, hdrLen)
	if !ok {
		t.Fatalf("Prepend %d bytes refused with %d of headroom", hdrLen, n.sock.Headroom(d))
	}
	copy(n.sock.Frame(grown), outer[:hdrLen])
	if !bytes.Equal(n.sock.Frame(grown), outer) {
		t.Fatal("grown frame differs from the intended encapsulation")
	}
	if k, err := n.sock.Transmit([]Desc{grown}); k != 1 || err != nil {
		t.Fatalf("Transmit: %d, %v", k, err)
	}
	got, _ := readUDP(t, peer)
	if !bytes.Equal(got, inner) {
		t.Fatalf("peer got % x, want the original frame % x", got, inner)
	}
	waitFramesSettle(t, n.sock, 64)
}

func TestIPIPLandsInSocket(t *testing.T) {
	n := newLiveNode(t, SocketConfig{FrameSize: 2048, NumFrames: 64})
	var fd int
	testenv.InNetns(t, n.HA, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_IPIP)
		return err
	})
	defer unix.Close(fd)
	inner := frameSpec{src: netip.MustParseAddr("10.244.1.5"), dst: netip.MustParseAddr("10.244.2.7"),
		proto: 17, sport: 1, dport: 2, payload: []byte("pod to pod")}.build()[14:]
	if err := unix.Sendto(fd, inner, 0, &unix.SockaddrInet4{Addr: n.AddrB.As4()}); err != nil {
		t.Fatal(err)
	}
	d := receiveN(t, n.sock, 1, 2*time.Second)[0]
	f := n.sock.Frame(d)
	if len(f) < 34 || f[23] != 4 || !bytes.Equal(f[34:], inner) {
		t.Fatalf("IPIP frame % x does not carry the inner packet", f)
	}
	n.sock.Release([]Desc{d})
}
