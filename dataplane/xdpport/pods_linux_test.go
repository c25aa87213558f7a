package xdpport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/xdp"
)

// podLink is one "pod": a veth pair whose node side has an AF_XDP socket
// fed by a redirect program (UDP to the node side's address, port 4789,
// stands in for "traffic to a remote pod").
type podLink struct {
	*link
	sock *xdp.Socket
}

func newPodLink(t *testing.T) *podLink {
	t.Helper()
	l := &podLink{link: newLink(t)}
	r, err := xdp.NewRedirect(redirectTo(l.AddrB, 4789), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var att *xdp.Attachment
	testenv.InNetns(t, l.HB, func() (err error) {
		if l.sock, err = xdp.Open(l.IdxB, 0, xdp.SocketConfig{FrameSize: 2048, NumFrames: 512}); err != nil {
			return err
		}
		att, err = r.Attach(l.IdxB, xdp.AttachOptions{})
		return err
	})
	t.Cleanup(func() { att.Close() })
	if err := r.Register(l.sock); err != nil {
		t.Fatal(err)
	}
	return l
}

func readPods(t *testing.T, ps *PodSet, pkts []*dataplane.Packet, want int) [][]byte {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	var got [][]byte
	deadline := time.After(3 * time.Second)
	for len(got) < want {
		done := make(chan result, 1)
		go func() {
			n, err := ps.ReadBatch(pkts)
			done <- result{n, err}
		}()
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatal(r.err)
			}
			for _, p := range pkts[:r.n] {
				got = append(got, append([]byte(nil), p.Bytes()...))
				if p.Start < 256 {
					t.Errorf("packet starts at %d of its frame: no headroom for encapsulation", p.Start)
				}
			}
		case <-deadline:
			ps.Close()
			<-done
			t.Fatalf("read %d packets, want %d", len(got), want)
		}
	}
	return got
}

// Two pods send; one ReadBatch loop gets both as IP packets with a hop
// taken off and full checksums; a packet written to each pod's address
// arrives in that pod's UDP socket.
func TestPodSetReadsAndDeliversPerPod(t *testing.T) {
	ps, pods, _ := newPodSetOver(t, 2)
	for i, p := range pods {
		c := p.udpOn(t, true, 40000)
		if _, err := c.WriteToUDPAddrPort([]byte{byte(i), 'x', 'y'}, netip.AddrPortFrom(p.AddrB, 4789)); err != nil {
			t.Fatal(err)
		}
	}
	got := readPods(t, ps, newPackets(16), 2)
	for _, pkt := range got {
		if pkt[0]>>4 != 4 || pkt[8] != 63 {
			t.Errorf("packet % x: want IPv4 with TTL 63", pkt[:12])
		}
		ihl := int(pkt[0]&15) * 4
		l4 := pkt[ihl:]
		pseudo := encap.PseudoHeader4([4]byte(pkt[12:16]), [4]byte(pkt[16:20]), 17, len(l4))
		if c := encap.Checksum(l4, pseudo); c != 0 {
			t.Errorf("UDP checksum does not verify (residue %#x): the partial checksum was not completed", c)
		}
	}

	// Delivery: a packet for each pod, from a "remote pod" address.
	var out []*dataplane.Packet
	conns := make([]interface {
		ReadFromUDPAddrPort([]byte) (int, netip.AddrPort, error)
	}, len(pods))
	for i, p := range pods {
		c := p.udpOn(t, true, 5000)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		conns[i] = c
		out = append(out, toPod(t, p, 5000, []byte{'t', 'o', byte(i)}))
	}
	if n, err := ps.WriteBatch(out); n != 2 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	for i, c := range conns {
		buf := make([]byte, 100)
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil || !bytes.Equal(buf[:n], []byte{'t', 'o', byte(i)}) {
			t.Errorf("pod %d received %q, %v", i, buf[:n], err)
		}
	}

	// A pod that leaves: its address is no longer reached, a write to it
	// is counted, and the set keeps reading the other pod.
	ps.RemoveSocket(podKey(0))
	if ps.Reaches(pods[0].AddrA) || !ps.Reaches(pods[1].AddrA) {
		t.Fatal("Reaches after RemoveSocket is wrong")
	}
	if n, err := ps.WriteBatch(out[:1]); n != 0 || !errors.Is(err, ErrPodUnreachable) {
		t.Errorf("write to a removed pod = %d, %v", n, err)
	}
	c := pods[1].udpOn(t, true, 40001)
	if _, err := c.WriteToUDPAddrPort([]byte("still here"), netip.AddrPortFrom(pods[1].AddrB, 4789)); err != nil {
		t.Fatal(err)
	}
	readPods(t, ps, newPackets(16), 1)
	if ps.nRetired.Load() != 0 {
		t.Error("the removed socket was not closed by the reader")
	}
}

