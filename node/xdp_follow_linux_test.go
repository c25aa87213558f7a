package node

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
)

var (
	macA = [6]byte{2, 0, 0, 0, 0, 0xa}
	macB = [6]byte{2, 0, 0, 0, 0, 0xb}
	macC = [6]byte{2, 0, 0, 0, 0, 0xc}
)

func followTestConfig(gen uint64, peers ...string) *dataplane.Config {
	cfg := &dataplane.Config{Generation: gen, LocalUnderlay: netip.MustParseAddr("10.99.0.1")}
	for _, name := range peers {
		cfg.Peers = append(cfg.Peers, dataplane.Peer{Name: name, Underlay: netip.MustParseAddr(name)})
	}
	return cfg
}

func TestWithFrameAddressesDiffsAgainstTheInstalledConfig(t *testing.T) {
	b, c, d := netip.MustParseAddr("10.99.0.2"), netip.MustParseAddr("10.99.0.3"), netip.MustParseAddr("10.99.0.4")
	gw := netip.MustParseAddr("10.99.0.254")
	src := followTestConfig(5, "10.99.0.2", "10.99.0.3", "10.99.0.4")
	start := frameAddresses{local: macA, peers: map[netip.Addr]peerNextHop{
		b: {hop: b, mac: macB},
		c: {hop: gw},                     // unresolved
		d: {err: errors.New("no route")}, // no next hop at all
	}}
	first, changes := withFrameAddresses(src, nil, start)
	if first.Generation != 5 || first.LocalUnderlayMAC != macA || first.Peers[0].UnderlayMAC != macB || first.Peers[1].UnderlayMAC != ([6]byte{}) {
		t.Fatalf("start config: generation %d, local %x, peers %+v", first.Generation, first.LocalUnderlayMAC, first.Peers)
	}
	if len(changes) != 3 || !changes[0].added || changes[2].err == nil {
		t.Errorf("start: every peer is added, the routeless one with its error; got %+v", changes)
	}
	if src.Peers[0].UnderlayMAC != ([6]byte{}) || src.LocalUnderlayMAC != ([6]byte{}) {
		t.Error("the source config was changed; it is shared with the control plane")
	}

	same, changes := withFrameAddresses(src, first, start)
	if len(changes) != 0 {
		t.Errorf("the same addresses read again: %+v, want no change", changes)
	}
	if same.Generation != 6 {
		t.Errorf("generation %d after 5 was installed, want 6", same.Generation)
	}

	// The gateway resolves, peer b's MAC moves, and our own interface's too.
	later := frameAddresses{local: macC, peers: map[netip.Addr]peerNextHop{
		b: {hop: b, mac: macC},
		c: {hop: gw, mac: macA},
		d: {err: errors.New("no route")},
	}}
	next, changes := withFrameAddresses(src, first, later)
	if next.Generation != 6 || next.LocalUnderlayMAC != macC || next.Peers[0].UnderlayMAC != macC || next.Peers[1].UnderlayMAC != macA {
		t.Fatalf("next config: generation %d, local %x, peers %+v", next.Generation, next.LocalUnderlayMAC, next.Peers)
	}
	want := []macChange{
		{old: macA, new: macC},
		{peer: "10.99.0.2", underlay: b, hop: b, old: macB, new: macC},
		{peer: "10.99.0.3", underlay: c, hop: gw, new: macA},
	}
	if !slices.Equal(changes, want) {
		t.Errorf("changes\n got %+v\nwant %+v", changes, want)
	}

	// Peer b's entry fails: its MAC goes back to zero. A control-plane
	// config numbered higher keeps its own generation.
	failed := frameAddresses{local: macC, peers: map[netip.Addr]peerNextHop{b: {hop: b}, c: {hop: gw, mac: macA}}}
	src9 := followTestConfig(9, "10.99.0.2", "10.99.0.3")
	last, changes := withFrameAddresses(src9, next, failed)
	if last.Generation != 9 || last.Peers[0].UnderlayMAC != ([6]byte{}) {
		t.Errorf("generation %d, peer b's MAC %x; want 9 and zero", last.Generation, last.Peers[0].UnderlayMAC)
	}
	if len(changes) != 1 || changes[0].old != macC || changes[0].new != ([6]byte{}) {
		t.Errorf("changes %+v, want peer b's MAC gone", changes)
	}
}

func TestAskScheduleBacksOffPerNextHop(t *testing.T) {
	s := newAskSchedule(time.Second, 4*time.Second)
	h1, h2 := netip.MustParseAddr("10.99.0.2"), netip.MustParseAddr("10.99.0.3")
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration, hops ...netip.Addr) []netip.Addr { return s.due(t0.Add(d), hops) }
	steps := []struct {
		at   time.Duration
		in   []netip.Addr
		want []netip.Addr
	}{
		{0, []netip.Addr{h1}, []netip.Addr{h1}},                          // at once
		{500 * time.Millisecond, []netip.Addr{h1, h2}, []netip.Addr{h2}}, // h1 waits 1 s, h2 is new
		{time.Second, []netip.Addr{h1, h2}, []netip.Addr{h1}},
		{2 * time.Second, []netip.Addr{h1, h2}, []netip.Addr{h2}}, // h1 next at 3 s; h2's second turn (1.5 s) has come
		{3 * time.Second, []netip.Addr{h1, h2}, []netip.Addr{h1}},
		{7 * time.Second, []netip.Addr{h1}, []netip.Addr{h1}},             // capped at 4 s; h2 resolved and forgotten
		{7500 * time.Millisecond, []netip.Addr{h1, h2}, []netip.Addr{h2}}, // h2 unresolved again: at once
		{11 * time.Second, []netip.Addr{h1}, []netip.Addr{h1}},            // every 4 s at most
	}
	for i, st := range steps {
		if got := at(st.at, st.in...); !slices.Equal(got, st.want) {
			t.Errorf("step %d at %v: asked %v, want %v", i, st.at, got, st.want)
		}
	}
}
