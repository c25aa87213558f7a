package xdpport

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/xdp"
)

// payloadOf returns the UDP payload of a received test frame.
func payloadOf(pk *dataplane.Packet) string { return string(pk.Bytes()[14+20+8:]) }

// waitGroupSettled waits for every member's completions and checks that
// each member has all of its frames back.
func waitGroupSettled(t *testing.T, g *Group, framesEach int) {
	t.Helper()
	for _, m := range g.Members() {
		m.giveBack()
		waitSettled(t, m, framesEach)
	}
}

// Two sockets on queues 0 and 2 of a four-queue veth: what arrives on
// either queue is read, what arrives on a queue without a socket passes to
// the kernel, and every frame goes back where it came from.
func TestGroupReadsEveryQueue(t *testing.T) {
	l := newMultiQueueLink(t, 4)
	const frames = 128
	g := l.openGroup(t, []int{0, 2}, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: frames}})
	if len(g.Members()) != 2 || g.Members()[0].Queue() != 0 || g.Members()[1].Queue() != 2 {
		t.Fatalf("members on queues %d, %d; want 0 and 2", g.Members()[0].Queue(), g.Members()[1].Queue())
	}
	kernel := l.udpOn(t, false, tunnelPort)
	in := l.injector(t, 4)
	want := map[string]bool{}
	for q, n := range map[int]int{0: 3, 2: 5} {
		for i := range n {
			p := fmt.Sprintf("q%d-%d", q, i)
			want[p] = true
			in.send(t, q, l.tunnelFrame(p))
		}
	}
	in.send(t, 1, l.tunnelFrame("queue 1 has no socket"))
	if got, _ := readFrom(t, kernel); string(got) != "queue 1 has no socket" {
		t.Fatalf("the kernel's socket got %q", got)
	}

	pkts := newPackets(16)
	for len(want) > 0 {
		n, err := g.ReadBatch(pkts)
		if err != nil {
			t.Fatal(err)
		}
		for _, pk := range pkts[:n] {
			p := payloadOf(pk)
			if !want[p] {
				t.Fatalf("unexpected or repeated frame %q", p)
			}
			delete(want, p)
		}
	}
	if r0, r2 := g.Members()[0].Received(), g.Members()[1].Received(); r0 != 3 || r2 != 5 {
		t.Errorf("members received %d and %d frames, want 3 and 5", r0, r2)
	}
	for _, m := range g.Members() {
		if st, err := m.Stats(); err != nil || st.RxDropped != 0 {
			t.Errorf("queue %d: stats %+v, %v", m.Queue(), st, err)
		}
	}
	waitGroupSettled(t, g, frames)
}

// Both queues hold more than a batch: reads alternate between them, so
// neither starves while the other has frames waiting.
func TestGroupReadIsFair(t *testing.T) {
	l := newMultiQueueLink(t, 2)
	g := l.openGroup(t, []int{0, 1}, tunnelPort, Options{BatchSize: 4, Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 128}})
	in := l.injector(t, 2)
	for q := range 2 {
		in.burst(t, q, l.tunnelFrame(fmt.Sprintf("q%d", q)), 20)
	}
	pkts := newPackets(4)
	got := map[string]int{}
	for round := range 10 {
		n, err := g.ReadBatch(pkts)
		if err != nil {
			t.Fatal(err)
		}
		for _, pk := range pkts[:n] {
			got[payloadOf(pk)]++
		}
		// After every second read both queues have had their turn.
		if round%2 == 1 && got["q0"] != got["q1"] {
			t.Fatalf("after %d reads: %v; want both queues served alike", round+1, got)
		}
	}
	if got["q0"] != 20 || got["q1"] != 20 {
		t.Fatalf("read %v, want 20 frames of each queue", got)
	}
}

