package linuxio

import (
	"bytes"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
)

// The poller wakes for a datagram on a watched socket and for Wake; a
// try-read finds nothing on an empty socket and the datagram after the
// wake-up, without ever parking.
func TestPollerWakesForInputAndForWake(t *testing.T) {
	ns := newTestNS(t, "poll")
	a := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{Raw: true})
	b := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{Raw: true})
	p, err := NewPoller(0, b.FD())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Spin() != 0 {
		t.Errorf("spin %v with a budget of 0", p.Spin())
	}
	rx := newPackets(4, MaxGROSize)
	if n, err := b.TryReadBatch(rx); n != 0 || err != nil {
		t.Fatalf("try-read of an empty socket: %d, %v", n, err)
	}
	waited := make(chan error, 1)
	go func() { waited <- p.Wait() }()
	select {
	case <-waited:
		t.Fatal("Wait returned with nothing to read")
	case <-time.After(50 * time.Millisecond):
	}
	tx := newPacket(100)
	fill(tx, pattern(1, 60))
	tx.Addr = b.LocalAddr()
	if n, err := a.WriteBatch(tx1(tx)); n != 1 || err != nil {
		t.Fatalf("send: %d, %v", n, err)
	}
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Wait did not return for a datagram")
	}
	if n, err := b.TryReadBatch(rx); n != 1 || err != nil || !bytes.Equal(rx[0].Bytes(), pattern(1, 60)) || rx[0].Addr != a.LocalAddr() {
		t.Fatalf("try-read after the wake-up: %d, %v", n, err)
	}
	go func() { waited <- p.Wait() }()
	p.Wake()
	select {
	case <-waited:
	case <-time.After(2 * time.Second):
		t.Fatal("Wake did not end Wait")
	}
}

// With a budget, Spin reports it while the machine has room; Close stops
// the monitor and later Wakes are harmless.
func TestPollerSpinBudget(t *testing.T) {
	p, err := NewPoller(30 * time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Spin(); got != 30*time.Microsecond {
		t.Errorf("spin %v, want 30µs at start", got)
	}
	p.Close()
	p.Wake()
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func tx1(p *dataplane.Packet) []*dataplane.Packet { return []*dataplane.Packet{p} }
