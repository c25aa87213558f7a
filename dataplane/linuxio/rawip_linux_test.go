package linuxio

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/vishvananda/netlink"
)

var (
	underlayA = netip.MustParseAddr("10.78.0.1")
	underlayB = netip.MustParseAddr("10.78.0.2")
)

// vethPair joins two namespaces with a veth pair, a at 10.78.0.1/24 and b
// at 10.78.0.2/24, both up. The links die with their namespaces.
func vethPair(t *testing.T, a, b *testNS) {
	t.Helper()
	nameA, nameB := testenv.RunPrefix()+"va", testenv.RunPrefix()+"vb"
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: nameA},
		PeerName:      nameB,
		PeerNamespace: netlink.NsFd(b.handle),
	}
	if err := a.nl.LinkAdd(veth); err != nil {
		t.Fatalf("veth: %v", err)
	}
	for _, end := range []struct {
		ns   *testNS
		name string
		addr netip.Addr
	}{{a, nameA, underlayA}, {b, nameB, underlayB}} {
		link, err := end.ns.nl.LinkByName(end.name)
		if err != nil {
			t.Fatal(err)
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: end.addr.AsSlice(), Mask: net.CIDRMask(24, 32)}}
		if err := end.ns.nl.AddrAdd(link, addr); err != nil {
			t.Fatal(err)
		}
		if err := SetLinkUp(end.ns.nl, end.name); err != nil {
			t.Fatal(err)
		}
	}
}

func listenIPIP(t *testing.T, ns *testNS, local netip.Addr) *RawIPPort {
	return listenRawIP(t, ns, local, ProtoIPIP)
}

