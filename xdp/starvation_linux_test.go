package xdp

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// TestFillRingStarvation holds every received frame, so that the fill ring
// runs dry: further packets must be dropped and counted, and reception must
// resume once the frames are released.
func TestFillRingStarvation(t *testing.T) {
	const fill = 16
	n := newLiveNode(t, SocketConfig{FrameSize: 2048, NumFrames: 64, FillSize: fill, RxSize: 64})
	peer := udpIn(t, n.vethPair, true, 40010)
	dst := netip.AddrPortFrom(n.AddrB, vxlanPort)
	send := func(from, count int) {
		for i := from; i < from+count; i++ {
			if _, err := peer.WriteToUDPAddrPort(fmt.Appendf(nil, "packet %03d", i), dst); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(0, fill)
	held := receiveN(t, n.sock, fill, 2*time.Second)
	if c := n.sock.Frames(); c.Fill != 0 || c.Held != fill {
		t.Fatalf("after %d packets: %+v, want an empty fill ring and %d held", fill, c, fill)
	}
	before, err := n.sock.Stats()
	if err != nil {
		t.Fatal(err)
	}
	const extra = 10
	send(fill, extra)
	expectNothing(t, n.sock, 200*time.Millisecond)
	after, err := n.sock.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats while starved: %+v", after)
	if after.RxDropped-before.RxDropped < extra && after.FillRingEmpty == before.FillRingEmpty {
		t.Fatalf("%d packets sent to a starved socket, stats moved from %+v to %+v", extra, before, after)
	}

	n.sock.Release(held)
	if c := n.sock.Frames(); c.Fill != fill {
		t.Fatalf("after release: %+v, want %d on the fill ring", c, fill)
	}
	send(100, 3)
	got := receiveN(t, n.sock, 3, 2*time.Second)
	for i, d := range got {
		if want := fmt.Appendf(nil, "packet %03d", 100+i); !bytes.HasSuffix(n.sock.Frame(d), want) {
			t.Errorf("after release, packet %d is % x, want it to end in %q", i, n.sock.Frame(d), want)
		}
	}
	n.sock.Release(got)
}
