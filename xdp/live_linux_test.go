package xdp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	vxlanPort  = 4789
	genevePort = 6081
)

// liveNode is a veth pair with the redirect program attached to b's side
// and an AF_XDP socket on b's queue 0.
type liveNode struct {
	*vethPair
	r    *Redirect
	att  *Attachment
	sock *Socket
}

func newLiveNode(t *testing.T, scfg SocketConfig) *liveNode {
	t.Helper()
	return newLiveNodeWith(t, scfg, AttachOptions{})
}

func newLiveNodeWith(t *testing.T, scfg SocketConfig, opts AttachOptions) *liveNode {
	t.Helper()
	n := &liveNode{vethPair: newVethPair(t)}
	var err error
	n.r, err = NewRedirect(RedirectConfig{LocalIPv4: n.addrB, UDPPorts: []uint16{vxlanPort, genevePort}, IPIP: true}, 4)
	if err != nil {
		t.Fatalf("NewRedirect: %+v", err)
	}
	t.Cleanup(func() { n.r.Close() })
	inNS(t, n.hB, func() (err error) {
		if n.sock, err = Open(n.idxB, 0, scfg); err != nil {
			return err
		}
		n.att, err = n.r.Attach(n.idxB, opts)
		return err
	})
	t.Cleanup(func() { n.sock.Close() })
	t.Cleanup(func() { n.att.Close() })
	if err := n.r.Register(n.sock); err != nil {
		t.Fatal(err)
	}
	t.Logf("XDP program in %s mode, AF_XDP socket zero-copy=%v", n.att.Mode(), n.sock.ZeroCopy())
	return n
}

// udpIn opens a UDP socket bound to addr inside ns.
func udpIn(t *testing.T, p *vethPair, inA bool, port int) *net.UDPConn {
	t.Helper()
	h, addr := p.hB, p.addrB
	if inA {
		h, addr = p.hA, p.addrA
	}
	var c *net.UDPConn
	inNS(t, h, func() (err error) {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(port))))
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// receiveN collects exactly n descriptors from s, or fails after timeout.
func receiveN(t *testing.T, s *Socket, n int, timeout time.Duration) []Desc {
	t.Helper()
	got := make([]Desc, 0, n)
	buf := make([]Desc, 64)
	deadline := time.Now().Add(timeout)
	for len(got) < n && time.Now().Before(deadline) {
		k, err := s.Receive(buf[:min(len(buf), n-len(got))])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:k]...)
		if k == 0 {
			if _, err := s.Wait(50 * time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(got) < n {
		t.Fatalf("received %d of %d packets in %v", len(got), n, timeout)
	}
	return got
}

// expectNothing fails t if s receives a packet within d.
func expectNothing(t *testing.T, s *Socket, d time.Duration) {
	t.Helper()
	buf := make([]Desc, 8)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		n, err := s.Receive(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			t.Fatalf("AF_XDP socket received %d unexpected packets: % x", n, s.Frame(buf[0]))
		}
		s.Wait(20 * time.Millisecond)
	}
}

// udp4Payload checks that frame is Ethernet/IPv4/UDP from src to dst and
// returns its UDP payload.
func udp4Payload(t *testing.T, frame []byte, src, dst netip.AddrPort) []byte {
	t.Helper()
	if len(frame) < 42 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 || frame[23] != 17 {
		t.Fatalf("not Ethernet/IPv4/UDP: % x", frame)
	}
	ihl := int(frame[14]&0x0f) * 4
	ip := frame[14:]
	gotSrc := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[12:16])), binary.BigEndian.Uint16(ip[ihl:]))
	gotDst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[16:20])), binary.BigEndian.Uint16(ip[ihl+2:]))
	if gotSrc != src || gotDst != dst {
		t.Fatalf("frame %v -> %v, want %v -> %v", gotSrc, gotDst, src, dst)
	}
	udpLen := int(binary.BigEndian.Uint16(ip[ihl+4:]))
	if 14+ihl+udpLen != len(frame) {
		t.Fatalf("frame of %d bytes holds a %d-byte UDP datagram after %d-byte IP header", len(frame), udpLen, ihl)
	}
	return frame[14+ihl+8:]
}

