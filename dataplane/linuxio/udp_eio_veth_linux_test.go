package linuxio

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/internal/testenv"
	"golang.org/x/sys/unix"
)

// setTxChecksum switches a link's TX checksum offload with the legacy
// ETHTOOL_STXCSUM ioctl, from a socket inside ns.
func setTxChecksum(t *testing.T, ns *testNS, name string, on bool) {
	t.Helper()
	value := struct{ cmd, data uint32 }{cmd: unix.ETHTOOL_STXCSUM}
	if on {
		value.data = 1
	}
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data uintptr
		_    [16]byte
	}
	copy(ifr.name[:], name)
	ifr.data = uintptr(unsafe.Pointer(&value))
	var err error
	ns.do(t, func() {
		fd, serr := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if serr != nil {
			err = serr
			return
		}
		defer unix.Close(fd)
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); e != 0 {
			err = e
		}
	})
	if err != nil {
		t.Fatalf("ETHTOOL_STXCSUM %v on %s: %v", on, name, err)
	}
}

// TestUDPGSOAcrossVethWithoutTxChecksum sends a UDP GSO train out of a
// veth whose TX checksum offload is off, to a socket in another namespace
// that does not ask for GRO, so the train is really segmented. Older
// kernels refuse such a train with EIO (the port then falls back to
// userspace segmentation); 6.18 accepts it and checksums in software.
// Either way every datagram must arrive intact and in order.
func TestUDPGSOAcrossVethWithoutTxChecksum(t *testing.T) {
	nsA, nsB := newTestNS(t, "eioa"), newTestNS(t, "eiob")
	vethPair(t, nsA, nsB)
	setTxChecksum(t, nsA, testenv.RunPrefix()+"va", false)

	var logBuf bytes.Buffer
	a := listenUDP(t, nsA, "10.78.0.1:0", UDPOptions{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if !a.Offloads().GSO {
		t.Fatalf("UDP GSO not available: %v", a.Offloads())
	}
	rx := plainUDP(t, nsB, "10.78.0.2:0")
	const segs, size = 10, 1000
	p := newPacket(segs * size)
	fill(p, pattern(8, segs*size))
	p.Addr = netip.AddrPortFrom(underlayB, rx.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	p.Segments, p.SegmentSize = segs, size
	if n, err := a.WriteBatch([]*dataplane.Packet{p}); n != 1 || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	if a.Offloads().GSO {
		t.Log("the kernel accepted the train without TX checksum offload; GSO stays on")
	} else if !strings.Contains(logBuf.String(), "input/output error") {
		t.Errorf("GSO turned off, but the log does not name the EIO: %q", logBuf.String())
	} else {
		t.Log("the kernel refused the train with EIO; the port fell back to userspace segmentation")
	}
	buf := make([]byte, 65536)
	rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range segs {
		n, _, err := rx.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], p.Bytes()[i*size:(i+1)*size]) {
			t.Errorf("datagram %d: %d bytes, contents differ", i, n)
		}
	}
}
