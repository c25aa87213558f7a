package xdpport

import (
	"net/netip"
	"testing"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/xdp"
)

// A reader and a writer run at once, as the engine's two loops do, and
// Close stops both while they are busy; run under -race by `make race`.
func TestConcurrentReaderWriterAndClose(t *testing.T) {
	l := newLink(t)
	p := l.openPort(t, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 256}})
	peer := l.udpOn(t, true, 40021)
	dst := netip.AddrPortFrom(l.AddrB, tunnelPort)
	received := 0
	written := runUnderLoad(t, l, p, load{
		onRead: func(*dataplane.Packet) { received++ },
		write:  func(_ int, pkts []*dataplane.Packet) (int, error) { return p.WriteBatch(pkts) },
		flood:  func() { _, _ = peer.WriteToUDPAddrPort([]byte("to the reader"), dst) },
	})
	t.Logf("reader received %d, writer queued %d", received, written)
}
