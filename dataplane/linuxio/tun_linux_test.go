package linuxio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/vishvananda/netlink"
)

var (
	tunLocal = netip.MustParseAddr("10.77.0.1")
	tunPeer  = netip.MustParseAddr("10.77.0.2")
)

// openTestTUN creates a TUN in ns with 10.77.0.1/24, MTU 1500, up: the
// kernel routes 10.77.0.0/24 through it.
func openTestTUN(t *testing.T, ns *testNS, opts TUNOptions) *TUN {
	t.Helper()
	var tun *TUN
	var err error
	name := testenv.RunPrefix() + "t"
	ns.do(t, func() { tun, err = OpenTUN(name, opts) })
	if err != nil {
		t.Fatalf("OpenTUN: %v", err)
	}
	t.Cleanup(func() { tun.Close() })
	if tun.Name() != name {
		t.Fatalf("device named %q, want %q", tun.Name(), name)
	}
	configureTestLink(t, ns, name)
	return tun
}

func configureTestLink(t *testing.T, ns *testNS, name string) {
	t.Helper()
	if err := SetLinkMTU(ns.nl, name, 1500); err != nil {
		t.Fatal(err)
	}
	link, err := ns.nl.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: tunLocal.AsSlice(), Mask: net.CIDRMask(24, 32)}}
	if err := ns.nl.AddrAdd(link, addr); err != nil {
		t.Fatal(err)
	}
	// No IPv6 on the test link: router solicitations and MLD reports would
	// be extra packets in the reads. /proc/sys/net is per namespace of the
	// thread that opens it.
	ns.do(t, func() {
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0)
	})
	if err := SetLinkUp(ns.nl, name); err != nil {
		t.Fatal(err)
	}
}

// readUntil reads from port until match accepts a packet (skipping e.g.
// IPv6 router solicitations the kernel sends on a new link) and returns a
// copy of it with its virtio-net header.
func readUntil(t *testing.T, port dataplane.Port, match func(p *dataplane.Packet) bool) ([]byte, offload.VirtioNetHdr) {
	t.Helper()
	type result struct {
		data []byte
		hdr  offload.VirtioNetHdr
		err  error
	}
	done := make(chan result, 1)
	go func() {
		pkts := newPackets(port.BatchSize(), 65535)
		for {
			n, err := port.ReadBatch(pkts)
			if err != nil {
				done <- result{err: err}
				return
			}
			for _, p := range pkts[:n] {
				if match(p) {
					done <- result{data: append([]byte(nil), p.Bytes()...), hdr: p.GSO}
					return
				}
			}
		}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("ReadBatch: %v", r.err)
		}
		return r.data, r.hdr
	case <-time.After(10 * time.Second):
		port.Close()
		t.Fatal("expected packet did not arrive within 10s")
	}
	return nil, offload.VirtioNetHdr{}
}

func isIPv4To(proto uint8, dst netip.Addr) func(p *dataplane.Packet) bool {
	return func(p *dataplane.Packet) bool {
		b := p.Bytes()
		return len(b) >= 20 && b[0]>>4 == 4 && b[9] == proto && netip.AddrFrom4([4]byte(b[16:20])) == dst
	}
}

func TestTUNReadsKernelPacket(t *testing.T) {
	for _, offloads := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "vnet-hdr"}[offloads], func(t *testing.T) {
			ns := newTestNS(t, "tunr")
			tun := openTestTUN(t, ns, TUNOptions{Offloads: offloads})
			t.Logf("offloads: %v", tun.Offloads())
			if tun.Offloads().VnetHdr != offloads {
				t.Fatalf("Offloads() = %v", tun.Offloads())
			}
			sock := plainUDP(t, ns, "10.77.0.1:5555")
			payload := pattern(1, 300)
			dst := netip.AddrPortFrom(tunPeer, 9999)
			if _, err := sock.WriteToUDPAddrPort(payload, dst); err != nil {
				t.Fatal(err)
			}
			got, hdr := readUntil(t, tun, isIPv4To(17, tunPeer))
			want := ipv4UDP(netip.AddrPortFrom(tunLocal, 5555), dst, payload)
			if len(got) != len(want) {
				t.Fatalf("packet of %d bytes, want %d", len(got), len(want))
			}
			if offloads && hdr.Flags&offload.FlagNeedsCsum != 0 {
				if hdr.CsumStart != 20 || hdr.CsumOffset != 6 {
					t.Errorf("NEEDS_CSUM at %d+%d, want 20+6", hdr.CsumStart, hdr.CsumOffset)
				}
				completePartialCsum(got, int(hdr.CsumStart), int(hdr.CsumOffset))
			}
			if !l4ChecksumOK(got) {
				t.Errorf("UDP checksum invalid (vnet hdr %+v)", hdr)
			}
			// Identification and header checksum are the kernel's choice;
			// every other byte is fixed by what we sent.
			for _, i := range []int{4, 5, 10, 11, 26, 27} {
				got[i], want[i] = 0, 0
			}
			if !bytes.Equal(got, want) {
				t.Errorf("packet differs:\n got % x\nwant % x", got, want)
			}
		})
	}
}

