package xdp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/podfwd/podfwd/internal/testenv"
)

// testPodDests nests prefixes in both families, so that a lookup must find
// the longest match and not stop at the first.
var testPodDests = prefixes(
	"10.244.0.0/16", "10.244.7.0/24", "10.244.7.9/32",
	"fd00:10:244::/48", "fd00:10:244:7::/64", "fd00:10:244:7::9/128",
)

var (
	testPod4 = netip.MustParseAddr("10.244.1.5") // the sending pod
	testPod6 = netip.MustParseAddr("fd00:10:244:1::5")
)

// xdpMd is struct xdp_md, the context BPF_PROG_TEST_RUN takes: data_end
// must be the frame's length, the rest are what the program may read.
type xdpMd struct {
	Data, DataEnd, DataMeta      uint32
	IngressIfindex, RxQueueIndex uint32
	EgressIfindex                uint32
}

// podFixture is the pod program with dests and a socket registered for
// queue 0 of veth b.
type podFixture struct {
	*vethPair
	pr   *PodRedirect
	sock *Socket
}

func newPodFixture(t testing.TB, dests []netip.Prefix) *podFixture {
	t.Helper()
	f := &podFixture{vethPair: newVethPair(t)}
	testenv.InNetns(t, f.HB, func() (err error) {
		f.sock, err = Open(f.IdxB, 0, SocketConfig{FrameSize: 2048, NumFrames: 64})
		return err
	})
	t.Cleanup(func() { f.sock.Close() })
	var err error
	if f.pr, err = NewPodRedirect(4); err != nil {
		t.Fatalf("NewPodRedirect: %+v", err)
	}
	t.Cleanup(func() { f.pr.Close() })
	if err := f.pr.Register(f.sock); err != nil {
		t.Fatal(err)
	}
	if err := f.pr.SetDestinations(dests); err != nil {
		t.Fatal(err)
	}
	return f
}

// run runs the program on frame as if it arrived on ifindex's queue. The
// kernel resolves ingress_ifindex in the calling thread's namespace, so
// the run happens in b's; ifindex 1 there is its loopback, which has no
// socket.
func (f *podFixture) run(t testing.TB, frame []byte, ifindex, queue int) uint32 {
	t.Helper()
	var ret uint32
	testenv.InNetns(t, f.HB, func() (err error) {
		ret, err = f.pr.Program().Run(&ebpf.RunOptions{
			Data:    frame,
			Context: xdpMd{DataEnd: uint32(len(frame)), IngressIfindex: uint32(ifindex), RxQueueIndex: uint32(queue)},
		})
		return err
	})
	return ret
}

// podFrame is a UDP frame from a pod (of dst's family) to dst with ttl.
func podFrame(dst netip.Addr, ttl uint8) []byte {
	src := testPod4
	if dst.Is6() {
		src = testPod6
	}
	b := frameSpec{src: src, dst: dst, proto: 17, sport: 40000, dport: 8080, payload: []byte("to a remote pod")}.build()
	setTTL(b, ttl)
	return b
}

// setTTL sets an untagged IP frame's TTL or hop limit.
func setTTL(b []byte, ttl uint8) {
	if binary.BigEndian.Uint16(b[12:]) == 0x0800 {
		b[14+ipv4TTLOff] = ttl
	} else {
		b[14+ipv6HopLimitOff] = ttl
	}
}

// podCase is a frame and the verdict it must get with testPodDests and a
// registered socket.
type podCase struct {
	name     string
	frame    []byte
	redirect bool
}