// A frame lent by either member goes back out in place on the TX ring of
// the socket that received it; a foreign buffer is copied.
func TestGroupSendsLentFramesOnTheirQueue(t *testing.T) {
	l := newMultiQueueLink(t, 2)
	const frames = 64
	g := l.openGroup(t, []int{0, 1}, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: frames}})
	peer := l.udpOn(t, true, 40002)
	in := l.injector(t, 2)
	in.send(t, 0, l.tunnelFrame("inner 0"))
	in.send(t, 1, l.tunnelFrame("inner 1"))
	pkts := newPackets(4)
	for n := 0; n < 2; {
		k, err := g.ReadBatch(pkts[n:])
		if err != nil {
			t.Fatal(err)
		}
		n += k
	}
	var received [][]byte
	for _, pk := range pkts[:2] {
		inner := bytes.Clone(pk.Bytes())
		received = append(received, inner)
		outer := udpFrame(l.MACB, l.MACA, netip.AddrPortFrom(l.AddrB, tunnelPort), netip.AddrPortFrom(l.AddrA, 40002), inner)
		copy(pk.Prepend(42), outer[:42])
	}
	foreign := newPackets(1)
	copied := udpFrame(l.MACB, l.MACA, netip.AddrPortFrom(l.AddrB, tunnelPort), netip.AddrPortFrom(l.AddrA, 40002), []byte("copied"))
	foreign[0].Reset(dataplane.Headroom)
	foreign[0].SetLen(copy(foreign[0].Buf[foreign[0].Start:], copied))
	owners := []int{g.ownerOf(pkts[0]), g.ownerOf(pkts[1]), g.ownerOf(foreign[0])}
	if owners[0] == owners[1] || owners[2] != copyMember {
		t.Fatalf("owners %v: want the two received frames on different members, the foreign one on %d", owners, copyMember)
	}
	batch := []*dataplane.Packet{pkts[0], foreign[0], pkts[1]}
	if n, err := g.WriteBatch(batch); n != 3 || err != nil {
		t.Fatalf("WriteBatch: %d, %v", n, err)
	}
	for i, m := range g.Members() {
		if m.Sent() != map[bool]uint64{true: 2, false: 1}[i == copyMember] {
			t.Errorf("member %d sent %d frames", i, m.Sent())
		}
	}
	var gotPeer []string
	for range 3 {
		b, _ := readFrom(t, peer)
		gotPeer = append(gotPeer, string(b))
	}
	for _, want := range []string{string(received[0]), string(received[1]), "copied"} {
		if !strings.Contains(strings.Join(gotPeer, "\x00"), want) {
			t.Errorf("peer did not get % x", want)
		}
	}
	waitGroupSettled(t, g, frames)
}

func TestGroupCloseWakesBlockedReaderAndDetaches(t *testing.T) {
	l := newMultiQueueLink(t, 2)
	g := l.openGroup(t, []int{0, 1}, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 64}})
	closeWakesBlockedReader(t, l, g)
	if !g.freed {
		t.Error("Close with no batch lent out did not free the group")
	}
	for _, m := range g.Members() {
		if !m.isFreed() {
			t.Errorf("member on queue %d not freed", m.Queue())
		}
	}
	if _, err := g.WriteTo(1, newPackets(1)); !errors.Is(err, dataplane.ErrPortClosed) {
		t.Errorf("WriteTo after Close: %v", err)
	}
}

// A reader holding frames of one member when Close runs keeps them until
// its next ReadBatch, which frees that member and the group.
func TestGroupCloseLeavesLentBatchUntilNextRead(t *testing.T) {
	l := newMultiQueueLink(t, 2)
	g := l.openGroup(t, []int{0, 1}, tunnelPort, Options{Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 64}})
	l.injector(t, 2).send(t, 1, l.tunnelFrame("held over close"))
	pkts := newPackets(4)
	if n, err := g.ReadBatch(pkts); n != 1 || err != nil {
		t.Fatalf("ReadBatch: %d, %v", n, err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if g.freed || g.Members()[1].isFreed() || !g.Members()[0].isFreed() {
		t.Fatalf("after Close: group freed %v, members freed %v %v; want only the idle member freed",
			g.freed, g.Members()[0].isFreed(), g.Members()[1].isFreed())
	}
	if payloadOf(pkts[0]) != "held over close" {
		t.Fatal("lent packet changed after Close")
	}
	if _, err := g.ReadBatch(pkts); !errors.Is(err, dataplane.ErrPortClosed) {
		t.Fatalf("ReadBatch after Close: %v", err)
	}
	if !g.freed || !g.Members()[1].isFreed() {
		t.Fatal("the reader's return did not free the group")
	}
}

// A queue the interface lacks fails OpenQueues and leaves no program
// attached and no socket bound (the sockets opened before it are closed).
func TestOpenQueuesFailsCleanly(t *testing.T) {
	l := newMultiQueueLink(t, 2)
	testenv.InNetns(t, l.HB, func() error {
		if _, err := OpenQueues(l.IdxB, []int{0, 1, 5}, Options{Redirect: redirectTo(l.AddrB, tunnelPort)}); err == nil {
			return errors.New("OpenQueues on queue 5 of a 2-queue veth succeeded")
		}
		if _, err := OpenQueues(l.IdxB, []int{1, 1}, Options{Redirect: redirectTo(l.AddrB, tunnelPort)}); err == nil {
			return errors.New("OpenQueues with a queue listed twice succeeded")
		}
		return nil
	})
	if out := testenv.Run(t, "ip", "-n", l.NsB, "link", "show", l.IfB); strings.Contains(out, "xdp") {
		t.Errorf("XDP program attached after a failed OpenQueues:\n%s", out)
	}
	// Queues 0 and 1 are free again: a second group binds them, once the
	// kernel's deferred release of the closed sockets' pools has run.
	var g *Group
	deadline := time.Now().Add(2 * time.Second)
	testenv.InNetns(t, l.HB, func() (err error) {
		for {
			g, err = OpenQueues(l.IdxB, []int{0, 1}, Options{Redirect: redirectTo(l.AddrB, tunnelPort),
				Socket: xdp.SocketConfig{FrameSize: 2048, NumFrames: 64}})
			if !errors.Is(err, xdp.ErrQueueBusy) || time.Now().After(deadline) {
				return err
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	g.Close()
}
