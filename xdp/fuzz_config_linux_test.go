package xdp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// FuzzRedirectProgramConfig varies the configuration with the frame: the
// fuzzer decides whether the local addresses and the port are taken from
// the frame's own destination fields (read at the offsets where an
// untagged or VLAN-tagged IPv4/IPv6 header would hold them), so that random
// frames hit the redirect paths often instead of almost never. Every
// verdict is checked against wantRedirect.
func FuzzRedirectProgramConfig(f *testing.F) {
	for _, pkt := range seedFrames() {
		f.Add(pkt, true, true, false, uint8(0))
		f.Add(pkt, false, true, true, uint8(3))
	}
	r := programWithSocket(f, fullTestConfig())
	f.Fuzz(func(t *testing.T, pkt []byte, ipip, dstFromFrame, portFromFrame bool, shape uint8) {
		if len(pkt) < 14 || len(pkt) > 3000 {
			return
		}
		cfg := RedirectConfig{LocalIPv4: testLocal4, LocalIPv6: testLocal6, IPIP: ipip, UDPPorts: []uint16{4789}}
		l3 := 14
		if shape&1 != 0 {
			l3 = 18
		}
		if dstFromFrame && len(pkt) >= l3+40 {
			cfg.LocalIPv4 = netip.AddrFrom4([4]byte(pkt[l3+16 : l3+20]))
			cfg.LocalIPv6 = netip.AddrFrom16([16]byte(pkt[l3+24 : l3+40]))
		}
		if shape&2 != 0 {
			cfg.LocalIPv6 = netip.Addr{}
		}
		if portFromFrame {
			// Where the UDP destination port sits after an IPv4 header of
			// the frame's IHL, or after an IPv6 header.
			off := l3 + 40 + 2
			if len(pkt) > l3 && pkt[l3]>>4 == 4 {
				off = l3 + int(pkt[l3]&0x0f)*4 + 2
			}
			if len(pkt) >= off+2 {
				if p := binary.BigEndian.Uint16(pkt[off:]); p != 0 {
					cfg.UDPPorts = append(cfg.UDPPorts, p)
				}
			}
		}
		if err := r.SetConfig(cfg); errors.Is(err, ErrBadRedirectConfig) {
			return // e.g. an IPv4-mapped "IPv6" address taken from the frame
		} else if err != nil {
			t.Fatal(err)
		}
		got := runProgram(t, r.Program(), pkt)
		want := uint32(xdpRetPass)
		if wantRedirect(pkt, cfg) {
			want = xdpRetRedirect
		}
		if got != want {
			t.Fatalf("config %+v: verdict %d, reference %d, frame % x", cfg, got, want, pkt)
		}
	})
}
