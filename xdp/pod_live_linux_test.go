package xdp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// In the live tests a is the pod and b the host side of its veth. a routes
// the remote pods' prefix via b; b owns an address in it (on loopback) so
// that a packet the program passes shows up at a kernel socket.
var (
	podLivePrefix = netip.MustParsePrefix("10.250.0.0/16")
	podLiveTarget = netip.MustParseAddr("10.250.3.4")
)

// TestPodTrafficLandsInSocket runs in both attach modes: native XDP on the
// veth, and generic XDP, the fallback.
func TestPodTrafficLandsInSocket(t *testing.T) {
	t.Run("driver", func(t *testing.T) { podTrafficLandsInSocket(t, AttachOptions{}, AttachDriver) })
	t.Run("generic", func(t *testing.T) { podTrafficLandsInSocket(t, AttachOptions{GenericOnly: true}, AttachGeneric) })
}

func podTrafficLandsInSocket(t *testing.T, opts AttachOptions, mode AttachMode) {
	p := newVethPair(t)
	pr := newTestPodRedirect(t, 4)
	var sock *Socket
	testenv.InNetns(t, p.HB, func() (err error) {
		sock, err = Open(p.IdxB, 0, SocketConfig{FrameSize: 2048, NumFrames: 256})
		return err
	})
	t.Cleanup(func() { sock.Close() })
	var att *Attachment
	testenv.InNetns(t, p.HB, func() (err error) {
		att, err = pr.Attach(p.IdxB, opts)
		return err
	})
	t.Cleanup(func() { att.Close() })
	if att.Mode() != mode {
		t.Fatalf("attached in %s mode, want %s", att.Mode(), mode)
	}
	if err := pr.Register(sock); err != nil {
		t.Fatal(err)
	}
	if err := pr.SetDestinations([]netip.Prefix{podLivePrefix}); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "ip", "-n", p.NsA, "route", "add", podLivePrefix.String(), "via", p.AddrB.String())
	testenv.Run(t, "ip", "-n", p.NsB, "addr", "add", podLiveTarget.String()+"/32", "dev", "lo")

	var kernel *net.UDPConn
	testenv.InNetns(t, p.HB, func() (err error) {
		kernel, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(podLiveTarget, 7000)))
		return err
	})
	t.Cleanup(func() { kernel.Close() })
	pod := udpIn(t, p, true, 40000)
	capture := captureOn(t, p)
	from, to := netip.AddrPortFrom(p.AddrA, 40000), netip.AddrPortFrom(podLiveTarget, 7000)
	send := func(c *net.UDPConn, payload string) {
		t.Helper()
		if _, err := c.WriteToUDPAddrPort([]byte(payload), to); err != nil {
			t.Fatal(err)
		}
	}
	inSocket := func(payload string) {
		t.Helper()
		d := receiveN(t, sock, 1, 2*time.Second)[0]
		frame := sock.Frame(d)
		if sent := capture([]byte(payload)); !bytes.Equal(frame, sent) {
			t.Errorf("AF_XDP frame differs from the frame the pod sent:\n got % x\nsent % x", frame, sent)
		}
		if !bytes.Equal(frame[0:6], p.MACB) || !bytes.Equal(frame[6:12], p.MACA) {
			t.Errorf("MACs %x -> %x, want %s -> %s", frame[6:12], frame[0:6], p.MACA, p.MACB)
		}
		if got := udp4Payload(t, frame, from, to); string(got) != payload {
			t.Errorf("payload %q, want %q", got, payload)
		}
		sock.Release([]Desc{d})
	}
	inKernel := func(payload string) {
		t.Helper()
		if got, _ := readUDP(t, kernel); string(got) != payload {
			t.Fatalf("kernel socket read %q, want %q", got, payload)
		}
	}

	send(pod, "udp to a remote pod")
	inSocket("udp to a remote pod")

	t.Run("TCP SYN", func(t *testing.T) { podSYNLandsInSocket(t, p, sock, capture) })
	t.Run("ping to b's own address", func(t *testing.T) { pingFromA(t, p) })

	// TTL 1 passes, so that a router's kernel could answer Time Exceeded;
	// here b owns the address and takes the datagram.
	short := udpIn(t, p, true, 40001)
	podSetTTL(t, short, 1)
	send(short, "ttl 1")
	inKernel("ttl 1")

	if err := pr.Unregister(sock); err != nil {
		t.Fatal(err)
	}
	send(pod, "after Unregister")
	inKernel("after Unregister")

	if err := pr.Register(sock); err != nil {
		t.Fatal(err)
	}
	send(pod, "registered again")
	inSocket("registered again")

	if err := pr.SetDestinations(prefixes("10.251.0.0/16")); err != nil {
		t.Fatal(err)
	}
	send(pod, "prefix removed")
	inKernel("prefix removed")

	expectNothing(t, sock, 100*time.Millisecond)
	kernel.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if k, _, err := kernel.ReadFromUDPAddrPort(make([]byte, 100)); err == nil {
		t.Errorf("kernel socket got an unexpected datagram of %d bytes", k)
	}
	if c := sock.Frames(); c.Held != 0 {
		t.Errorf("frames still held: %+v", c)
	}
}

