package offload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/internal/testenv"
)

// TestKernelTUN holds both directions against the kernel's own TUN driver,
// which no one here wrote: in a fresh network namespace, a TUN with
// IFF_VNET_HDR and TSO offloads stands in for a remote TCP peer. Segments
// coalesced by Coalesce must be accepted and delivered to a socket intact,
// and the super-packets the kernel sends must segment into valid segments
// carrying exactly the bytes written.
func TestKernelTUN(t *testing.T) {
	testenv.RequireRoot(t)
	defer enterFreshNetns(t)()
	tun := openTUN(t, testenv.RunPrefix()+"off")
	defer tun.Close()
	ln, err := net.Listen("tcp4", "10.9.0.1:5201")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	p := &fakePeer{t: t, tun: tun, seq: 1000}
	conn := p.handshake(ln)
	defer conn.Close()

	// Direction 1: our GRO output into the kernel.
	const segs, mss = 20, 1400
	want := payloadBytes(segs*mss, 11)
	var pkts [][]byte
	for i := 0; i < segs; i++ {
		pkts = append(pkts, p.segment(want[i*mss:(i+1)*mss], i == segs-1))
	}
	c := NewCoalescer(segs)
	outs := outBufs(1)
	res, err := c.Coalesce(pkts, outs)
	if err != nil || len(res) != 1 || res[0].Segments != segs {
		t.Fatalf("coalesce: %v %v", res, err)
	}
	if _, err := tun.Write(outs[0][:res[0].Len]); err != nil {
		t.Fatalf("kernel refused the merged super-packet: %v", err)
	}
	got := make([]byte, len(want))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatalf("socket read after writing the super-packet: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("socket received different bytes than were coalesced")
	}

	// Direction 2: the kernel's GSO output through Segment.
	sent := payloadBytes(30000, 29)
	go func() { _, _ = conn.Write(sent) }()
	received, sawGSO := p.collect(len(sent))
	if !sawGSO {
		t.Fatal("the kernel sent no GSO super-packet; Segment was not exercised")
	}
	if !bytes.Equal(received, sent) {
		t.Fatal("segmented kernel super-packets carry different bytes than written")
	}
}

// enterFreshNetns locks the goroutine to its thread and moves the thread
// into a new, anonymous network namespace (gone once nothing holds it). The
// returned function moves the thread back; it must be deferred.
func enterFreshNetns(t *testing.T) (restore func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	ns, err := netns.New() // also switches this thread into it
	if err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	return func() {
		ns.Close()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread() // else the thread dies with the goroutine
		}
		orig.Close()
	}
}

func openTUN(t *testing.T, name string) *os.File {
	t.Helper()
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		t.Fatal(err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		t.Fatalf("TUNSETIFF: %v", err)
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, unix.TUN_F_CSUM|unix.TUN_F_TSO4|unix.TUN_F_TSO6|unix.TUN_F_USO4|unix.TUN_F_USO6); err != nil {
		unix.Close(fd)
		t.Fatalf("TUNSETOFFLOAD: %v", err)
	}
	f := os.NewFile(uintptr(fd), name)
	link, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetUp(link)
	}
	if err == nil {
		addr, _ := netlink.ParseAddr("10.9.0.1/24")
		err = netlink.AddrAdd(link, addr)
	}
	if err != nil {
		f.Close()
		t.Fatal(err)
	}
	return f
}

// fakePeer plays 10.9.0.2:40000, a TCP endpoint behind the TUN, with
// packets built by gopacket.
type fakePeer struct {
	t        *testing.T
	tun      *os.File
	seq, ack uint32
	buf      [70000]byte
}

func (p *fakePeer) build(payload []byte, syn, psh bool) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Flags: layers.IPv4DontFragment,
		SrcIP: net.IPv4(10, 9, 0, 2).To4(), DstIP: net.IPv4(10, 9, 0, 1).To4()}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 5201, Seq: p.seq, Ack: p.ack, SYN: syn, ACK: !syn, PSH: psh, Window: 1024}
	if syn {
		tcp.Window = 65535
		tcp.Options = []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
			{OptionType: layers.TCPOptionKindNop}}
	}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip, tcp, gopacket.Payload(payload)); err != nil {
		p.t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// segment returns the next data segment and advances the sequence number.
func (p *fakePeer) segment(payload []byte, psh bool) []byte {
	b := p.build(payload, false, psh)
	p.seq += uint32(len(payload))
	return b
}

func (p *fakePeer) write(pkt []byte) {
	b := append(make([]byte, VirtioNetHdrLen), pkt...) // zero header: plain packet
	if _, err := p.tun.Write(b); err != nil {
		p.t.Fatalf("tun write: %v", err)
	}
}

// read returns the next TCP packet for our port and its virtio_net_hdr,
// skipping anything else the kernel sends on the TUN.
func (p *fakePeer) read(deadline time.Time) ([]byte, VirtioNetHdr) {
	_ = p.tun.SetReadDeadline(deadline)
	for {
		n, err := p.tun.Read(p.buf[:])
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				p.t.Fatal("timed out reading from the TUN")
			}
			p.t.Fatal(err)
		}
		var hdr VirtioNetHdr
		if hdr.Decode(p.buf[:n]) != nil {
			continue
		}
		pkt := p.buf[VirtioNetHdrLen:n]
		if len(pkt) >= 40 && pkt[0] == 0x45 && pkt[9] == encap.ProtoTCP && binary.BigEndian.Uint16(pkt[22:]) == 40000 {
			return pkt, hdr
		}
	}
}

