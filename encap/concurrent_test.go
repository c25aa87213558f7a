package encap

import (
	"sync"
	"testing"
)

// TestConcurrentEncapDecap shares one Params, Outer, Template and
// DecapConfig between goroutines, as the dataplane's workers do; run under -race it checks the
// "safe for concurrent use" claims, and without it that non-DF IDs stay
// unique per peer.
func TestConcurrentEncapDecap(t *testing.T) {
	p := &Params{Kind: KindVXLAN, VNI: 9, DF: DFClear}
	o := newOuter(false)
	cfg := &DecapConfig{VXLANPort: DefaultVXLANPort, ExpectVNI: 9}
	inner := buildInnerUDP4([]byte("concurrent"), 0, false, 64)
	tmpl := NewTemplate(p, o)
	const workers, each = 4, 500
	ids := make([][]uint16, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, testHeadroom+len(inner))
			for range each {
				copy(buf[testHeadroom:], inner)
				var s int
				var r, r2 DropReason
				if w%2 == 1 { // the template shares o's ID counter
					s, r = tmpl.Encap(buf, testHeadroom, len(buf), FlowHash(inner), InnerCsumComplete)
				} else {
					s, r = PrependTunnel(buf, testHeadroom, len(buf), p)
					s, r2 = PrependOuter(buf, s, len(buf), p, o, buf[testHeadroom:], FlowHash(inner))
				}
				if r|r2 != DropNone {
					t.Error(r, r2)
					return
				}
				if _, r := DecapIP(buf[s:], cfg); r != DropNone {
					t.Error(r)
					return
				}
				ids[w] = append(ids[w], IPv4(buf[s:]).ID())
			}
		}()
	}
	wg.Wait()
	seen := map[uint16]bool{}
	for _, l := range ids {
		for _, id := range l {
			if seen[id] {
				t.Fatalf("IPv4 ID %d used twice", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != workers*each {
		t.Fatalf("%d IDs for %d packets", len(seen), workers*each)
	}
}
