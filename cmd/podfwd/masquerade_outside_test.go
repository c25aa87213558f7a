package main

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// outsideServer answers, from inside an outside host, with the source
// address each TCP connection, UDP datagram and ICMP echo request came
// from: what a server on the internet would log.
type outsideServer struct {
	icmp map[bool]net.PacketConn // raw ICMP socket per family (true: IPv4)
}

// serveOutside starts TCP and UDP servers on port 7000 of both of o's
// addresses, each replying with the client's address, and raw ICMP
// sockets that see echo requests. Everything closes at cleanup.
func serveOutside(t *testing.T, o *topo.Outside) *outsideServer {
	t.Helper()
	s := &outsideServer{icmp: map[bool]net.PacketConn{}}
	err := o.Do(func() error {
		for _, a := range []netip.Addr{o.IPv4, o.IPv6} {
			ap := netip.AddrPortFrom(a, 7000).String()
			ln, err := net.Listen("tcp", ap)
			if err != nil {
				return err
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					_, _ = c.Write([]byte(c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap().String() + "\n"))
					c.Close()
				}
			}()
			pc, err := net.ListenPacket("udp", ap)
			if err != nil {
				return err
			}
			t.Cleanup(func() { pc.Close() })
			go func() {
				buf := make([]byte, 1500)
				for {
					_, from, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					_, _ = pc.WriteTo([]byte(from.(*net.UDPAddr).AddrPort().Addr().Unmap().String()), from)
				}
			}()
			network := "ip4:icmp"
			if a.Is6() {
				network = "ip6:ipv6-icmp"
			}
			raw, err := net.ListenPacket(network, a.String())
			if err != nil {
				return err
			}
			t.Cleanup(func() { raw.Close() })
			s.icmp[a.Is4()] = raw
		}
		return nil
	})
	if err != nil {
		t.Fatalf("outside servers: %v", err)
	}
	return s
}

// seenTCP connects from pod to dst:7000 and returns the address the
// outside host saw.
func seenTCP(pod *topo.Pod, dst netip.Addr) (string, error) {
	var seen string
	err := pod.Do(func() error {
		c, err := net.DialTimeout("tcp", netip.AddrPortFrom(dst, 7000).String(), 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		seen, err = bufio.NewReader(c).ReadString('\n')
		if len(seen) > 0 {
			seen = seen[:len(seen)-1]
		}
		return err
	})
	return seen, err
}

// seenUDP sends one datagram from pod to dst:7000 and returns the address
// the outside host saw, retrying a few times (UDP may be lost while a
// neighbour resolves).
func seenUDP(pod *topo.Pod, dst netip.Addr) (string, error) {
	var seen string
	err := pod.Do(func() error {
		c, err := net.Dial("udp", netip.AddrPortFrom(dst, 7000).String())
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 64)
		for range 5 {
			if _, err = c.Write([]byte("who am i")); err != nil {
				return err
			}
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			var n int
			if n, err = c.Read(buf); err == nil {
				seen = string(buf[:n])
				return nil
			}
		}
		return err
	})
	return seen, err
}

// seenICMP pings dst from pod (which fails unless the outside host's reply
// finds its way back) and returns the source of the echo request the
// outside host received.
func (s *outsideServer) seenICMP(pod *topo.Pod, dst netip.Addr) (string, error) {
	raw := s.icmp[dst.Is4()]
	if err := topo.Ping(context.Background(), pod, dst, 1, 56, false); err != nil {
		return "", err
	}
	echoRequest := byte(8)
	if dst.Is6() {
		echoRequest = 128
	}
	buf := make([]byte, 1500)
	_ = raw.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, from, err := raw.ReadFrom(buf)
		if err != nil {
			return "", err
		}
		if n > 0 && buf[0] == echoRequest {
			return from.(*net.IPAddr).IP.String(), nil
		}
	}
}
