package xdp

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"golang.org/x/sys/unix"
)

// udpIn opens a UDP socket bound to addr inside ns.
func udpIn(t *testing.T, p *vethPair, inA bool, port int) *net.UDPConn {
	t.Helper()
	h, addr := p.HB, p.AddrB
	if inA {
		h, addr = p.HA, p.AddrA
	}
	var c *net.UDPConn
	testenv.InNetns(t, h, func() (err error) {
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

// captureOn opens a packet socket on a's veth and returns a function that
// reads until it sees the frame whose tail is payload, and returns it: the
// exact bytes the peer put on the wire.
func captureOn(t *testing.T, p *vethPair) func(payload []byte) []byte {
	t.Helper()
	proto := int(uint16(be16(unix.ETH_P_ALL))) // network byte order, as AF_PACKET wants
	var fd int
	testenv.InNetns(t, p.HA, func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: p.IdxA})
	})
	t.Cleanup(func() { unix.Close(fd) })
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return func(payload []byte) []byte {
		buf := make([]byte, 4096)
		for {
			k, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				t.Fatalf("capture on %s: %v", p.IfA, err)
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
	testenv.InNetns(t, p.HA, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		return err
	})
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	echo := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'o', 'd', 'f'}
	binary.BigEndian.PutUint16(echo[2:], ipChecksum(echo))
	if err := unix.Sendto(fd, echo, 0, &unix.SockaddrInet4{Addr: p.AddrB.As4()}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	for {
		k, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			t.Fatalf("no ICMP echo reply from %s: %v", p.AddrB, err)
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
	testenv.InNetns(t, p.HB, func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(p.AddrB, 8080).String())
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
	testenv.InNetns(t, p.HA, func() (err error) {
		c, err = net.DialTimeout("tcp4", netip.AddrPortFrom(p.AddrB, 8080).String(), 2*time.Second)
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
