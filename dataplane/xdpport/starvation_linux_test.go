package xdpport

import (
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/xdp"
)

// A reader that falls behind starves the fill ring: the kernel drops what
// has no frame and counts it, nothing else is lost, and once the reader
// reads again the frames go back to the fill ring and packets flow.
func TestSlowReaderLosesOnlyCountedPackets(t *testing.T) {
	l := newLink(t)
	const frames = 64 // fill ring: 32
	p := l.openPort(t, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: frames}})
	if p.BatchSize() != frames/4 {
		t.Errorf("BatchSize %d with a fill ring of %d, want it capped at half the ring", p.BatchSize(), frames/2)
	}
	peer := l.udpOn(t, true, 40030)
	dst := netip.AddrPortFrom(l.AddrB, tunnelPort)
	send := func(n int) {
		for range n {
			if _, err := peer.WriteToUDPAddrPort([]byte("burst"), dst); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Stop a ReadBatch that would wait for packets that never come.
	guard := time.AfterFunc(10*time.Second, func() { p.Close() })
	defer guard.Stop()
	pkts := newPackets(64)
	readAll := func(want int) {
		t.Helper()
		for got := 0; got < want; {
			n, err := p.ReadBatch(pkts)
			if err != nil {
				t.Fatalf("after %d of %d packets: %v", got, want, err)
			}
			got += n
		}
	}

	// One packet first, so that the peer has resolved our MAC before the
	// burst (the kernel would queue the burst behind ARP).
	send(1)
	readAll(1)
	p.giveBack()

	const sent = 100
	send(sent)
	want := uint64(sent - frames/2) // the fill ring holds frames/2 frames
	var st xdp.Stats
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if st, err = p.Stats(); err != nil {
			t.Fatal(err)
		}
		if st.RxDropped >= want || time.Now().After(deadline) {
			break
		}
	}
	if st.RxDropped != want || st.FillRingEmpty == 0 {
		t.Fatalf("a burst of %d into a fill ring of %d: %+v, want %d dropped", sent, frames/2, st, want)
	}
	received := sent - int(st.RxDropped)
	readAll(received)

	// The reader's next ReadBatch first gives its last batch back to the
	// fill ring; do that step now, since here the 5 packets are sent
	// before the reader calls again (the last batch may hold every frame
	// the fill ring had).
	p.giveBack()
	send(5)
	readAll(5)
	after, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.RxDropped != st.RxDropped {
		t.Errorf("drops after the reader caught up: %d, were %d", after.RxDropped, st.RxDropped)
	}
	p.giveBack()
	if c := p.Frames(); c.Held != 0 || c.Free+c.Fill+c.TX != frames {
		t.Errorf("frames after recovery: %+v", c)
	}
}
