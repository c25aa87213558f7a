package xdpport

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/xdp"
)

// A reader and a writer run at once, as the engine's two loops do, and
// Close stops both while they are busy; run under -race by `make race`.
func TestConcurrentReaderWriterAndClose(t *testing.T) {
	l := newLink(t)
	p := l.openPort(t, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 256}})
	peer := l.udpOn(t, true, 40020)
	dst := netip.AddrPortFrom(l.AddrB, tunnelPort)
	frame := udpFrame(l.MACB, l.MACA, dst, netip.AddrPortFrom(l.AddrA, 40020), []byte("from the writer"))

	var wg sync.WaitGroup
	var readErr, writeErr error
	var received, written int
	stop := make(chan struct{})
	wg.Add(3)
	go func() { // reader
		defer wg.Done()
		pkts := newPackets(32)
		for {
			n, err := p.ReadBatch(pkts)
			if err != nil {
				readErr = err
				return
			}
			received += n
		}
	}()
	go func() { // writer
		defer wg.Done()
		pkts := newPackets(16)
		for _, pk := range pkts {
			pk.Reset(dataplane.Headroom)
			pk.SetLen(copy(pk.Buf[pk.Start:], frame))
		}
		for {
			n, err := p.WriteBatch(pkts)
			written += n
			if errors.Is(err, dataplane.ErrPortClosed) {
				writeErr = err
				return
			}
			time.Sleep(100 * time.Microsecond) // let the peer's socket keep up
		}
	}()
	go func() { // the peer floods the node
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = peer.WriteToUDPAddrPort([]byte("to the reader"), dst)
		}
	}()
	got := 0
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 2048)
	for got < 200 && time.Now().Before(deadline) {
		peer.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _, err := peer.ReadFromUDPAddrPort(buf); err == nil && string(buf[:n]) == "from the writer" {
			got++
		}
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close under load: %v", err)
	}
	close(stop)
	wg.Wait()
	if !errors.Is(readErr, dataplane.ErrPortClosed) || !errors.Is(writeErr, dataplane.ErrPortClosed) {
		t.Fatalf("after Close: reader %v, writer %v", readErr, writeErr)
	}
	if got < 200 || received == 0 {
		t.Fatalf("peer got %d of the writer's packets (want 200), reader got %d", got, received)
	}
	t.Logf("reader received %d, writer queued %d, peer counted %d", received, written, got)
}