func (p *fakePeer) handshake(ln net.Listener) net.Conn {
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	p.write(p.build(nil, true, false))
	synAck, _ := p.read(time.Now().Add(5 * time.Second))
	if synAck[33]&0x12 != 0x12 {
		p.t.Fatalf("expected SYN-ACK, got flags %#x", synAck[33])
	}
	p.seq++
	p.ack = binary.BigEndian.Uint32(synAck[24:]) + 1
	p.write(p.build(nil, false, false))
	select {
	case c, ok := <-accepted:
		if !ok {
			p.t.Fatal("accept failed")
		}
		return c
	case <-time.After(5 * time.Second):
		p.t.Fatal("handshake did not complete")
	}
	return nil
}

// collect reads the kernel's data segments until n bytes arrived in order,
// splitting GSO super-packets with Segment, checking every segment and
// acknowledging what arrived so that the kernel's window keeps opening.
func (p *fakePeer) collect(n int) (data []byte, sawGSO bool) {
	outs, sizes := segBufs(64, 2000)
	base := p.ack
	deadline := time.Now().Add(5 * time.Second)
	for len(data) < n {
		pkt, hdr := p.read(deadline)
		k, err := Segment(pkt, &hdr, outs, 0, sizes)
		if err != nil {
			p.t.Fatalf("Segment on a kernel packet (hdr %+v): %v", hdr, err)
		}
		if hdr.IsGSO() {
			sawGSO = true
		}
		for i := 0; i < k; i++ {
			seg := outs[i][:sizes[i]]
			if !refL4Valid(seg) || refChecksum(seg[:20]) != 0 || !gopacketTCPValid(p.t, seg) {
				p.t.Fatalf("segment %d of a kernel packet has a bad checksum", i)
			}
			hl := 20 + int(seg[32]>>4)*4
			if seq := binary.BigEndian.Uint32(seg[24:]); seq == base+uint32(len(data)) {
				data = append(data, seg[hl:]...)
			}
		}
		p.ack = base + uint32(len(data))
		p.write(p.build(nil, false, false))
	}
	return data, sawGSO
}

// TestKernelTUNUDPSegment sends one UDP_SEGMENT (USO) write through the
// kernel to the TUN and checks that Segment splits the GSO_UDP_L4
// super-packet the kernel hands over into valid datagrams with the bytes
// written.
func TestKernelTUNUDPSegment(t *testing.T) {
	testenv.RequireRoot(t)
	defer enterFreshNetns(t)()
	tun := openTUN(t, testenv.RunPrefix()+"uso")
	defer tun.Close()

	const size, gso = 5000, 1000
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_SEGMENT, gso); err != nil {
		t.Fatalf("UDP_SEGMENT: %v", err)
	}
	sent := payloadBytes(size, 3)
	if err := unix.Sendto(fd, sent, 0, &unix.SockaddrInet4{Port: 4789, Addr: [4]byte{10, 9, 0, 2}}); err != nil {
		t.Fatal(err)
	}
	var buf [70000]byte
	_ = tun.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, err := tun.Read(buf[:])
		if err != nil {
			t.Fatalf("reading the TUN: %v", err)
		}
		var hdr VirtioNetHdr
		_ = hdr.Decode(buf[:n])
		pkt := buf[VirtioNetHdrLen:n]
		if len(pkt) < 28 || pkt[0] != 0x45 || pkt[9] != encap.ProtoUDP || binary.BigEndian.Uint16(pkt[22:]) != 4789 {
			continue
		}
		if hdr.GSOType != GSOUDPL4 || hdr.GSOSize != gso {
			t.Fatalf("kernel sent %+v, not one GSO_UDP_L4 super-packet", hdr)
		}
		outs, sizes := segBufs(8, 1100)
		k, err := Segment(pkt, &hdr, outs, 0, sizes)
		if err != nil || k != size/gso {
			t.Fatalf("Segment: %d segments, %v", k, err)
		}
		var got []byte
		for i := 0; i < k; i++ {
			seg := outs[i][:sizes[i]]
			if !refL4Valid(seg) || refChecksum(seg[:20]) != 0 || int(binary.BigEndian.Uint16(seg[24:])) != len(seg)-20 {
				t.Fatalf("datagram %d: bad checksum or UDP length", i)
			}
			got = append(got, seg[28:]...)
		}
		if !bytes.Equal(got, sent) {
			t.Fatal("segmented datagrams carry different bytes than written")
		}
		return
	}
}
