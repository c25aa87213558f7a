package main

import (
	"testing"
	"time"
)

// The soak's checks must be able to fail: a flipped byte is corruption, a
// datagram seen twice a duplicate, and a lost one is allowed only inside
// a restart window of a flow through the restarted node.
func TestSoakUDPChecks(t *testing.T) {
	f := &udpFlow{name: "unit", id: 3, via2: true}
	buf := make([]byte, udpMaxSize)
	for seq := range uint64(4) {
		n := datagram(buf, f.id, seq)
		if seq == 2 {
			continue // lost
		}
		f.check(buf[:n])
		if seq == 1 {
			f.check(buf[:n]) // duplicated
		}
	}
	n := datagram(buf, f.id, 5)
	buf[n/2] ^= 1
	f.check(buf[:n])
	n = datagram(buf, 4, 6)
	f.check(buf[:n]) // another flow's
	if f.received != 3 || f.dups != 1 || f.corrupt != 2 || f.example == "" {
		t.Fatalf("received %d, dups %d, corrupt %d (%q); want 3, 1, 2", f.received, f.dups, f.corrupt, f.example)
	}

	tl := &timeline{windows: []window{{kind: windowRestart, from: 10 * time.Second, to: 11 * time.Second}}}
	f.sentAt = []time.Duration{0, time.Second, 12 * time.Second, 13 * time.Second}
	tallies := map[string]*udpTally{}
	bad, lost := f.account(tl, tallies)
	if len(bad) != 0 || len(lost) != 1 || tallies[windowRestart].lost != 1 {
		t.Fatalf("datagram 2 lost 1 s after the restart: bad %q, allowed %v, tallies %+v", bad, lost, tallies)
	}
	f.sentAt[2] = 14 * time.Second // past resumeBound
	bad, _ = f.account(tl, map[string]*udpTally{})
	if len(bad) != 1 {
		t.Fatalf("datagram 2 lost 3 s after the restart: bad %q, want it reported", bad)
	}
	f.via2 = false
	f.sentAt[2] = 10500 * time.Millisecond
	if bad, _ = f.account(tl, map[string]*udpTally{}); len(bad) != 1 {
		t.Fatalf("a flow not through node 2 lost a datagram during its restart: bad %q, want it reported", bad)
	}
}

func TestSoakGrowthBounds(t *testing.T) {
	start := daemonUsage{rss: 50 << 20, fds: 16, goroutines: 28}
	for _, c := range []struct {
		end daemonUsage
		bad bool
	}{
		{daemonUsage{rss: 56 << 20, fds: 17, goroutines: 30}, false},
		{daemonUsage{rss: 80 << 20, fds: 16, goroutines: 28}, true},
		{daemonUsage{rss: 50 << 20, fds: 16 + fdGrowth + 1, goroutines: 28}, true},
		{daemonUsage{rss: 50 << 20, fds: 16, goroutines: 28 + goroutineGrowth + 1}, true},
	} {
		if got := grewTooMuch(start, c.end); (got != "") != c.bad {
			t.Errorf("%v -> %v: %q, want a complaint %v", start, c.end, got, c.bad)
		}
	}
}
