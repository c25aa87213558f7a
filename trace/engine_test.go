package trace

import (
	"context"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
)

var peerAddr = netip.AddrPortFrom(netip.MustParseAddr("10.99.0.2"), 4789)

// rig is an engine over in-memory ports, running, with a tracer.
type rig struct {
	e        *dataplane.Engine
	pod, ul  *dataplane.MemPort
	tr       *Tracer
	cfg      *dataplane.Config
	records  chan *Record
	stopped  chan error
	cancelTr context.CancelFunc
}

func newRig(t *testing.T, kind encap.Kind, filter string, opts Options) *rig {
	t.Helper()
	cfg := testConfig(kind)
	r := &rig{pod: dataplane.NewMemPort("pod0", 64), ul: dataplane.NewMemPort("underlay0", 64), cfg: cfg,
		records: make(chan *Record, 1024), stopped: make(chan error, 1)}
	ulKind := dataplane.UnderlayUDP
	if kind == encap.KindIPIP {
		ulKind = dataplane.UnderlayIP
	}
	e, err := dataplane.New(dataplane.Options{Pod: r.pod, Underlay: r.ul, UnderlayKind: ulKind})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	r.e = e
	f, err := ParseFilter(filter)
	if err != nil {
		t.Fatal(err)
	}
	r.tr = NewTracer(f, HintFor(cfg), opts)
	e.SetTracer(r.tr)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { _ = e.Run(ctx); close(runDone) }()
	trCtx, cancelTr := context.WithCancel(context.Background())
	r.cancelTr = cancelTr
	go func() {
		r.stopped <- r.tr.Run(trCtx, LocalFor(cfg), func(rec *Record) error { r.records <- rec; return nil })
	}()
	t.Cleanup(func() { cancelTr(); cancel(); <-runDone; <-r.stopped })
	return r
}

func (r *rig) next(t *testing.T) *Record {
	t.Helper()
	select {
	case rec := <-r.records:
		return rec
	case <-time.After(5 * time.Second):
		t.Fatal("no trace record within 5s")
		return nil
	}
}

// udpPayload strips the outer IP and UDP headers Build makes: what a UDP
// socket would return.
func udpPayload(t *testing.T, outer []byte) []byte {
	t.Helper()
	hl := int(outer[0]&0x0f) * 4
	if outer[9] != encap.ProtoUDP {
		t.Fatalf("outer protocol %d, want UDP", outer[9])
	}
	return outer[hl+encap.UDPLen:]
}

func stages(r *Record) string {
	var s []string
	for _, st := range r.Stages {
		s = append(s, st.Stage)
	}
	return strings.Join(s, ",")
}

