package linuxio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/internal/testenv"
	"golang.org/x/sys/unix"
)

// A kernel that refuses the tunnel offload bits gets a clear error, and
// the TAP it had created is gone.
func TestTunnelTAPRefusedLeavesNothing(t *testing.T) {
	ns := newTestNS(t, "tapno")
	ns.do(t, func() {
		_, err := OpenTunnelTAP("tgno0", TunnelTAPOptions{SetOffload: func(int, int) error { return unix.EINVAL }})
		if !errors.Is(err, ErrTunnelGSOUnsupported) || !errors.Is(err, unix.EINVAL) {
			t.Errorf("open with the offload refused: %v; want ErrTunnelGSOUnsupported wrapping EINVAL", err)
		}
	})
	if _, err := ns.nl.LinkByName("tgno0"); err == nil {
		t.Error("the refused TAP was left behind")
	}
}

// With a strict host-wide reverse-path filter the kernel would drop every
// frame (its source is our own address): refused up front, nothing
// created. A loose one (systemd's default) is met by giving the TAP the
// node's address, and frames get through.
func TestTunnelTAPUnderHostRPFilter(t *testing.T) {
	ns := newTestNS(t, "taprpf")
	ns.do(t, func() {
		if err := os.WriteFile("/proc/sys/net/ipv4/conf/all/rp_filter", []byte("1"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenTunnelTAP("tgrpf0", TunnelTAPOptions{LocalAddr: underlayA}); !errors.Is(err, ErrTunnelGSOUnsupported) {
			t.Errorf("open under rp_filter=1: %v; want ErrTunnelGSOUnsupported", err)
		}
	})
	if _, err := ns.nl.LinkByName("tgrpf0"); err == nil {
		t.Error("a TAP was created although it cannot be used")
	}
	a, b := newTestNS(t, "taprpfa"), newTestNS(t, "taprpfb")
	vethPair(t, a, b)
	a.do(t, func() {
		_ = os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0)
		if err := os.WriteFile("/proc/sys/net/ipv4/conf/all/rp_filter", []byte("2"), 0); err != nil {
			t.Fatal(err)
		}
	})
	got := sendThroughTAP(t, a, b, TunnelTAPOptions{LocalAddr: underlayA}, innerTCPSuper(t, 5000))
	if len(got) != 1 {
		t.Fatalf("under rp_filter=2: %d datagrams arrived, want the frame", len(got))
	}
}

// sendThroughTAP opens a TunnelTAP in a, writes one VXLAN frame carrying
// inner toward b and returns the datagrams b's socket on port 4789 reads
// within a second.
func sendThroughTAP(t *testing.T, a, b *testNS, opts TunnelTAPOptions, inner []byte) [][]byte {
	t.Helper()
	// A veth just brought up drops what it is given until the kernel's
	// link watch activates its queue (up to a second later), and the
	// frame below is sent once: wait until a ping crosses.
	testenv.WaitFor(t, 5*time.Second, "a ping from "+a.name+" to "+underlayB.String(), func() error {
		out, err := exec.Command("ip", "netns", "exec", a.name, "ping", "-c1", "-W1", underlayB.String()).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	var sock *net.UDPConn
	b.do(t, func() {
		var err error
		if sock, err = net.ListenUDP("udp4", &net.UDPAddr{IP: underlayB.AsSlice(), Port: 4789}); err != nil {
			t.Fatal(err)
		}
	})
	defer sock.Close()
	var tap *TunnelTAP
	a.do(t, func() {
		var err error
		if tap, err = OpenTunnelTAP("tgs0", opts); err != nil {
			t.Fatal(err)
		}
	})
	defer tap.Close()
	p, hdr := tunnelFrame(t, tap.MAC(), inner)
	p.GSO = hdr
	if n, err := tap.WriteBatch([]*dataplane.Packet{p}); n != 1 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	var got [][]byte
	buf := make([]byte, 70000)
	for {
		_ = sock.SetReadDeadline(time.Now().Add(time.Second))
		n, err := sock.Read(buf)
		if err != nil {
			return got
		}
		got = append(got, append([]byte(nil), buf[:n]...))
	}
}

// The real kernel takes a whole VXLAN super-packet written to the TAP,
// forwards it out of the node and, over a veth, delivers it unsegmented to
// the peer's UDP socket; with checksum offload off on the veth (so no
// segmentation offload either) it cuts it into datagrams that fit the MTU
// and computes each inner TCP checksum in software from our header: every
// one must verify.
func TestTunnelTAPForwardsSuperPackets(t *testing.T) {
	for _, segment := range []bool{false, true} {
		suffix := map[bool]string{false: "w", true: "s"}[segment]
		a, b := newTestNS(t, "tapa"+suffix), newTestNS(t, "tapb"+suffix)
		vethPair(t, a, b)
		a.do(t, func() {
			if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0); err != nil {
				t.Fatal(err)
			}
		})
		if segment {
			testenv.RequireTools(t, "ethtool")
			out, err := exec.Command("ip", "netns", "exec", a.name, "ethtool", "-K", testenv.RunPrefix()+"va",
				"tx-checksumming", "off").CombinedOutput()
			if err != nil {
				t.Fatalf("ethtool: %v: %s", err, out)
			}
		}
		inner := innerTCPSuper(t, 20000)
		got := sendThroughTAP(t, a, b, TunnelTAPOptions{}, inner)
		if !segment {
			if len(got) != 1 || !bytes.Equal(got[0][8+14:], inner) {
				t.Errorf("unsegmented: %d datagrams; want one carrying the inner packet unchanged", len(got))
			}
			continue
		}
		if len(got) != 15 { // 20000 bytes at MSS 1400
			t.Errorf("segmented: %d datagrams, want 15", len(got))
		}
		for i, d := range got {
			if len(d) > 1500-28 {
				t.Errorf("datagram %d is %d bytes, beyond the MTU", i, len(d))
			}
			if offload.CheckL4(d[8+14:]) != offload.L4Valid {
				t.Errorf("datagram %d: inner TCP checksum not valid", i)
			}
		}
	}
}

// innerTCPSuper is an IPv4 TCP packet with payload bytes and a partial
// checksum, as a pod's kernel hands a GSO packet to the TUN.
func innerTCPSuper(t *testing.T, payload int) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 63, Protocol: layers.IPProtocolTCP, Flags: layers.IPv4DontFragment,
		SrcIP: net.IP{10, 244, 1, 2}, DstIP: net.IP{10, 244, 2, 2}}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 5201, Seq: 7, ACK: true, Ack: 1, Window: 500}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip, tcp, gopacket.Payload(pattern(3, payload))); err != nil {
		t.Fatal(err)
	}
	pkt := buf.Bytes()
	pseudo := encap.PseudoHeader4([4]byte(pkt[12:16]), [4]byte(pkt[16:20]), 6, len(pkt)-20)
	binary.BigEndian.PutUint16(pkt[36:], uint16(encap.Fold(pseudo)))
	return pkt
}

