package dataplane

import (
	"bytes"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/encap"
)

// newFramePathEngine is newFrameEngine with node 2's path MTU learned as
// pmtu.
func newFramePathEngine(t testing.TB, kind encap.Kind, pmtu int) (*Engine, *MemPort, *MemPort) {
	t.Helper()
	e, pod, ul := newFrameEngine(t, kind)
	cfg := *e.Config()
	cfg.Peers = append([]Peer(nil), cfg.Peers...)
	cfg.Peers[0].PathMTU = new(PathMTU)
	cfg.Peers[0].PathMTU.Store(pmtu, false)
	if err := e.SetConfig(&cfg); err != nil {
		t.Fatal(err)
	}
	return e, pod, ul
}

// innerIPv4 returns the innermost IPv4 layer gopacket decodes from frame.
func innerIPv4(frame []byte) *layers.IPv4 {
	var ip *layers.IPv4
	for _, l := range gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default).Layers() {
		if v, ok := l.(*layers.IPv4); ok {
			ip = v
		}
	}
	return ip
}

// Whole frames have no kernel to fragment the outer packet, and receivers
// drop outer fragments: an IPv4 packet without DF that fits the tunnel but
// not the path leaves as inner fragments of at most the path's inner MTU,
// which put back together are the packet.
func TestFrameModeFragmentsInnerPacketsAboveThePathMTU(t *testing.T) {
	for _, kind := range []encap.Kind{encap.KindVXLAN, encap.KindGeneve, encap.KindIPIP} {
		t.Run(kind.String(), func(t *testing.T) {
			e, pod, ul := newFramePathEngine(t, kind, 1400)
			inner := udpPacket(t, localPod, remotePod, 64, false, 1400) // 1428 bytes
			mtu := 1400 - encap.Overhead(kind, false, 0)
			forwardEgress(t, e, inner)
			frames, _ := ul.Written()
			if icmps, _ := pod.Written(); len(icmps) != 0 || len(frames) != 2 {
				t.Fatalf("%d frames and %d answers, want 2 fragments and no answer", len(frames), len(icmps))
			}
			var got []byte
			for i, fr := range frames {
				ip := innerIPv4(fr)
				if ip == nil {
					t.Fatalf("frame %d: no inner IPv4", i)
				}
				last := i == len(frames)-1
				if int(ip.Length) > mtu || ip.Id != 1 || ip.TTL != 64 || ip.Flags&layers.IPv4MoreFragments != 0 == last ||
					int(ip.FragOffset)*8 != len(got) || encap.Checksum(ip.Contents, 0) != 0 {
					t.Errorf("fragment %d: length %d (MTU %d) id %d ttl %d flags %v offset %d (want %d) header %x",
						i, ip.Length, mtu, ip.Id, ip.TTL, ip.Flags, ip.FragOffset, len(got)/8, ip.Contents)
				}
				got = append(got, ip.Payload...)
			}
			if !bytes.Equal(got, inner[20:]) {
				t.Error("the fragments' payloads do not make up the packet's")
			}
			assertConserved(t, &e.Counters)
		})
	}
}

func TestFrameModeFragmentingAllocatesNothing(t *testing.T) {
	e, _, ul := newFramePathEngine(t, encap.KindVXLAN, 1400)
	checkEgressAllocatesNothing(t, e, ul, udpPacket(t, localPod, remotePod, 64, false, 1400))
	if e.Counters.Egress.GSOSegs.Load() == 0 {
		t.Fatal("nothing was fragmented")
	}
}
