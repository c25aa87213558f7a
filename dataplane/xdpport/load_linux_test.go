package xdpport

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/internal/testenv"
)

// load is what runUnderLoad does besides reading and writing port: count
// each packet read (on the reader's goroutine), write one batch (the
// writer's loop calls it until the port is closed), send the node one
// round of traffic, and say when the reader has seen enough (safe from
// another goroutine; nil: one packet).
type load struct {
	onRead func(pk *dataplane.Packet)
	write  func(round int, pkts []*dataplane.Packet) (int, error)
	flood  func()
	ready  func() bool
}

// writerPeerPort is where the writer's frames go on the peer.
const writerPeerPort = 40020

// runUnderLoad runs a reader and a writer on port at once, as the engine's
// two loops do, while a peer floods the node; once the peer has counted
// 200 of the writer's frames it closes port under that load, and fails t
// unless both loops then end with ErrPortClosed. It returns how many
// packets the writer queued.
func runUnderLoad(t *testing.T, l *link, port dataplane.Port, ld load) int {
	t.Helper()
	peer := l.udpOn(t, true, writerPeerPort)
	frame := udpFrame(l.MACB, l.MACA, netip.AddrPortFrom(l.AddrB, tunnelPort), netip.AddrPortFrom(l.AddrA, writerPeerPort), []byte("from the writer"))
	var wg sync.WaitGroup
	var readErr, writeErr error
	var written int
	var stop atomic.Bool
	var reads atomic.Int64
	if ld.ready == nil {
		ld.ready = func() bool { return reads.Load() > 0 }
	}
	wg.Go(func() { // reader
		pkts := newPackets(32)
		for {
			n, err := port.ReadBatch(pkts)
			if err != nil {
				readErr = err
				return
			}
			for _, pk := range pkts[:n] {
				ld.onRead(pk)
			}
			reads.Add(int64(n))
		}
	})
	wg.Go(func() { // writer
		pkts := newPackets(16)
		for _, pk := range pkts {
			pk.Reset(dataplane.Headroom)
			pk.SetLen(copy(pk.Buf[pk.Start:], frame))
		}
		for round := 0; ; round++ {
			n, err := ld.write(round, pkts)
			written += n
			if errors.Is(err, dataplane.ErrPortClosed) {
				writeErr = err
				return
			}
			time.Sleep(100 * time.Microsecond) // let the peer's socket keep up
		}
	})
	wg.Go(func() { // the peer floods the node
		for !stop.Load() {
			ld.flood()
		}
	})
	got := 0
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 2048)
	for got < 200 && time.Now().Before(deadline) {
		peer.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _, err := peer.ReadFromUDPAddrPort(buf); err == nil && string(buf[:n]) == "from the writer" {
			got++
		}
	}
	// The flood may start late (the peer's kernel resolves our address
	// first): close only once the reader is busy too.
	for !ld.ready() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ready := ld.ready()
	if err := port.Close(); err != nil {
		t.Errorf("Close under load: %v", err)
	}
	stop.Store(true)
	wg.Wait()
	if !errors.Is(readErr, dataplane.ErrPortClosed) || !errors.Is(writeErr, dataplane.ErrPortClosed) {
		t.Fatalf("after Close: reader %v, writer %v", readErr, writeErr)
	}
	if got < 200 || !ready {
		t.Fatalf("peer got %d of the writer's packets (want 200); the reader read %d, enough: %v", got, reads.Load(), ready)
	}
	return written
}

// closeWakesBlockedReader blocks a reader in port's ReadBatch, closes the
// port and fails t unless the reader returns ErrPortClosed at once and the
// XDP program is gone from the node's interface.
func closeWakesBlockedReader(t *testing.T, l *link, port dataplane.Port) {
	t.Helper()
	if out := testenv.Run(t, "ip", "-n", l.NsB, "link", "show", l.IfB); !strings.Contains(out, "prog/xdp") {
		t.Fatalf("no XDP program on %s after opening:\n%s", l.IfB, out)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := port.ReadBatch(newPackets(4))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, dataplane.ErrPortClosed) {
			t.Fatalf("blocked ReadBatch returned %v, want ErrPortClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake the blocked reader")
	}
	if out := testenv.Run(t, "ip", "-n", l.NsB, "link", "show", l.IfB); strings.Contains(out, "xdp") {
		t.Errorf("XDP program still attached after Close:\n%s", out)
	}
	if _, err := port.WriteBatch(newPackets(1)); !errors.Is(err, dataplane.ErrPortClosed) {
		t.Errorf("WriteBatch after Close: %v", err)
	}
}