// tunnelFrame lays out Ethernet/IPv4/UDP/VXLAN/Ethernet in front of inner
// in a packet with the dataplane's headroom, with the virtio header a
// sender of UDP-tunnel GSO gives it.
func tunnelFrame(t *testing.T, tapMAC [6]byte, inner []byte) (*dataplane.Packet, offload.VirtioNetHdr) {
	t.Helper()
	p := newPacket(len(inner) + 200)
	p.SetLen(copy(p.Buf[p.Start:], inner))
	params := encap.Params{Kind: encap.KindVXLAN, VNI: 1, InnerDstMAC: [6]byte{2, 0, 0, 0, 0, 2}, InnerSrcMAC: [6]byte{2, 0, 0, 0, 0, 1}}
	outer := encap.Outer{Src: underlayA, Dst: underlayB}
	innerStart := p.Start
	start, r := encap.PrependTunnel(p.Buf, p.Start, p.End, &params)
	if r == encap.DropNone {
		start, r = encap.PrependOuter(p.Buf, start, p.End, &params, &outer, inner, encap.FlowHash(inner))
	}
	if r == encap.DropNone {
		start, r = encap.PrependEthernet(p.Buf, start, tapMAC, [6]byte{2, 0, 0, 0, 0, 9}, encap.EtherTypeIPv4)
	}
	if r != encap.DropNone {
		t.Fatal(r)
	}
	p.Start = start
	off := uint16(innerStart - start)
	return p, offload.VirtioNetHdr{
		Flags: offload.FlagNeedsCsum, GSOType: offload.GSOTCPv4 | offload.GSOUDPTunnelIPv4,
		HdrLen: off + 40, GSOSize: 1400, CsumStart: off + 20, CsumOffset: 16,
		OuterTHOffset: 34, InnerNHOffset: off,
	}
}