// podSYNLandsInSocket opens a TCP connection from a to the target and
// checks that its SYN reaches sock byte for byte as a sent it. Nobody
// answers: the socket is closed once the SYN is in, before a retransmit.
func podSYNLandsInSocket(t *testing.T, p *vethPair, sock *Socket, capture func([]byte) []byte) {
	var fd int
	testenv.InNetns(t, p.HA, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = unix.Connect(fd, &unix.SockaddrInet4{Port: 7001, Addr: podLiveTarget.As4()})
		if errors.Is(err, unix.EINPROGRESS) {
			return nil
		}
		return err
	})
	defer unix.Close(fd)
	d := receiveN(t, sock, 1, 2*time.Second)[0]
	defer sock.Release([]Desc{d})
	frame := bytes.Clone(sock.Frame(d))
	if len(frame) < 14+20+20 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 || frame[14+9] != unix.IPPROTO_TCP {
		t.Fatalf("not Ethernet/IPv4/TCP: % x", frame)
	}
	tcp := frame[14+int(frame[14]&0x0f)*4:]
	if dst := netip.AddrFrom4([4]byte(frame[30:34])); dst != podLiveTarget || binary.BigEndian.Uint16(tcp[2:]) != 7001 {
		t.Fatalf("TCP segment to %v port %d, want %v port 7001", dst, binary.BigEndian.Uint16(tcp[2:]), podLiveTarget)
	}
	if flags := tcp[13]; flags != 0x02 {
		t.Fatalf("TCP flags %#x, want SYN alone", flags)
	}
	// The SYN's options end in its timestamp and window scale: a tail no
	// other frame on the veth has.
	if sent := capture(frame[len(frame)-16:]); !bytes.Equal(frame, sent) {
		t.Errorf("AF_XDP frame differs from the SYN a sent:\n got % x\nsent % x", frame, sent)
	}
}

// podSetTTL sets the TTL of c's outgoing datagrams.
func podSetTTL(t *testing.T, c *net.UDPConn, ttl int) {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, ttl)
	}); err != nil || serr != nil {
		t.Fatalf("IP_TTL %d: %v %v", ttl, err, serr)
	}
}

// TestPodProgramOnManyVeths attaches one program to two veths, one of
// which runs the program attached the old way (netlink, no bpf link), as
// a crashed podfwd might leave it: Attach must take it as podfwd's own.
// Once the attachments are closed nothing stays attached.
func TestPodProgramOnManyVeths(t *testing.T) {
	p := newVethPair(t)
	idxC := extraVethInB(t, p, "c")
	pr := newTestPodRedirect(t, 2)
	testenv.InNetns(t, p.HB, func() error {
		l, err := netlink.LinkByIndex(idxC)
		if err != nil {
			return err
		}
		return netlink.LinkSetXdpFdWithFlags(l, pr.Program().FD(), unix.XDP_FLAGS_DRV_MODE)
	})
	var atts []*Attachment
	for _, idx := range []int{p.IdxB, idxC} {
		testenv.InNetns(t, p.HB, func() error {
			a, err := pr.Attach(idx, AttachOptions{})
			if err == nil {
				atts = append(atts, a)
				t.Cleanup(func() { a.Close() })
			}
			return err
		})
	}
	if r := atts[1].Replaced(); r != PodProgramName {
		t.Errorf("Attach over the netlink-attached program replaced %q, want %q", r, PodProgramName)
	}
	info, err := pr.Program().Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	for _, idx := range []int{p.IdxB, idxC} {
		if got := podXDPProgID(t, p, idx); got != uint32(id) {
			t.Errorf("ifindex %d runs program %d, want %d", idx, got, id)
		}
	}
	for _, a := range atts {
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := pr.Close(); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []int{p.IdxB, idxC} {
		if got := podXDPProgID(t, p, idx); got != 0 {
			t.Errorf("ifindex %d still runs program %d after Close", idx, got)
		}
	}
}

// podXDPProgID returns the id of the XDP program on ifindex in b's
// namespace, 0 for none.
func podXDPProgID(t *testing.T, p *vethPair, ifindex int) uint32 {
	t.Helper()
	var id uint32
	testenv.InNetns(t, p.HB, func() error {
		l, err := netlink.LinkByIndex(ifindex)
		if err != nil {
			return fmt.Errorf("ifindex %d: %w", ifindex, err)
		}
		if x := l.Attrs().Xdp; x != nil && x.Attached {
			id = x.ProgId
		}
		return nil
	})
	return id
}
