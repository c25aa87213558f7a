package xdp

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
)

// podTries reads both LPM tries back, each prefix with its value.
func podTries(t *testing.T, pr *PodRedirect) map[netip.Prefix]uint8 {
	t.Helper()
	out := make(map[netip.Prefix]uint8)
	var k4 lpmKey4
	var k6 lpmKey6
	var v uint8
	it := pr.dst4.Iterate()
	for it.Next(&k4, &v) {
		out[netip.PrefixFrom(netip.AddrFrom4(k4.Addr), int(k4.PrefixLen))] = v
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	it = pr.dst6.Iterate()
	for it.Next(&k6, &v) {
		out[netip.PrefixFrom(netip.AddrFrom16(k6.Addr), int(k6.PrefixLen))] = v
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func newTestPodRedirect(t *testing.T, maxSockets int) *PodRedirect {
	t.Helper()
	testenv.RequireRoot(t)
	pr, err := NewPodRedirect(maxSockets)
	if err != nil {
		t.Fatalf("NewPodRedirect: %+v", err)
	}
	t.Cleanup(func() { pr.Close() })
	return pr
}

// TestPodSetDestinationsWritesTheDifference marks the entries it expects
// to be left alone with a value SetDestinations never writes: they must
// keep it, so they were neither rewritten nor deleted and re-added.
func TestPodSetDestinationsWritesTheDifference(t *testing.T) {
	pr := newTestPodRedirect(t, 1)
	first := prefixes("10.1.0.0/16", "10.2.0.0/16", "10.2.3.0/24", "fd00:1::/64", "fd00:2::/64")
	if err := pr.SetDestinations(first); err != nil {
		t.Fatal(err)
	}
	if got := podTries(t, pr); len(got) != len(first) {
		t.Fatalf("tries hold %v, want %v", got, first)
	}
	const untouched = 7
	kept := prefixes("10.2.0.0/16", "fd00:2::/64")
	for _, p := range kept {
		var err error
		if p.Addr().Is4() {
			err = pr.dst4.Put(lpmKey4{PrefixLen: uint32(p.Bits()), Addr: p.Addr().As4()}, uint8(untouched))
		} else {
			err = pr.dst6.Put(lpmKey6{PrefixLen: uint32(p.Bits()), Addr: p.Addr().As16()}, uint8(untouched))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Unmasked and duplicated on the way in.
	second := prefixes("10.2.0.0/16", "10.3.9.9/16", "10.3.0.0/16", "fd00:2::1/64", "fd00:3::/48", "0.0.0.0/0")
	if err := pr.SetDestinations(second); err != nil {
		t.Fatal(err)
	}
	want := map[netip.Prefix]uint8{
		netip.MustParsePrefix("0.0.0.0/0"):   1,
		netip.MustParsePrefix("10.2.0.0/16"): untouched,
		netip.MustParsePrefix("10.3.0.0/16"): 1,
		netip.MustParsePrefix("fd00:2::/64"): untouched,
		netip.MustParsePrefix("fd00:3::/48"): 1,
	}
	got := podTries(t, pr)
	for p, v := range want {
		if got[p] != v {
			t.Errorf("%v: value %d, want %d (tries %v)", p, got[p], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("tries hold %v, want %v", got, want)
	}
	wantList := prefixes("0.0.0.0/0", "10.2.0.0/16", "10.3.0.0/16", "fd00:2::/64", "fd00:3::/48")
	if d := pr.Destinations(); !slices.Equal(d, wantList) {
		t.Errorf("Destinations %v, want %v", d, wantList)
	}

	// An invalid prefix changes nothing.
	err := pr.SetDestinations(append(prefixes("10.9.0.0/16"), netip.Prefix{}))
	if !errors.Is(err, ErrBadPodPrefix) {
		t.Fatalf("invalid prefix: %v, want ErrBadPodPrefix", err)
	}
	if d := pr.Destinations(); !slices.Equal(d, wantList) {
		t.Errorf("after a rejected set: Destinations %v, want %v", d, wantList)
	}

	if err := pr.SetDestinations(nil); err != nil {
		t.Fatal(err)
	}
	if got := podTries(t, pr); len(got) != 0 || len(pr.Destinations()) != 0 {
		t.Fatalf("after SetDestinations(nil) the tries hold %v", got)
	}
}

// podSlots reads the slot map back.
func podSlots(t *testing.T, pr *PodRedirect) map[podSlotKey]uint32 {
	t.Helper()
	out := make(map[podSlotKey]uint32)
	var k podSlotKey
	var v uint32
	it := pr.slots.Iterate()
	for it.Next(&k, &v) {
		out[k] = v
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// extraVethInB adds a second veth pair inside b's namespace, both ends
// up (removed with the namespace), and returns the ifindex of the first.
// Ifindexes are per namespace: a's and b's veth ends may share one.
func extraVethInB(t *testing.T, p *vethPair, tag string) int {
	t.Helper()
	name, peer := p.IfB+tag, p.IfB+tag+"p"
	testenv.Run(t, "ip", "-n", p.NsB, "link", "add", name, "type", "veth", "peer", "name", peer)
	testenv.Run(t, "ip", "-n", p.NsB, "link", "set", name, "up")
	testenv.Run(t, "ip", "-n", p.NsB, "link", "set", peer, "up")
	var idx int
	testenv.InNetns(t, p.HB, func() error {
		ifi, err := net.InterfaceByName(name)
		if err == nil {
			idx = ifi.Index
		}
		return err
	})
	return idx
}

func TestPodRegisterSlots(t *testing.T) {
	p := newVethPair(t)
	idxC := extraVethInB(t, p, "c")
	var sa, sb *Socket
	testenv.InNetns(t, p.HB, func() (err error) {
		sa, err = Open(idxC, 0, SocketConfig{FrameSize: 2048, NumFrames: 64})
		return err
	})
	t.Cleanup(func() { sa.Close() })
	testenv.InNetns(t, p.HB, func() (err error) {
		sb, err = Open(p.IdxB, 0, SocketConfig{FrameSize: 2048, NumFrames: 64})
		return err
	})
	t.Cleanup(func() { sb.Close() })
	keyA := podSlotKey{Ifindex: uint32(idxC)}
	keyB := podSlotKey{Ifindex: uint32(p.IdxB)}

	pr := newTestPodRedirect(t, 1)
	if err := pr.Register(sa); err != nil {
		t.Fatal(err)
	}
	if err := pr.Register(sa); !errors.Is(err, ErrPodSocketRegistered) {
		t.Fatalf("second Register of the same socket: %v, want ErrPodSocketRegistered", err)
	}
	if err := pr.Register(sb); !errors.Is(err, ErrPodSocketsFull) {
		t.Fatalf("Register beyond maxSockets: %v, want ErrPodSocketsFull", err)
	}
	if err := pr.Unregister(sb); !errors.Is(err, ErrPodSocketNotRegistered) {
		t.Fatalf("Unregister of an unregistered socket: %v, want ErrPodSocketNotRegistered", err)
	}
	if got := podSlots(t, pr); len(got) != 1 || got[keyA] != 0 {
		t.Fatalf("slot map %v, want only %v -> 0", got, keyA)
	}
	if err := pr.Unregister(sa); err != nil {
		t.Fatal(err)
	}
	if err := pr.Unregister(sa); !errors.Is(err, ErrPodSocketNotRegistered) {
		t.Fatalf("second Unregister: %v, want ErrPodSocketNotRegistered", err)
	}
	if err := pr.Register(sb); err != nil {
		t.Fatalf("Register into the freed slot: %v", err)
	}
	if got := podSlots(t, pr); len(got) != 1 || got[keyB] != 0 {
		t.Fatalf("slot map %v, want only %v -> 0", got, keyB)
	}
}

// TestPodRedirectConcurrentControl runs every control method at once; the
// race detector and the final state judge it.
func TestPodRedirectConcurrentControl(t *testing.T) {
	f := newPodFixture(t, nil)
	sets := [][]netip.Prefix{testPodDests, prefixes("10.244.0.0/16"), prefixes("fd00::/8", "10.0.0.0/8")}
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			for i := range 50 {
				if err := f.pr.SetDestinations(sets[(g+i)%len(sets)]); err != nil {
					t.Error(err)
					return
				}
				_ = f.pr.Destinations()
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			if err := f.pr.Unregister(f.sock); err != nil {
				t.Error(err)
				return
			}
			if err := f.pr.Register(f.sock); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	if err := f.pr.SetDestinations(testPodDests); err != nil {
		t.Fatal(err)
	}
	if got := podTries(t, f.pr); len(got) != len(testPodDests) {
		t.Fatalf("tries hold %v, want %v", got, testPodDests)
	}
	if got := f.run(t, podFrame(netip.MustParseAddr("10.244.3.4"), 64), f.IdxB, 0); got != xdpRetRedirect {
		t.Fatalf("verdict %d after the churn, want XDP_REDIRECT", got)
	}
}