// podKey names the socket of pods[i] in a set: each veth pair lives in
// namespaces of its own, where ifindexes repeat, and the set only uses
// them as names, so the tests number them apart.
func podKey(i int) int { return 1000 + i }

// newPodSetOver makes n pods and a PodSet serving all of them, with a
// route to each; the set is closed when the test ends.
func newPodSetOver(t *testing.T, n int) (*PodSet, []*podLink, []PodRoute) {
	t.Helper()
	ps, err := NewPodSet("pods", 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	var pods []*podLink
	var routes []PodRoute
	for i := range n {
		p := newPodLink(t)
		if err := ps.AddSocket(podKey(i), p.IfB, p.sock); err != nil {
			t.Fatal(err)
		}
		pods = append(pods, p)
		routes = append(routes, PodRoute{Addr: p.AddrA, Ifindex: podKey(i), PodMAC: [6]byte(p.MACA), GatewayMAC: [6]byte(p.MACB)})
	}
	if err := ps.SetRoutes(routes); err != nil {
		t.Fatal(err)
	}
	return ps, pods, routes
}

// toPod is a UDP datagram to p's port dport from the node side's address,
// in a buffer with headroom, as the engine hands it to the set.
func toPod(t testing.TB, p *podLink, dport uint16, payload []byte) *dataplane.Packet {
	pkt := podPacket(t, false, layers.IPProtocolUDP, 63, payload)
	copy(pkt[16:20], p.AddrA.AsSlice())
	copy(pkt[12:16], p.AddrB.AsSlice())
	fixIPv4AndUDP(pkt, dport)
	buf := make([]byte, 128+len(pkt))
	copy(buf[128:], pkt)
	return &dataplane.Packet{Buf: buf, Start: 128, End: len(buf)}
}

// fixIPv4AndUDP sets the UDP destination port and recomputes both
// checksums of an IPv4/UDP packet whose addresses were changed.
func fixIPv4AndUDP(pkt []byte, dport uint16) {
	binary.BigEndian.PutUint16(pkt[10:], 0)
	binary.BigEndian.PutUint16(pkt[10:], encap.Checksum(pkt[:20], 0))
	udp := pkt[20:]
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[6:], 0)
	binary.BigEndian.PutUint16(udp[6:], encap.Checksum(udp, encap.PseudoHeader4([4]byte(pkt[12:16]), [4]byte(pkt[16:20]), 17, len(udp))))
}

func TestPodSetCloseWakesReader(t *testing.T) {
	p := newPodLink(t)
	ps, err := NewPodSet("pods", 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.AddSocket(p.IdxB, p.IfB, p.sock); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ps.ReadBatch(newPackets(8))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := ps.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, dataplane.ErrPortClosed) {
			t.Errorf("ReadBatch after Close: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not wake the reader")
	}
}

func TestPodSetWriteAllocatesNothing(t *testing.T) {
	p := newPodLink(t)
	ps, err := NewPodSet("pods", 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	if err := ps.AddSocket(p.IdxB, p.IfB, p.sock); err != nil {
		t.Fatal(err)
	}
	if err := ps.SetRoutes([]PodRoute{{Addr: p.AddrA, Ifindex: p.IdxB}}); err != nil {
		t.Fatal(err)
	}
	pkt := podPacket(t, false, layers.IPProtocolUDP, 63, make([]byte, 100))
	copy(pkt[16:20], p.AddrA.AsSlice())
	buf := make([]byte, 128+len(pkt))
	batch := []*dataplane.Packet{{Buf: buf, Start: 128, End: len(buf)}}
	allocs := testing.AllocsPerRun(100, func() {
		copy(buf[128:], pkt)
		if n, err := ps.WriteBatch(batch); n != 1 {
			t.Fatalf("WriteBatch = %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("WriteBatch: %.1f allocations, want 0", allocs)
	}
}