func spec(t *testing.T, s string) Spec {
	t.Helper()
	sp, err := ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// Each path through the engine leaves the stages and verdict it took in
// the trace, for packets sent through a running Engine.
func TestTracePaths(t *testing.T) {
	cases := []struct {
		name    string
		kind    encap.Kind
		spec    string
		mangle  func([]byte) // applied to the tunnel payload / inner packet
		stages  string
		verdict string
	}{
		{"remote encap vxlan", encap.KindVXLAN, "src 10.244.1.5 dst 10.244.2.7 tcp dport 80", nil,
			"receive,parse,route,encap", "encapsulated to peer node2"},
		{"remote encap geneve", encap.KindGeneve, "src 10.244.1.5 dst 10.244.2.7 udp dport 53", nil,
			"receive,parse,route,encap", "encapsulated to peer node2"},
		{"decap and local delivery", encap.KindVXLAN, "src 10.244.2.7 dst 10.244.1.5 tcp dport 22", nil,
			"receive,decap,parse,route,send", "delivered to pod0"},
		{"decap geneve", encap.KindGeneve, "src 10.244.2.7 dst 10.244.1.5 icmp", nil,
			"receive,decap,parse,route,send", "delivered to pod0"},
		{"no-route", encap.KindVXLAN, "src 10.244.1.5 dst 10.250.0.1 udp", nil,
			"receive,parse,route,drop", "dropped: no-route"},
		{"local-loop", encap.KindVXLAN, "egress src 10.244.1.5 dst 10.244.1.6 udp", nil,
			"receive,parse,route,drop", "dropped: local-loop"},
		{"ttl-exceeded", encap.KindVXLAN, "src 10.244.1.5 dst 10.244.2.7 udp ttl 0", nil,
			"receive,parse,route,drop,icmp", "dropped: ttl-exceeded, answered with ICMP"},
		{"too-big", encap.KindVXLAN, "src 10.244.1.5 dst 10.244.2.7 udp size 1480", nil,
			"receive,parse,route,drop,icmp", "dropped: too-big, answered with ICMP"},
		{"truncated", encap.KindVXLAN, "src 10.244.1.5 dst 10.244.2.7 udp", func(b []byte) { binary.BigEndian.PutUint16(b[2:], 2000) },
			"receive,drop", "dropped: bad-length"},
		{"spoofed-source", encap.KindVXLAN, "ingress from 10.99.0.2 src 10.244.3.3 dst 10.244.1.5 udp", nil,
			"receive,decap,parse,drop", "dropped: spoofed-source"},
		{"not-local", encap.KindVXLAN, "ingress from 10.99.0.2 src 10.244.2.3 dst 10.244.2.4 udp", nil,
			"receive,decap,parse,route,drop", "dropped: not-local-destination"},
		{"bad-vni", encap.KindVXLAN, "src 10.244.2.7 dst 10.244.1.5 udp vni 9", nil,
			"receive,drop", "dropped: bad-vni"},
		{"bad-vxlan-flags", encap.KindVXLAN, "src 10.244.2.7 dst 10.244.1.5 udp", func(b []byte) { b[0] = 0 },
			"receive,drop", "dropped: bad-vxlan-flags"},
		{"unknown-peer", encap.KindVXLAN, "ingress from 10.99.0.9 src 10.244.2.7 dst 10.244.1.5 udp", nil,
			"receive,drop", "dropped: unknown-peer"},
		{"oversize-inner", encap.KindVXLAN, "src 10.244.2.7 dst 10.244.1.5 udp size 1480", nil,
			"receive,decap,parse,route,drop", "dropped: oversize-inner"},
		{"ipv6 remote encap", encap.KindVXLAN, "src fd00:244:1::5 dst fd00:244:2::7 udp", nil,
			"receive,parse,route,encap", "encapsulated to peer node2"},
		{"ipip decap", encap.KindIPIP, "src 10.244.2.7 dst 10.244.1.5 tcp dport 443", nil,
			"receive,decap,parse,route,send", "delivered to pod0"},
		{"ipip encap", encap.KindIPIP, "src 10.244.1.5 dst 10.244.2.7 tcp dport 443", nil,
			"receive,parse,route,encap", "encapsulated to peer node2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.kind, "", Options{})
			dir, pkt, err := Build(r.cfg, spec(t, tc.spec))
			if err != nil {
				t.Fatal(err)
			}
			if dir == dataplane.Egress {
				if tc.mangle != nil {
					tc.mangle(pkt)
				}
				r.pod.Inject(pkt, netip.AddrPort{})
			} else {
				from := peerAddr
				if sp := spec(t, tc.spec); sp.From.IsValid() && sp.From != peerAddr.Addr() {
					// A stranger: Build needs a peer to encapsulate as.
					pkt = mustBuildFrom(t, r.cfg, tc.spec)
					from = netip.AddrPortFrom(sp.From, 4789)
				} else if sp.From.IsValid() {
					from = netip.AddrPortFrom(sp.From, 4789)
				}
				data := pkt
				if tc.kind != encap.KindIPIP {
					data = udpPayload(t, pkt)
				}
				if tc.mangle != nil {
					tc.mangle(data)
				}
				r.ul.Inject(data, from)
			}
			rec := r.next(t)
			if got := stages(rec); got != tc.stages {
				t.Errorf("stages %s, want %s\n%s", got, tc.stages, rec.Text())
			}
			if rec.Verdict != tc.verdict {
				t.Errorf("verdict %q, want %q\n%s", rec.Verdict, tc.verdict, rec.Text())
			}
			if rec.Generation != r.cfg.Generation || rec.Incomplete {
				t.Errorf("generation %d incomplete %v", rec.Generation, rec.Incomplete)
			}
			if len(rec.Wire) == 0 || rec.Wire[0]>>4 != 4 {
				t.Errorf("no IPv4 wire bytes for pcap: % x", rec.Wire)
			}

			// The what-if path must take the same decisions.
			c := NewCollector(LocalFor(r.cfg))
			r.e.Simulate(dir, pkt, c)
			sim := c.Result()
			simStages := strings.TrimSuffix(stages(sim), ",send")
			if dir == dataplane.Ingress {
				simStages = stages(sim)
			}
			if simStages != tc.stages || !strings.HasPrefix(sim.Verdict, tc.verdict) {
				t.Errorf("simulated: stages %s verdict %q, want %s %q\n%s", stages(sim), sim.Verdict, tc.stages, tc.verdict, sim.Text())
			}
		})
	}
}

// mustBuildFrom builds an ingress packet whose outer source is not a peer,
// by building it from node2 and rewriting the outer source afterwards.
func mustBuildFrom(t *testing.T, cfg *dataplane.Config, s string) []byte {
	t.Helper()
	sp := spec(t, s)
	stranger := sp.From
	sp.From = peerAddr.Addr()
	_, pkt, err := Build(cfg, sp)
	if err != nil {
		t.Fatal(err)
	}
	a := stranger.As4()
	copy(pkt[12:16], a[:])
	pkt[10], pkt[11] = 0, 0
	binary.BigEndian.PutUint16(pkt[10:], encap.Checksum(pkt[:20], 0))
	return pkt
}

// With no config installed, both directions drop for no-config.
func TestTraceNoConfig(t *testing.T) {
	pod, ul := dataplane.NewMemPort("pod0", 8), dataplane.NewMemPort("underlay0", 8)
	e, err := dataplane.New(dataplane.Options{Pod: pod, Underlay: ul})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := ParseFilter("")
	tr := NewTracer(f, Hint{}, Options{})
	e.SetTracer(tr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = e.Run(ctx) }()
	recs := make(chan *Record, 4)
	go func() { _ = tr.Run(ctx, Local{}, func(r *Record) error { recs <- r; return nil }) }()
	pod.Inject(buildInner(&Spec{Src: podA, Dst: podB, Proto: 17, TTL: 64}), netip.AddrPort{})
	select {
	case r := <-recs:
		if r.Verdict != "dropped: no-config" || stages(r) != "receive,drop" {
			t.Fatalf("got %s", r.Text())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no record")
	}
}
