package linuxio

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSockaddrRoundTrip(t *testing.T) {
	cases := []struct {
		family int
		in     netip.AddrPort
		want   netip.AddrPort
		ok     bool
	}{
		{unix.AF_INET, netip.MustParseAddrPort("10.1.2.3:4789"), netip.MustParseAddrPort("10.1.2.3:4789"), true},
		{unix.AF_INET, netip.MustParseAddrPort("[::ffff:10.1.2.3]:8472"), netip.MustParseAddrPort("10.1.2.3:8472"), true},
		{unix.AF_INET, netip.MustParseAddrPort("[fd00::1]:1"), netip.AddrPort{}, false},
		{unix.AF_INET6, netip.MustParseAddrPort("[fd00::1]:6081"), netip.MustParseAddrPort("[fd00::1]:6081"), true},
		{unix.AF_INET6, netip.MustParseAddrPort("192.0.2.9:65535"), netip.MustParseAddrPort("192.0.2.9:65535"), true},
		{unix.AF_INET6, netip.AddrPort{}, netip.AddrPort{}, false},
	}
	for _, c := range cases {
		var sa unix.RawSockaddrInet6
		n, ok := putSockaddr(&sa, c.family, c.in)
		if ok != c.ok {
			t.Errorf("putSockaddr(%d, %v) ok=%v, want %v", c.family, c.in, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		got, ok := parseSockaddr(sockaddrBytes(&sa)[:n])
		if !ok || got != c.want {
			t.Errorf("round trip of %v on family %d = %v, %v; want %v", c.in, c.family, got, ok, c.want)
		}
		if c.family == unix.AF_INET6 && c.in.Addr().Is4() && sa.Addr[10] != 0xff {
			t.Errorf("IPv4 %v on a dual-stack socket not v4-mapped: % x", c.in, sa.Addr)
		}
	}
}

func FuzzParseSockaddr(f *testing.F) {
	var sa unix.RawSockaddrInet6
	n, _ := putSockaddr(&sa, unix.AF_INET, netip.MustParseAddrPort("10.0.0.1:80"))
	f.Add(append([]byte(nil), sockaddrBytes(&sa)[:n]...))
	n, _ = putSockaddr(&sa, unix.AF_INET6, netip.MustParseAddrPort("[fd00::1]:80"))
	f.Add(append([]byte(nil), sockaddrBytes(&sa)[:n]...))
	f.Add([]byte{2, 0})
	f.Add([]byte{10, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		ap, ok := parseSockaddr(b)
		if !ok {
			return
		}
		// Whatever parses must encode back to an equal address.
		family := unix.AF_INET6
		if ap.Addr().Is4() {
			family = unix.AF_INET
		}
		var out unix.RawSockaddrInet6
		m, ok := putSockaddr(&out, family, ap)
		if !ok {
			t.Fatalf("parsed %v but cannot encode it", ap)
		}
		again, ok := parseSockaddr(sockaddrBytes(&out)[:m])
		if !ok || again != ap {
			t.Fatalf("re-parse %v, %v; want %v", again, ok, ap)
		}
	})
}

// groCmsg builds control bytes as the kernel writes them: an unrelated
// message first (when other is true), then SOL_UDP/UDP_GRO with size.
func groCmsg(size int32, other bool) []byte {
	var b []byte
	add := func(level, typ int32, data []byte) {
		msg := make([]byte, unix.CmsgSpace(len(data)))
		binary.NativeEndian.PutUint64(msg, uint64(unix.CmsgLen(len(data))))
		binary.NativeEndian.PutUint32(msg[8:], uint32(level))
		binary.NativeEndian.PutUint32(msg[12:], uint32(typ))
		copy(msg[16:], data)
		b = append(b, msg...)
	}
	if other {
		add(unix.SOL_IP, unix.IP_TOS, []byte{0})
	}
	d := make([]byte, 4)
	binary.NativeEndian.PutUint32(d, uint32(size))
	add(unix.SOL_UDP, unix.UDP_GRO, d)
	return b
}

func TestParseGROSize(t *testing.T) {
	if got, ok := parseGROSize(groCmsg(1400, false)); !ok || got != 1400 {
		t.Errorf("UDP_GRO 1400 alone: %d, %v", got, ok)
	}
	if got, ok := parseGROSize(groCmsg(1200, true)); !ok || got != 1200 {
		t.Errorf("UDP_GRO 1200 after IP_TOS: %d, %v", got, ok)
	}
	if _, ok := parseGROSize(groCmsg(0, false)); ok {
		t.Error("size 0 accepted")
	}
	if _, ok := parseGROSize(groCmsg(1400, false)[:17]); ok {
		t.Error("truncated message accepted")
	}
	if _, ok := parseGROSize(nil); ok {
		t.Error("empty control accepted")
	}
	seg := make([]byte, segmentCmsgSpace)
	putSegmentCmsg(seg, 1000)
	if _, ok := parseGROSize(seg); ok {
		t.Error("UDP_SEGMENT message taken for UDP_GRO")
	}
	if l := binary.NativeEndian.Uint64(seg); l != uint64(unix.CmsgLen(2)) ||
		binary.NativeEndian.Uint16(seg[unix.SizeofCmsghdr:]) != 1000 {
		t.Errorf("UDP_SEGMENT cmsg % x", seg)
	}
}

// FuzzParseGROSize holds parseGROSize to x/sys/unix's control-message
// parser, written by others: wherever unix parses the whole buffer, the
// first SOL_UDP/UDP_GRO message with a 4-byte payload decides, and its
// size is taken when positive and refused otherwise.
func FuzzParseGROSize(f *testing.F) {
	f.Add(groCmsg(1400, false))
	f.Add(groCmsg(9000, true))
	f.Add(groCmsg(-1, false))
	f.Add(groCmsg(0, true))
	f.Add(append(groCmsg(1200, true), groCmsg(1300, false)...))
	f.Add(groCmsg(1400, false)[:17])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		size, ok := parseGROSize(b)
		if ok && size <= 0 {
			t.Fatalf("accepted segment size %d", size)
		}
		msgs, err := unix.ParseSocketControlMessage(b)
		if err != nil {
			return // malformed: parseGROSize may still take a GRO message before the fault
		}
		wantSize, wantOK := 0, false
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_UDP && m.Header.Type == unix.UDP_GRO && len(m.Data) >= 4 {
				if s := int32(binary.NativeEndian.Uint32(m.Data)); s > 0 {
					wantSize, wantOK = int(s), true
				}
				break
			}
		}
		if size != wantSize || ok != wantOK {
			t.Fatalf("parseGROSize = %d, %v; x/sys/unix's messages say %d, %v (% x)", size, ok, wantSize, wantOK, b)
		}
	})
}
