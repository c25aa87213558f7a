package xdp

import (
	"net/netip"
	"testing"
	"time"
)

// TestConcurrentReceiveAndTransmit runs the two sides of one Socket on two
// goroutines, as a dataplane port does: the receiving goroutine hands every
// received frame to the transmitting goroutine, which turns it around in
// place and sends it back, so frames travel RX -> TX -> completion ->
// recycle -> fill ring many times over. Run it under -race too.
func TestConcurrentReceiveAndTransmit(t *testing.T) {
	const frames, packets = 64, 400
	n := newLiveNode(t, SocketConfig{FrameSize: 2048, NumFrames: frames, FillSize: 16, RxSize: 16, TxSize: 16, CompletionSize: 16})
	peer := udpIn(t, n.vethPair, true, 40030)
	handoff := make(chan Desc, frames)
	rxErr := make(chan error, 1)
	go func() {
		descs := make([]Desc, 8)
		got := 0
		deadline := time.Now().Add(10 * time.Second)
		for got < packets && time.Now().Before(deadline) {
			k, err := n.sock.Receive(descs)
			if err != nil {
				rxErr <- err
				return
			}
			if k == 0 {
				n.sock.Refill()
				n.sock.Wait(5 * time.Millisecond)
			}
			for _, d := range descs[:k] {
				handoff <- d
			}
			got += k
		}
		close(handoff)
		rxErr <- nil
	}()
	txDone := make(chan int)
	go func() {
		sent := 0
		batch := make([]Desc, 1)
		for d := range handoff {
			swapUDP4(n.sock.Frame(d))
			batch[0] = d
			for {
				k, err := n.sock.Transmit(batch)
				if err != nil {
					t.Error(err)
				}
				if k == 1 {
					break
				}
				time.Sleep(100 * time.Microsecond)
			}
			sent++
		}
		txDone <- sent
	}()

	// The peer keeps a bounded number of packets in flight: losses from
	// a full ring would only make the test slower, not wrong.
	buf := make([]byte, 256)
	echoed := 0
	dst := netip.AddrPortFrom(n.AddrB, vxlanPort)
	for i := 0; i < packets; i++ {
		if _, err := peer.WriteToUDPAddrPort([]byte("round trip"), dst); err != nil {
			t.Fatal(err)
		}
		peer.SetReadDeadline(time.Now().Add(2 * time.Second))
		k, _, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d echoes: %v", echoed, err)
		}
		if string(buf[:k]) != "round trip" {
			t.Fatalf("echo %q", buf[:k])
		}
		echoed++
	}
	if err := <-rxErr; err != nil {
		t.Fatal(err)
	}
	if sent := <-txDone; sent != packets {
		t.Fatalf("transmitting side sent %d of %d", sent, packets)
	}
	// 400 round trips through 16 fill slots: frames went around the
	// recycle path many times. Now all must be home.
	deadline := time.Now().Add(2 * time.Second)
	for n.sock.Frames().TX > 0 && time.Now().Before(deadline) {
		n.sock.Complete()
		time.Sleep(time.Millisecond)
	}
	n.sock.Refill()
	if c := n.sock.Frames(); c.Held != 0 || c.TX != 0 || c.Free+c.Fill != frames {
		t.Fatalf("frames after the run: %+v", c)
	}
}