func TestTUNWriteDeliversToSocket(t *testing.T) {
	for _, offloads := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "vnet-hdr"}[offloads], func(t *testing.T) {
			ns := newTestNS(t, "tunw")
			tun := openTestTUN(t, ns, TUNOptions{Offloads: offloads})
			sock := plainUDP(t, ns, "10.77.0.1:6666")
			src := netip.AddrPortFrom(tunPeer, 7777)
			pkts := newPackets(3, 2048)
			for i, p := range pkts {
				fill(p, ipv4UDP(src, netip.AddrPortFrom(tunLocal, 6666), pattern(i, 100+i)))
			}
			if n, err := tun.WriteBatch(pkts); n != 3 || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			buf := make([]byte, 2048)
			sock.SetReadDeadline(time.Now().Add(5 * time.Second))
			for i := range 3 {
				n, from, err := sock.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatalf("datagram %d: %v", i, err)
				}
				if from != src || !bytes.Equal(buf[:n], pattern(i, 100+i)) {
					t.Errorf("datagram %d: %d bytes from %v", i, n, from)
				}
			}
		})
	}
}

// TestTUNWriteUDPGSOTrain writes one UDP super-packet with a virtio-net
// header (GSO_UDP_L4, partial checksum); the kernel must segment it and
// deliver each datagram to a socket that does not ask for GRO.
func TestTUNWriteUDPGSOTrain(t *testing.T) {
	ns := newTestNS(t, "tunuso")
	tun := openTestTUN(t, ns, TUNOptions{Offloads: true})
	sock := plainUDP(t, ns, "10.77.0.1:6667")
	src, dst := netip.AddrPortFrom(tunPeer, 7778), netip.AddrPortFrom(tunLocal, 6667)
	const segs, size = 4, 1000
	payload := pattern(9, segs*size)
	pkt := ipv4UDP(src, dst, payload)
	// Replace the full checksum with the pseudo-header sum the kernel
	// completes per segment.
	binary.BigEndian.PutUint16(pkt[26:], fold(pseudoSum(src.Addr(), dst.Addr(), 17, 8+len(payload))))
	p := newPacket(len(pkt))
	fill(p, pkt)
	p.GSO = offload.VirtioNetHdr{
		Flags: offload.FlagNeedsCsum, GSOType: offload.GSOUDPL4,
		HdrLen: 28, GSOSize: size, CsumStart: 20, CsumOffset: 6,
	}
	if n, err := tun.WriteBatch([]*dataplane.Packet{p}); n != 1 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	buf := make([]byte, 65536)
	sock.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range segs {
		n, _, err := sock.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], payload[i*size:(i+1)*size]) {
			t.Errorf("segment %d: %d bytes, contents differ", i, n)
		}
	}
}

func TestTUNCloseUnblocksReader(t *testing.T) {
	ns := newTestNS(t, "tunc")
	var tun *TUN
	var err error
	ns.do(t, func() { tun, err = OpenTUN(testenv.RunPrefix()+"t", TUNOptions{Offloads: true}) })
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := tun.ReadBatch(newPackets(4, MaxTUNPacketSize))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the reader park; the result does not depend on it
	if err := tun.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrClosed) || !errors.Is(err, dataplane.ErrPortClosed) {
			t.Fatalf("ReadBatch after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadBatch still blocked 5s after Close")
	}
	// Not persistent: the device is gone with its fd.
	if _, err := ns.nl.LinkByName(tun.Name()); err == nil {
		t.Errorf("device %s still exists after Close", tun.Name())
	}
}

func TestTUNHeadroomChecked(t *testing.T) {
	ns := newTestNS(t, "tunh")
	tun := openTestTUN(t, ns, TUNOptions{Offloads: true})
	p := &dataplane.Packet{Buf: make([]byte, 100)}
	p.Reset(4)
	p.SetLen(20)
	if _, err := tun.WriteBatch([]*dataplane.Packet{p}); !errors.Is(err, ErrNoHeadroom) {
		t.Errorf("WriteBatch with 4 bytes of headroom: %v, want ErrNoHeadroom", err)
	}
	if _, err := tun.ReadBatch([]*dataplane.Packet{p}); !errors.Is(err, ErrNoHeadroom) {
		t.Errorf("ReadBatch with 4 bytes of headroom: %v, want ErrNoHeadroom", err)
	}
	if _, err := tun.ReadBatch(newPackets(1, 1500)); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("ReadBatch with 1500 bytes of room and TSO on: %v, want ErrShortBuffer", err)
	}
}
