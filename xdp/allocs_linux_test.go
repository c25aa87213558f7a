package xdp

import (
	"net/netip"
	"testing"
	"time"
)

// TestBatchesAllocateNothing runs Receive, Release, AllocFrame, Transmit
// (with its completion reaping) and a zero-timeout Wait under
// testing.AllocsPerRun, with real packets flowing both ways.
func TestBatchesAllocateNothing(t *testing.T) {
	n := newLiveNode(t, SocketConfig{FrameSize: 2048, NumFrames: 512})
	peer := udpIn(t, n.vethPair, true, 40020)
	const runs = 100
	for range runs + 20 {
		if _, err := peer.WriteToUDPAddrPort([]byte("fill the RX ring"), netip.AddrPortFrom(n.AddrB, vxlanPort)); err != nil {
			t.Fatal(err)
		}
	}
	// Let the packets land before counting.
	receiveWait := time.Now().Add(2 * time.Second)
	for n.sock.rx.available(runs+1) < runs+1 && time.Now().Before(receiveWait) {
		time.Sleep(time.Millisecond)
	}
	frame := frameSpec{srcMAC: n.MACB, dstMAC: n.MACA, src: n.AddrB, dst: n.AddrA, proto: 17,
		sport: vxlanPort, dport: 40020, payload: []byte("from the allocation test")}.build()
	rx := make([]Desc, 1)
	tx := make([]Desc, 1)
	received, sent := 0, 0
	allocs := testing.AllocsPerRun(runs, func() {
		k, err := n.sock.Receive(rx)
		if err != nil {
			t.Fatal(err)
		}
		received += k
		n.sock.Release(rx[:k])
		if addr, buf, ok := n.sock.AllocFrame(); ok {
			copy(buf, frame)
			tx[0] = Desc{Addr: addr, Len: uint32(len(frame))}
			k, err := n.sock.Transmit(tx)
			if err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				n.sock.FreeFrame(addr)
			}
			sent += k
		}
		if _, err := n.sock.Wait(0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch, want 0", allocs)
	}
	if received < runs || sent < runs {
		t.Fatalf("the measured loop received %d and sent %d packets, want at least %d each", received, sent, runs)
	}
	waitFramesSettle(t, n.sock, 512)
}
