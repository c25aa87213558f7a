package trace

import (
	"context"
	"net/netip"
	"testing"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
)

// In frame io (AF_XDP) the engine sees and writes whole Ethernet frames:
// the filter looks past the outer Ethernet header, and the capture keeps
// the IP packet from the outer IP header on.
func TestTraceFrames(t *testing.T) {
	cfg := testConfig(encap.KindVXLAN)
	cfg.LocalUnderlayMAC = [6]byte{2, 0, 0, 0, 0, 1}
	cfg.Peers[0].UnderlayMAC = [6]byte{2, 0, 0, 0, 0, 2}
	pod, ul := dataplane.NewMemPort("pod0", 8), dataplane.NewMemPort("xdp0", 8)
	e, err := dataplane.New(dataplane.Options{Pod: pod, Underlay: ul, UnderlayKind: dataplane.UnderlayFrame})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	f, _ := ParseFilter("vni 1 or dst port 80")
	hint, local := HintFor(cfg), LocalFor(cfg)
	hint.Frames, local.Frames = true, true
	tr := NewTracer(f, hint, Options{})
	e.SetTracer(tr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	recs := make(chan *Record, 4)
	go func() { _ = tr.Run(ctx, local, func(r *Record) error { recs <- r; return nil }) }()
	defer func() { cancel(); <-done }()

	_, egress, err := Build(cfg, spec(t, "src 10.244.1.5 dst 10.244.2.7 tcp dport 80"))
	if err != nil {
		t.Fatal(err)
	}
	_, ingress, err := Build(cfg, spec(t, "src 10.244.2.7 dst 10.244.1.5 udp dport 9"))
	if err != nil {
		t.Fatal(err)
	}
	frame := append([]byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00}, ingress...)
	pod.Inject(egress, netip.AddrPort{})
	out := <-recs
	ul.Inject(frame, netip.AddrPort{})
	in := <-recs
	if out.Verdict != "encapsulated to peer node2" || in.Verdict != "delivered to pod0" {
		t.Fatalf("verdicts:\n%s%s", out.Text(), in.Text())
	}
	for _, r := range []*Record{out, in} {
		var outer encap.Flow
		if encap.ParseInner(r.Wire, &outer) != encap.DropNone || outer.Proto != encap.ProtoUDP || r.WireLen != len(r.Wire) {
			t.Errorf("%s wire is not the outer IP packet: % x", r.Dir, r.Wire)
		}
	}
}
