package node

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
	"github.com/prometheus/client_golang/prometheus"
)

func pmtuConfig(peers ...netip.Addr) *dataplane.Config {
	cfg := &dataplane.Config{Encap: encap.KindVXLAN, LocalUnderlay: pmtuLocal4}
	for _, p := range peers {
		cfg.Peers = append(cfg.Peers, dataplane.Peer{Underlay: p})
	}
	return cfg
}

// A peer keeps its cell, and what it learned, across configs; a peer that
// left loses it; the config handed in is not changed.
func TestPathMTUsAttachKeepsCellsAcrossConfigs(t *testing.T) {
	p := newPathMTUs(slog.New(slog.DiscardHandler), pmtuConfig())
	if p.match.port != encap.DefaultVXLANPort || p.underlayMTU != 1500 {
		t.Fatalf("match %+v, underlay MTU %d", p.match, p.underlayMTU)
	}
	third := netip.MustParseAddr("10.99.0.3")
	in := pmtuConfig(pmtuPeer4, third)
	first := p.attach(in)
	if in.Peers[0].PathMTU != nil {
		t.Fatal("attach changed the caller's config")
	}
	p.learn(tooBig{peer: pmtuPeer4, mtu: 1400}, time.Now())
	second := p.attach(pmtuConfig(pmtuPeer4))
	if second.Peers[0].PathMTU != first.Peers[0].PathMTU || second.Peers[0].PathMTU.Load() != 1400 {
		t.Errorf("the peer's cell was not kept: %p %p", first.Peers[0].PathMTU, second.Peers[0].PathMTU)
	}
	if _, ok := p.peers[third]; ok {
		t.Error("a peer that left kept its cell")
	}
}

// Learning only ever lowers a path MTU, ignores strangers and values at or
// above the underlay MTU, and expiry forgets it.
func TestPathMTUsLearnAndExpire(t *testing.T) {
	p := newPathMTUs(slog.New(slog.DiscardHandler), pmtuConfig())
	cell := p.attach(pmtuConfig(pmtuPeer4)).Peers[0].PathMTU
	t0 := time.Now()
	for _, c := range []struct {
		tb   tooBig
		want int
	}{
		{tooBig{peer: pmtuPeer4, mtu: 1500}, 0},
		{tooBig{peer: netip.MustParseAddr("10.99.0.9"), mtu: 1300}, 0},
		{tooBig{peer: pmtuPeer4, mtu: 1400}, 1400},
		{tooBig{peer: pmtuPeer4, mtu: 1450}, 1400},
		{tooBig{peer: pmtuPeer4, mtu: 1300}, 1300},
	} {
		p.learn(c.tb, t0)
		if got := cell.Load(); got != c.want {
			t.Errorf("after %+v: %d, want %d", c.tb, got, c.want)
		}
	}
	p.expire(t0.Add(pathMTUExpiry - time.Second))
	if cell.Load() != 1300 {
		t.Errorf("expired early: %d", cell.Load())
	}
	p.expire(t0.Add(pathMTUExpiry))
	if cell.Load() != 0 {
		t.Errorf("not expired: %d", cell.Load())
	}
}

// The collector shows every peer, 0 until its path MTU is learned.
func TestPathMTUsMetrics(t *testing.T) {
	p := newPathMTUs(slog.New(slog.DiscardHandler), pmtuConfig())
	p.attach(pmtuConfig(pmtuPeer4, netip.MustParseAddr("10.99.0.3")))
	p.learn(tooBig{peer: pmtuPeer4, mtu: 1400}, time.Now())
	reg := prometheus.NewRegistry()
	reg.MustRegister(p)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "podfwd_path_mtu_bytes" {
		t.Fatalf("gathered %v, %v", mfs, err)
	}
	got := map[string]float64{}
	for _, m := range mfs[0].GetMetric() {
		got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	if len(got) != 2 || got["10.99.0.2"] != 1400 || got["10.99.0.3"] != 0 {
		t.Errorf("podfwd_path_mtu_bytes by underlay: %v, want 10.99.0.2 1400 and 10.99.0.3 0", got)
	}
}