func podCases() []podCase {
	a4 := netip.MustParseAddr
	v4 := func(dst string) []byte { return podFrame(a4(dst), 64) }
	withTTL := func(b []byte, ttl uint8) []byte { setTTL(b, ttl); return b }
	edit := func(b []byte, fn func([]byte)) []byte { fn(b); return b }
	ext6 := func(next uint8) []byte {
		// An extension header of 8 bytes before the UDP header.
		b := podFrame(a4("fd00:10:244:3::4"), 64)
		udp := bytes.Clone(b[14+40:])
		b = append(b[:14+40], 17, 0, 0, 0, 0, 0, 0, 0)
		b[14+6] = next
		binary.BigEndian.PutUint16(b[14+4:], uint16(8+len(udp)))
		return append(b, udp...)
	}
	vlan := frameSpec{vlan: 7, src: testPod4, dst: a4("10.244.3.4"), proto: 17, sport: 1, dport: 2}.build()
	arp := append(v4("10.244.3.4")[:12], 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 244, 1, 5, 0, 0, 0, 0, 0, 0, 10, 244, 3, 4)
	options := edit(v4("10.244.3.4"), func(b []byte) { b[14] = 0x46 })
	return []podCase{
		{"v4 in /16", v4("10.244.3.4"), true},
		{"v4 in nested /24", v4("10.244.7.200"), true},
		{"v4 /32", v4("10.244.7.9"), true},
		{"v4 other pod CIDR", v4("10.245.0.1"), false},
		{"v4 service", v4("10.96.0.10"), false},
		{"v4 node", v4("192.168.1.1"), false},
		{"v4 TTL 2", withTTL(v4("10.244.3.4"), 2), true},
		{"v4 TTL 1", withTTL(v4("10.244.3.4"), 1), false},
		{"v4 TTL 0", withTTL(v4("10.244.3.4"), 0), false},
		{"v4 TCP", frameSpec{src: testPod4, dst: a4("10.244.3.4"), proto: 6, payload: make([]byte, 20)}.build(), true},
		{"v4 ICMP", frameSpec{src: testPod4, dst: a4("10.244.3.4"), proto: 1, payload: []byte{8, 0, 0, 0, 0, 1, 0, 1}}.build(), true},
		{"v4 options", options, true},
		{"v4 IHL 4", edit(v4("10.244.3.4"), func(b []byte) { b[14] = 0x44 }), false},
		{"v4 IHL 15 past the end", edit(v4("10.244.3.4"), func(b []byte) { b[14] = 0x4f }), false},
		{"v4 version 6", edit(v4("10.244.3.4"), func(b []byte) { b[14] = 0x65 }), false},
		{"v6 in /48", podFrame(a4("fd00:10:244:3::4"), 64), true},
		{"v6 in nested /64", podFrame(a4("fd00:10:244:7::1"), 64), true},
		{"v6 /128", podFrame(a4("fd00:10:244:7::9"), 64), true},
		{"v6 other pod CIDR", podFrame(a4("fd00:10:245::1"), 64), false},
		{"v6 node", podFrame(a4("fd00:198:18::2"), 64), false},
		{"v6 hop limit 2", podFrame(a4("fd00:10:244:3::4"), 2), true},
		{"v6 hop limit 1", podFrame(a4("fd00:10:244:3::4"), 1), false},
		{"v6 hop limit 0", podFrame(a4("fd00:10:244:3::4"), 0), false},
		{"v6 version 4", edit(podFrame(a4("fd00:10:244:3::4"), 64), func(b []byte) { b[14] = 0x40 }), false},
		{"v6 hop-by-hop header", ext6(0), true},
		{"v6 fragment header", ext6(44), true},
		{"v4 in IPv6 ethertype", edit(v4("10.244.3.4"), func(b []byte) { b[13] = 0xdd; b[12] = 0x86 }), false},
		{"ARP", arp, false},
		{"VLAN-tagged", vlan, false},
		{"Ethernet only", v4("10.244.3.4")[:14], false},
	}
}

func TestPodProgramVerdicts(t *testing.T) {
	f := newPodFixture(t, testPodDests)
	for _, c := range podCases() {
		want := uint32(xdpRetPass)
		if c.redirect {
			want = xdpRetRedirect
		}
		if ref := podVerdict(c.frame, testPodDests, true); ref != want {
			t.Errorf("%s: reference classifier says %d, the table %d", c.name, ref, want)
		}
		if got := f.run(t, c.frame, f.IdxB, 0); got != want {
			t.Errorf("%s: verdict %d, want %d", c.name, got, want)
		}
		if got := f.run(t, c.frame, 1, 0); got != xdpRetPass {
			t.Errorf("%s on an interface without a socket: verdict %d, want XDP_PASS", c.name, got)
		}
	}
}

// TestPodProgramTruncated cuts frames at every length the kernel takes
// (an Ethernet header at least): each must pass until its IP header is
// whole.
func TestPodProgramTruncated(t *testing.T) {
	f := newPodFixture(t, testPodDests)
	for _, c := range podCases() {
		if !c.redirect {
			continue
		}
		redirected := false
		for n := 14; n <= len(c.frame); n++ {
			frame := c.frame[:n]
			want := podVerdict(frame, testPodDests, true)
			if got := f.run(t, frame, f.IdxB, 0); got != want {
				t.Errorf("%s cut to %d bytes: verdict %d, reference %d", c.name, n, got, want)
			}
			if want == xdpRetRedirect && !redirected {
				redirected = true
				// The first redirected length is a whole IP header.
				if hdr := podIPHeaderLen(c.frame); n != 14+hdr {
					t.Errorf("%s: first redirected at %d bytes, want %d", c.name, n, 14+hdr)
				}
			}
		}
		if !redirected {
			t.Errorf("%s: no length redirected", c.name)
		}
	}
}

