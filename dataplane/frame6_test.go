package dataplane

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/podfwd/podfwd/encap"
)

// newFrameEngine6 is newFrameEngine moved to an IPv6 underlay.
func newFrameEngine6(t testing.TB, kind encap.Kind) (*Engine, *MemPort, *Config) {
	t.Helper()
	e, _, ul := newFrameEngine(t, kind)
	cfg := testConfig(kind)
	cfg.LocalUnderlay, cfg.LocalUnderlayMAC = netip.MustParseAddr("2001:db8:ff::1"), ourUnderlayMAC
	for i := range cfg.Peers {
		cfg.Peers[i].Underlay = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0xff, 15: byte(2 + i)})
		cfg.Peers[i].UnderlayMAC = peerUnderlayMAC
	}
	if err := e.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return e, ul, cfg
}

// Whole frames over an IPv6 underlay, whose outer UDP checksum the
// template derives from the inner one (LCO), are byte for byte what the
// header-by-header functions build with a full checksum pass.
func TestFrameModeIPv6UnderlayMatchesPrepend(t *testing.T) {
	for _, kind := range []encap.Kind{encap.KindVXLAN, encap.KindGeneve, encap.KindIPIP} {
		for _, v6 := range []bool{false, true} {
			name := kind.String() + map[bool]string{false: "/inner4", true: "/inner6"}[v6]
			t.Run(name, func(t *testing.T) {
				e, ul, cfg := newFrameEngine6(t, kind)
				src, dst := localPod, remotePod
				if v6 {
					src, dst = localPod6, remotePod6
				}
				inner := udpPacket(t, src, dst, 64, true, 101)
				forwardEgress(t, e, inner)
				frames, _ := ul.Written()
				if len(frames) != 1 {
					t.Fatalf("%d frames, want 1", len(frames))
				}
				// The engine decrements the TTL before encapsulating.
				sent := bytes.Clone(frames[0][len(frames[0])-len(inner):])
				params := cfg.tunnelParams(cfg.Peers[0])
				o := &encap.Outer{Src: cfg.LocalUnderlay, Dst: cfg.Peers[0].Underlay}
				buf := make([]byte, Headroom+len(sent))
				copy(buf[Headroom:], sent)
				s, r := encap.PrependTunnel(buf, Headroom, len(buf), &params)
				if r == encap.DropNone {
					s, r = encap.PrependOuter(buf, s, len(buf), &params, o, buf[Headroom:], encap.FlowHash(buf[Headroom:]))
				}
				if r == encap.DropNone {
					s, r = encap.PrependEthernet(buf, s, peerUnderlayMAC, ourUnderlayMAC, encap.EtherTypeIPv6)
				}
				if r != encap.DropNone {
					t.Fatal(r)
				}
				if !bytes.Equal(frames[0], buf[s:]) {
					t.Errorf("frame differs from the prepend path:\n got %x\nwant %x", frames[0], buf[s:])
				}
			})
		}
	}
}

func TestFrameModeIPv6UnderlayAllocatesNothing(t *testing.T) {
	e, ul, _ := newFrameEngine6(t, encap.KindVXLAN)
	checkEgressAllocatesNothing(t, e, ul, udpPacket(t, localPod6, remotePod6, 64, true, 1000))
}
