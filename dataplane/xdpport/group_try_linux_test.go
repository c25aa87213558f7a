package xdpport

import (
	"testing"
	"time"

	"github.com/podfwd/podfwd/xdp"
	"golang.org/x/sys/unix"
)

// TryReadBatch never blocks: empty rings give 0 at once; frames on any
// member are read; a poll on FDs says when there is something to read.
func TestGroupTryReadBatch(t *testing.T) {
	l := newMultiQueueLink(t, 2)
	const frames = 128
	g := l.openGroup(t, []int{0, 1}, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: frames}})
	pkts := newPackets(16)
	start := time.Now()
	if n, err := g.TryReadBatch(pkts); n != 0 || err != nil {
		t.Fatalf("empty group: TryReadBatch = %d, %v", n, err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("TryReadBatch on empty rings took %v", d)
	}
	fds := g.FDs()
	if len(fds) != 2 {
		t.Fatalf("FDs = %v, want one per member", fds)
	}
	in := l.injector(t, 2)
	in.send(t, 1, l.tunnelFrame("on queue 1"))
	pfd := []unix.PollFd{{Fd: int32(fds[0]), Events: unix.POLLIN}, {Fd: int32(fds[1]), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, 5000); n != 1 || err != nil || pfd[1].Revents&unix.POLLIN == 0 {
		t.Fatalf("poll on FDs: %d, %v, revents %v", n, err, pfd)
	}
	got := 0
	deadline := time.Now().Add(5 * time.Second)
	for got == 0 && time.Now().Before(deadline) {
		n, err := g.TryReadBatch(pkts)
		if err != nil {
			t.Fatal(err)
		}
		for _, pk := range pkts[:n] {
			if p := payloadOf(pk); p != "on queue 1" {
				t.Fatalf("read %q", p)
			}
		}
		got += n
	}
	if got != 1 {
		t.Fatalf("read %d frames, want 1", got)
	}
	if n, err := g.TryReadBatch(pkts); n != 0 || err != nil {
		t.Fatalf("drained group: TryReadBatch = %d, %v", n, err)
	}
	waitGroupSettled(t, g, frames)
}