func listenRawIP(t *testing.T, ns *testNS, local netip.Addr, proto int) *RawIPPort {
	t.Helper()
	var r *RawIPPort
	var err error
	ns.do(t, func() { r, err = ListenIPIP(local, proto) })
	if err != nil {
		t.Fatalf("ListenIPIP(%v): %v", local, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRawIPIPBetweenNamespaces(t *testing.T) {
	nsA, nsB := newTestNS(t, "ipipa"), newTestNS(t, "ipipb")
	vethPair(t, nsA, nsB)
	a, b := listenIPIP(t, nsA, underlayA), listenIPIP(t, nsB, underlayB)
	rawIPIPBothWays(t, a, b)
}

// The same with both sockets outside Go's netpoller, as the polling
// thread uses them.
func TestRawIPIPOutsideTheNetpoller(t *testing.T) {
	nsA, nsB := newTestNS(t, "ipipra"), newTestNS(t, "ipiprb")
	vethPair(t, nsA, nsB)
	var a, b *RawIPPort
	var errA, errB error
	nsA.do(t, func() { a, errA = ListenIPIPRaw(underlayA, ProtoIPIP) })
	nsB.do(t, func() { b, errB = ListenIPIPRaw(underlayB, ProtoIPIP) })
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	defer a.Close()
	defer b.Close()
	rawIPIPBothWays(t, a, b)
}

func rawIPIPBothWays(t *testing.T, a, b *RawIPPort) {
	t.Helper()

	for dir, ends := range [][2]*RawIPPort{{a, b}, {b, a}} {
		src, dst := ends[0], ends[1]
		srcAddr, dstAddr := underlayA, underlayB
		if dir == 1 {
			srcAddr, dstAddr = underlayB, underlayA
		}
		const n = 5
		var inner [][]byte
		pkts := newPackets(n, 2048)
		for i, p := range pkts {
			in := ipv4UDP(netip.MustParseAddrPort("10.244.1.5:1000"), netip.MustParseAddrPort("10.244.2.6:2000"), pattern(dir*10+i, 50+i))
			inner = append(inner, in)
			fill(p, in)
			p.Addr = netip.AddrPortFrom(dstAddr, 0)
		}
		if sent, err := src.WriteBatch(pkts); sent != n || err != nil {
			t.Fatalf("dir %d: WriteBatch = %d, %v", dir, sent, err)
		}
		got, from, _ := readAll(t, dst, n, 2048)
		for i := range n {
			outer := got[i]
			if len(outer) < 20 || outer[0] != 0x45 || outer[9] != ProtoIPIP {
				t.Fatalf("dir %d packet %d: not an IPv4 IPIP packet: % x", dir, i, outer[:min(len(outer), 20)])
			}
			if netip.AddrFrom4([4]byte(outer[12:16])) != srcAddr || netip.AddrFrom4([4]byte(outer[16:20])) != dstAddr {
				t.Errorf("dir %d packet %d: outer %v -> %v", dir, i, outer[12:16], outer[16:20])
			}
			if !bytes.Equal(outer[20:], inner[i]) {
				t.Errorf("dir %d packet %d: inner packet differs", dir, i)
			}
			if from[i] != netip.AddrPortFrom(srcAddr, 0) {
				t.Errorf("dir %d packet %d: Addr %v, want %v", dir, i, from[i], srcAddr)
			}
		}
	}

	// A train becomes one outer packet per segment.
	p := newPacket(300)
	fill(p, pattern(42, 250))
	p.Addr = netip.AddrPortFrom(underlayB, 0)
	p.Segments, p.SegmentSize = 3, 100
	if sent, err := a.WriteBatch([]*dataplane.Packet{p}); sent != 1 || err != nil {
		t.Fatalf("train: WriteBatch = %d, %v", sent, err)
	}
	got, _, _ := readAll(t, b, 3, 2048)
	for i, want := range [][]byte{p.Bytes()[:100], p.Bytes()[100:200], p.Bytes()[200:]} {
		if !bytes.Equal(got[i][20:], want) {
			t.Errorf("train segment %d: %d payload bytes, want %d", i, len(got[i])-20, len(want))
		}
	}
}

// TestRawIPv6in4 carries an IPv6 packet in IPv4 (protocol 41); a port for
// protocol 4 on the same address must not see it.
func TestRawIPv6in4(t *testing.T) {
	nsA, nsB := newTestNS(t, "6in4a"), newTestNS(t, "6in4b")
	vethPair(t, nsA, nsB)
	a, b := listenRawIP(t, nsA, underlayA, ProtoIPv6in4), listenRawIP(t, nsB, underlayB, ProtoIPv6in4)
	other := listenIPIP(t, nsB, underlayB)
	inner := append([]byte{0x60, 0, 0, 0, 0, 8, 17, 64}, make([]byte, 32+8)...) // IPv6 header + 8-byte UDP
	p := newPacket(len(inner))
	fill(p, inner)
	p.Addr = netip.AddrPortFrom(underlayB, 0)
	if n, err := a.WriteBatch([]*dataplane.Packet{p}); n != 1 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	got, from, _ := readAll(t, b, 1, 2048)
	if got[0][9] != ProtoIPv6in4 || !bytes.Equal(got[0][20:], inner) || from[0].Addr() != underlayA {
		t.Errorf("received %d bytes, protocol %d, from %v", len(got[0]), got[0][9], from[0])
	}
	// The IPIP port shares the address but not the protocol: nothing for it.
	// A marker IPIP packet sent afterwards must be the first it reads.
	ipip := listenIPIP(t, nsA, underlayA)
	fill(p, ipv4UDP(netip.MustParseAddrPort("10.244.1.5:1"), netip.MustParseAddrPort("10.244.2.6:2"), []byte("marker")))
	p.Addr = netip.AddrPortFrom(underlayB, 0)
	if n, err := ipip.WriteBatch([]*dataplane.Packet{p}); n != 1 || err != nil {
		t.Fatalf("IPIP WriteBatch = %d, %v", n, err)
	}
	got, _, _ = readAll(t, other, 1, 2048)
	if got[0][9] != ProtoIPIP || !bytes.HasSuffix(got[0], []byte("marker")) {
		t.Errorf("IPIP port read protocol %d first (%d bytes), want the IPIP marker", got[0][9], len(got[0]))
	}
}

func TestRawIPCloseUnblocksReader(t *testing.T) {
	ns := newTestNS(t, "ipipc")
	r := listenIPIP(t, ns, netip.MustParseAddr("127.0.0.1"))
	errc := make(chan error, 1)
	go func() {
		_, err := r.ReadBatch(newPackets(2, 2048))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the reader park; the result does not depend on it
	r.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) || !errors.Is(err, dataplane.ErrPortClosed) {
			t.Fatalf("ReadBatch after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadBatch still blocked 5s after Close")
	}
}

func TestListenIPIPRejectsIPv6Outer(t *testing.T) {
	if _, err := ListenIPIP(netip.MustParseAddr("fd00::1"), ProtoIPv6in4); !errors.Is(err, ErrNoAddr) {
		t.Errorf("ListenIPIP(IPv6) = %v, want ErrNoAddr", err)
	}
}