func TestTunnelTrafficLandsInSocket(t *testing.T) {
	n := newLiveNode(t, SocketConfig{FrameSize: 2048, NumFrames: 256})
	peer := udpIn(t, n.vethPair, true, 40000)
	capture := captureOn(t, n.vethPair)
	for i, port := range []int{vxlanPort, genevePort, vxlanPort} {
		payload := fmt.Appendf(nil, "tunnel packet %d to %d", i, port)
		if _, err := peer.WriteToUDPAddrPort(payload, netip.AddrPortFrom(n.addrB, uint16(port))); err != nil {
			t.Fatal(err)
		}
		d := receiveN(t, n.sock, 1, 2*time.Second)[0]
		frame := n.sock.Frame(d)
		if sent := capture(payload); !bytes.Equal(frame, sent) {
			t.Errorf("AF_XDP frame differs from the frame the peer sent:\n got % x\nsent % x", frame, sent)
		}
		if !bytes.Equal(frame[0:6], n.macB) || !bytes.Equal(frame[6:12], n.macA) {
			t.Errorf("MACs %x -> %x, want %s -> %s", frame[6:12], frame[0:6], n.macA, n.macB)
		}
		got := udp4Payload(t, frame, netip.AddrPortFrom(n.addrA, 40000), netip.AddrPortFrom(n.addrB, uint16(port)))
		if !bytes.Equal(got, payload) {
			t.Errorf("payload %q, want %q", got, payload)
		}
		n.sock.Release([]Desc{d})
	}
	if c := n.sock.Frames(); c.Held != 0 || c.Free+c.Fill+c.TX != 256 {
		t.Errorf("frame accounting after release: %+v", c)
	}

	// Other UDP ports reach the kernel's sockets.
	plain := udpIn(t, n.vethPair, false, 5000)
	if _, err := peer.WriteToUDPAddrPort([]byte("for the kernel"), netip.AddrPortFrom(n.addrB, 5000)); err != nil {
		t.Fatal(err)
	}
	plain.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 100)
	k, _, err := plain.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:k]) != "for the kernel" {
		t.Fatalf("kernel UDP socket read %q, %v", buf[:k], err)
	}
	expectNothing(t, n.sock, 100*time.Millisecond)

	t.Run("ARP and ICMP", func(t *testing.T) {
		run(t, "ip", "-n", n.nsA, "neigh", "flush", "dev", n.ifA)
		pingFromA(t, n.vethPair)
		neigh := run(t, "ip", "-n", n.nsA, "neigh", "show", n.addrB.String())
		if !bytes.Contains([]byte(neigh), []byte(n.macB.String())) {
			t.Fatalf("no ARP entry for %s after ping: %q", n.addrB, neigh)
		}
	})
	t.Run("TCP", func(t *testing.T) { tcpEcho(t, n.vethPair) })
	expectNothing(t, n.sock, 50*time.Millisecond)
}

// captureOn opens a packet socket on a's veth and returns a function that
// reads until it sees the frame whose tail is payload, and returns it: the
// exact bytes the peer put on the wire.
func captureOn(t *testing.T, p *vethPair) func(payload []byte) []byte {
	t.Helper()
	proto := int(uint16(be16(unix.ETH_P_ALL))) // network byte order, as AF_PACKET wants
	var fd int
	inNS(t, p.hA, func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: p.idxA})
	})
	t.Cleanup(func() { unix.Close(fd) })
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return func(payload []byte) []byte {
		buf := make([]byte, 4096)
		for {
			k, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				t.Fatalf("capture on %s: %v", p.ifA, err)
			}
			if bytes.HasSuffix(buf[:k], payload) {
				return buf[:k]
			}
		}
	}
}

// pingFromA sends one ICMP echo request from a raw socket in a to b and
// waits for the reply (no ping binary needed).
func pingFromA(t *testing.T, p *vethPair) {
	t.Helper()
	var fd int
	inNS(t, p.hA, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		return err
	})
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	echo := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'o', 'd', 'f'}
	binary.BigEndian.PutUint16(echo[2:], ipChecksum(echo))
	if err := unix.Sendto(fd, echo, 0, &unix.SockaddrInet4{Addr: p.addrB.As4()}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	for {
		k, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			t.Fatalf("no ICMP echo reply from %s: %v", p.addrB, err)
		}
		ihl := int(buf[0]&0x0f) * 4
		if k >= ihl+8 && buf[ihl] == 0 && binary.BigEndian.Uint16(buf[ihl+4:]) == 0x1234 {
			return
		}
	}
}

// tcpEcho opens a TCP connection from a to b and exchanges a message.
func tcpEcho(t *testing.T, p *vethPair) {
	var ln net.Listener
	inNS(t, p.hB, func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(p.addrB, 8080).String())
		return err
	})
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		k, _ := c.Read(buf)
		c.Write(buf[:k])
	}()
	var c net.Conn
	inNS(t, p.hA, func() (err error) {
		c, err = net.DialTimeout("tcp4", netip.AddrPortFrom(p.addrB, 8080).String(), 2*time.Second)
		return err
	})
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("hello over tcp")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	k, err := c.Read(buf)
	if err != nil || string(buf[:k]) != "hello over tcp" {
		t.Fatalf("TCP echo %q, %v", buf[:k], err)
	}
}

// TestGenericModeRedirects covers the fallback path: the program attached
// in generic (SKB) mode must steer the same traffic.
func TestGenericModeRedirects(t *testing.T) {
	n := newLiveNodeWith(t, SocketConfig{FrameSize: 2048, NumFrames: 64}, AttachOptions{GenericOnly: true})
	if n.att.Mode() != AttachGeneric {
		t.Fatalf("GenericOnly attached in %s mode", n.att.Mode())
	}
	if out := run(t, "ip", "-n", n.nsB, "-d", "link", "show", n.ifB); !bytes.Contains([]byte(out), []byte("xdpgeneric")) {
		t.Fatalf("ip link does not show generic XDP:\n%s", out)
	}
	peer := udpIn(t, n.vethPair, true, 40040)
	payload := []byte("through generic XDP")
	if _, err := peer.WriteToUDPAddrPort(payload, netip.AddrPortFrom(n.addrB, genevePort)); err != nil {
		t.Fatal(err)
	}
	d := receiveN(t, n.sock, 1, 2*time.Second)[0]
	got := udp4Payload(t, n.sock.Frame(d), netip.AddrPortFrom(n.addrA, 40040), netip.AddrPortFrom(n.addrB, genevePort))
	if !bytes.Equal(got, payload) {
		t.Fatalf("payload %q", got)
	}
	n.sock.Release([]Desc{d})
	pingFromA(t, n.vethPair)
}
