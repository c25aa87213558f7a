package linuxio

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/offload"
)

// tcpSynAck answers syn (an IPv4 TCP SYN from the kernel) as the peer
// would: MSS 1460, a 65535-byte window, no other options.
func tcpSynAck(syn []byte) []byte {
	src := netip.AddrFrom4([4]byte(syn[16:20])) // the peer, now the source
	dst := netip.AddrFrom4([4]byte(syn[12:16]))
	t := make([]byte, 24)
	copy(t[0:2], syn[22:24])
	copy(t[2:4], syn[20:22])
	binary.BigEndian.PutUint32(t[4:], 1000)                                  // our ISN
	binary.BigEndian.PutUint32(t[8:], binary.BigEndian.Uint32(syn[24:28])+1) // ack their SYN
	t[12] = 6 << 4                                                           // data offset: 24 bytes
	t[13] = 0x12                                                             // SYN|ACK
	binary.BigEndian.PutUint16(t[14:], 65535)
	copy(t[20:], []byte{2, 4, 0x05, 0xb4}) // MSS 1460
	binary.BigEndian.PutUint16(t[16:], ^fold(sum16(t, pseudoSum(src, dst, 6, len(t)))))
	return append(ipv4Header(src, dst, 6, 20+len(t)), t...)
}

// TestTUNTCPOffloadHeaders lets the kernel open a TCP connection through
// the TUN, answers its SYN through WriteBatch, then checks the data the
// kernel sends: with TSO on, a segment train arrives as one GSO_TCPV4
// super-packet with a partial checksum.
func TestTUNTCPOffloadHeaders(t *testing.T) {
	ns := newTestNS(t, "tuntso")
	tun := openTestTUN(t, ns, TUNOptions{Offloads: true})
	if !tun.Offloads().TSO4 {
		t.Fatalf("TSO4 not in effect: %v", tun.Offloads())
	}
	peer := netip.AddrPortFrom(tunPeer, 80)
	type dialed struct {
		c   net.Conn
		err error
	}
	connc := make(chan dialed, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns.goDo(func(err error) {
		if err != nil {
			connc <- dialed{nil, err}
			return
		}
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp4", peer.String())
		connc <- dialed{c, err}
	})
	syn, hdr := readUntil(t, tun, isIPv4To(6, tunPeer))
	if syn[33]&0x02 == 0 {
		t.Fatalf("first TCP packet is not a SYN: flags %#x", syn[33])
	}
	if hdr.Flags&offload.FlagNeedsCsum == 0 || hdr.CsumStart != 20 || hdr.CsumOffset != 16 || hdr.IsGSO() {
		t.Errorf("SYN virtio-net header %+v: want NEEDS_CSUM at 20+16, no GSO", hdr)
	}
	p := newPacket(128)
	fill(p, tcpSynAck(syn))
	if n, err := tun.WriteBatch([]*dataplane.Packet{p}); n != 1 || err != nil {
		t.Fatalf("write SYN-ACK: %d, %v", n, err)
	}
	d := <-connc
	if d.err != nil {
		t.Fatalf("dial through the TUN: %v", d.err)
	}
	defer d.c.Close()
	// More than the initial window of 10 segments, written at once.
	if _, err := d.c.Write(pattern(5, 20000)); err != nil {
		t.Fatal(err)
	}
	isData := func(p *dataplane.Packet) bool {
		b := p.Bytes()
		return isIPv4To(6, tunPeer)(p) && len(b) > 20+int(b[32]>>4)*4
	}
	data, hdr := readUntil(t, tun, isData)
	tcpHdrLen := int(data[32]>>4) * 4
	payload := len(data) - 20 - tcpHdrLen
	t.Logf("first data packet: %d payload bytes, virtio-net header %+v", payload, hdr)
	if hdr.Flags&offload.FlagNeedsCsum == 0 {
		t.Errorf("data packet without NEEDS_CSUM: %+v", hdr)
	}
	if payload <= 1460 {
		t.Fatalf("first data packet holds %d bytes, one MSS or less: no TSO super-packet", payload)
	}
	if hdr.GSOType&^offload.GSOECN != offload.GSOTCPv4 || hdr.GSOSize == 0 || hdr.GSOSize > 1460 ||
		int(hdr.HdrLen) != 20+tcpHdrLen {
		t.Errorf("super-packet of %d bytes with header %+v: want GSO_TCPV4, 0 < gso_size <= 1460, hdr_len %d",
			payload, hdr, 20+tcpHdrLen)
	}
}
