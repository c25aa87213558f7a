package xdp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
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
	n.r, err = NewRedirect(RedirectConfig{LocalIPv4: n.AddrB, UDPPorts: []uint16{vxlanPort, genevePort}, IPIP: true}, 4)
	if err != nil {
		t.Fatalf("NewRedirect: %+v", err)
	}
	t.Cleanup(func() { n.r.Close() })
	testenv.InNetns(t, n.HB, func() (err error) {
		if n.sock, err = Open(n.IdxB, 0, scfg); err != nil {
			return err
		}
		n.att, err = n.r.Attach(n.IdxB, opts)
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

func TestTunnelTrafficLandsInSocket(t *testing.T) {
	n := newLiveNode(t, SocketConfig{FrameSize: 2048, NumFrames: 256})
	peer := udpIn(t, n.vethPair, true, 40000)
	capture := captureOn(t, n.vethPair)
	for i, port := range []int{vxlanPort, genevePort, vxlanPort} {
		payload := fmt.Appendf(nil, "tunnel packet %d to %d", i, port)
		if _, err := peer.WriteToUDPAddrPort(payload, netip.AddrPortFrom(n.AddrB, uint16(port))); err != nil {
			t.Fatal(err)
		}
		d := receiveN(t, n.sock, 1, 2*time.Second)[0]
		frame := n.sock.Frame(d)
		if sent := capture(payload); !bytes.Equal(frame, sent) {
			t.Errorf("AF_XDP frame differs from the frame the peer sent:\n got % x\nsent % x", frame, sent)
		}
		if !bytes.Equal(frame[0:6], n.MACB) || !bytes.Equal(frame[6:12], n.MACA) {
			t.Errorf("MACs %x -> %x, want %s -> %s", frame[6:12], frame[0:6], n.MACA, n.MACB)
		}
		got := udp4Payload(t, frame, netip.AddrPortFrom(n.AddrA, 40000), netip.AddrPortFrom(n.AddrB, uint16(port)))
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
	if _, err := peer.WriteToUDPAddrPort([]byte("for the kernel"), netip.AddrPortFrom(n.AddrB, 5000)); err != nil {
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
		testenv.Run(t, "ip", "-n", n.NsA, "neigh", "flush", "dev", n.IfA)
		pingFromA(t, n.vethPair)
		neigh := testenv.Run(t, "ip", "-n", n.NsA, "neigh", "show", n.AddrB.String())
		if !bytes.Contains([]byte(neigh), []byte(n.MACB.String())) {
			t.Fatalf("no ARP entry for %s after ping: %q", n.AddrB, neigh)
		}
	})
	t.Run("TCP", func(t *testing.T) { tcpEcho(t, n.vethPair) })
	expectNothing(t, n.sock, 50*time.Millisecond)
}

// TestGenericModeRedirects covers the fallback path: the program attached
// in generic (SKB) mode must steer the same traffic.
func TestGenericModeRedirects(t *testing.T) {
	n := newLiveNodeWith(t, SocketConfig{FrameSize: 2048, NumFrames: 64}, AttachOptions{GenericOnly: true})
	if n.att.Mode() != AttachGeneric {
		t.Fatalf("GenericOnly attached in %s mode", n.att.Mode())
	}
	if out := testenv.Run(t, "ip", "-n", n.NsB, "-d", "link", "show", n.IfB); !bytes.Contains([]byte(out), []byte("xdpgeneric")) {
		t.Fatalf("ip link does not show generic XDP:\n%s", out)
	}
	peer := udpIn(t, n.vethPair, true, 40040)
	payload := []byte("through generic XDP")
	if _, err := peer.WriteToUDPAddrPort(payload, netip.AddrPortFrom(n.AddrB, genevePort)); err != nil {
		t.Fatal(err)
	}
	d := receiveN(t, n.sock, 1, 2*time.Second)[0]
	got := udp4Payload(t, n.sock.Frame(d), netip.AddrPortFrom(n.AddrA, 40040), netip.AddrPortFrom(n.AddrB, genevePort))
	if !bytes.Equal(got, payload) {
		t.Fatalf("payload %q", got)
	}
	n.sock.Release([]Desc{d})
	pingFromA(t, n.vethPair)
}

func TestIPv6TunnelTrafficLandsInSocket(t *testing.T) {
	n := newLiveNode(t, SocketConfig{FrameSize: 2048, NumFrames: 64})
	a6, b6 := n.addIPv6(t, 1)
	if err := n.r.SetConfig(RedirectConfig{LocalIPv4: n.AddrB, LocalIPv6: b6, UDPPorts: []uint16{vxlanPort}}); err != nil {
		t.Fatal(err)
	}
	var peer, plain *net.UDPConn
	testenv.InNetns(t, n.HA, func() (err error) {
		peer, err = net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a6, 40050)))
		return err
	})
	defer peer.Close()
	testenv.InNetns(t, n.HB, func() (err error) {
		plain, err = net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(b6, 5000)))
		return err
	})
	defer plain.Close()

	payload := []byte("vxlan over ipv6")
	if _, err := peer.WriteToUDPAddrPort(payload, netip.AddrPortFrom(b6, vxlanPort)); err != nil {
		t.Fatal(err)
	}
	d := receiveN(t, n.sock, 1, 2*time.Second)[0]
	f := n.sock.Frame(d)
	if len(f) != 14+40+8+len(payload) || binary.BigEndian.Uint16(f[12:]) != 0x86dd || f[20] != 17 ||
		netip.AddrFrom16([16]byte(f[38:54])) != b6 || !bytes.HasSuffix(f, payload) {
		t.Fatalf("not the IPv6 UDP frame sent: % x", f)
	}
	n.sock.Release([]Desc{d})

	// The kernel still gets other IPv6 UDP (and the neighbour discovery
	// that made this exchange possible).
	if _, err := peer.WriteToUDPAddrPort([]byte("v6 for the kernel"), netip.AddrPortFrom(b6, 5000)); err != nil {
		t.Fatal(err)
	}
	got, _ := readUDP(t, plain)
	if string(got) != "v6 for the kernel" {
		t.Fatalf("kernel socket got %q", got)
	}
	expectNothing(t, n.sock, 50*time.Millisecond)
}