// podIPHeaderLen is the length of an untagged frame's IP header: IHL for
// IPv4, the fixed header for IPv6.
func podIPHeaderLen(frame []byte) int {
	if binary.BigEndian.Uint16(frame[12:]) == 0x0800 {
		return int(frame[14]&0x0f) * 4
	}
	return ipv6HdrLen
}

func TestPodProgramDefaultRoutes(t *testing.T) {
	f := newPodFixture(t, nil)
	for _, dests := range [][]netip.Prefix{
		nil,
		prefixes("0.0.0.0/0"),
		prefixes("::/0"),
		prefixes("0.0.0.0/0", "::/0"),
		prefixes("10.244.3.4/32", "fd00:10:244:3::4/128"),
	} {
		if err := f.pr.SetDestinations(dests); err != nil {
			t.Fatal(err)
		}
		redirected := 0
		for _, c := range podCases() {
			want := podVerdict(c.frame, dests, true)
			if want == xdpRetRedirect {
				redirected++
			}
			if got := f.run(t, c.frame, f.IdxB, 0); got != want {
				t.Errorf("destinations %v, %s: verdict %d, reference %d", dests, c.name, got, want)
			}
		}
		if (len(dests) == 0) != (redirected == 0) {
			t.Errorf("destinations %v: %d frames redirected", dests, redirected)
		}
	}
}

func TestPodProgramPassesAfterUnregister(t *testing.T) {
	f := newPodFixture(t, testPodDests)
	frame := podFrame(netip.MustParseAddr("10.244.3.4"), 64)
	if got := f.run(t, frame, f.IdxB, 0); got != xdpRetRedirect {
		t.Fatalf("registered: verdict %d, want XDP_REDIRECT", got)
	}
	if err := f.pr.Unregister(f.sock); err != nil {
		t.Fatal(err)
	}
	if got := f.run(t, frame, f.IdxB, 0); got != xdpRetPass {
		t.Fatalf("unregistered: verdict %d, want XDP_PASS", got)
	}
	if err := f.pr.Register(f.sock); err != nil {
		t.Fatal(err)
	}
	if got := f.run(t, frame, f.IdxB, 0); got != xdpRetRedirect {
		t.Fatalf("registered again: verdict %d, want XDP_REDIRECT", got)
	}
	// A closed socket leaves the XSKMAP by itself; its slot, still
	// reachable, is empty and the flags' XDP_PASS applies.
	f.sock.Close()
	if got := f.run(t, frame, f.IdxB, 0); got != xdpRetPass {
		t.Fatalf("socket closed: verdict %d, want XDP_PASS", got)
	}
	if err := f.pr.Unregister(f.sock); err != nil {
		t.Fatalf("Unregister after Close: %v", err)
	}
}

// FuzzPodRedirect runs the program on arbitrary frames and holds every
// verdict against podVerdict. The destination set adds, besides
// testPodDests, prefixes of the fuzzer's length around the addresses at
// the frame's IPv4 and IPv6 destination offsets, so that random frames
// reach the redirect path; onSocket picks the veth with the socket or
// loopback without one.
func FuzzPodRedirect(f *testing.F) {
	for _, c := range podCases() {
		f.Add(c.frame, uint8(0), true)
		f.Add(c.frame, uint8(24), false)
	}
	fx := newPodFixture(f, testPodDests)
	f.Fuzz(func(t *testing.T, frame []byte, bits uint8, onSocket bool) {
		// The kernel refuses test input shorter than an Ethernet header
		// or longer than a page minus head- and tailroom.
		if len(frame) < 14 || len(frame) > 3000 {
			return
		}
		dests := testPodDests
		if len(frame) >= 14+20 {
			dests = append(dests[:len(dests):len(dests)], netip.PrefixFrom(netip.AddrFrom4([4]byte(frame[30:34])), int(bits)%33).Masked())
		}
		if len(frame) >= 14+40 {
			dests = append(dests, netip.PrefixFrom(netip.AddrFrom16([16]byte(frame[38:54])), int(bits)%129).Masked())
		}
		if err := fx.pr.SetDestinations(dests); err != nil {
			t.Fatal(err)
		}
		ifindex := 1
		if onSocket {
			ifindex = fx.IdxB
		}
		got := fx.run(t, bytes.Clone(frame), ifindex, 0)
		if want := podVerdict(frame, dests, onSocket); got != want {
			t.Fatalf("verdict %d, reference %d, destinations %v, frame % x", got, want, dests, frame)
		}
	})
}
