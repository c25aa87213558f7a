package xdp

import (
	"net/netip"
	"testing"
	"time"
)

// BenchmarkPodProgram measures the program's verdict in the kernel
// (BPF_PROG_TEST_RUN with repeat), per frame kind, with 1000 remote pod
// CIDRs of each family in the tries. Test runs arrive on loopback's queue
// 0, so loopback gets the socket's slot.
func BenchmarkPodProgram(b *testing.B) {
	f := newPodFixture(b, nil)
	dests := make([]netip.Prefix, 0, 2000)
	for i := range 1000 {
		dests = append(dests,
			netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244 + byte(i>>8), byte(i), 0}), 24),
			netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x10, 2, 0x44, byte(i >> 8), byte(i)}), 64))
	}
	if err := f.pr.SetDestinations(dests); err != nil {
		b.Fatal(err)
	}
	if err := f.pr.slots.Put(podSlotKey{Ifindex: 1}, uint32(0)); err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr
	var arp []byte
	for _, c := range podCases() {
		if c.name == "ARP" {
			arp = c.frame
		}
	}
	for _, c := range []struct {
		name  string
		frame []byte
		want  uint32
	}{
		{"v4-redirect", podFrame(a("10.244.3.4"), 64), xdpRetRedirect},
		{"v6-redirect", podFrame(a("fd00:10:244:3::4"), 64), xdpRetRedirect},
		{"v4-miss", podFrame(a("10.96.0.10"), 64), xdpRetPass},
		{"v6-miss", podFrame(a("fd00:10:245::1"), 64), xdpRetPass},
		{"arp", arp, xdpRetPass},
	} {
		b.Run(c.name, func(b *testing.B) {
			ret, per, err := f.pr.Program().Benchmark(c.frame, b.N, nil)
			if err != nil {
				b.Fatal(err)
			}
			if ret != c.want {
				b.Fatalf("verdict %d, want %d", ret, c.want)
			}
			b.ReportMetric(float64(per)/float64(time.Nanosecond), "ns/verdict")
		})
	}
}
