package main

import (
	"strings"
	"testing"
)

// TestConservationEquation checks the equation on hand-made scrapes: a
// coalesced super-packet (ingress) and super-packets split or sent whole
// (egress) balance, and one packet the counters lost is reported with the
// numbers.
func TestConservationEquation(t *testing.T) {
	good := metrics{
		// ingress: 10 datagrams, 6 of them coalesced into 1 super-packet,
		// 2 written alone, 2 dropped.
		`podfwd_packets_total{direction="rx",port="underlay"}`:           10,
		`podfwd_packets_total{direction="tx",port="pod"}`:                3,
		`podfwd_gso_segments_total{op="coalesce"}`:                       6,
		`podfwd_gso_super_packets_total{op="coalesce"}`:                  1,
		`podfwd_drops_total{path="ingress",reason="empty"}`:              1,
		`podfwd_drops_total{path="ingress",reason="bad-inner-checksum"}`: 1,
		// egress: 5 packets read: one super-packet split into 4, one sent
		// whole as 3 segments, 2 plain, 1 answered (ttl-exceeded).
		`podfwd_packets_total{direction="rx",port="pod"}`:            5,
		`podfwd_packets_total{direction="tx",port="underlay"}`:       9,
		`podfwd_gso_segments_total{op="split"}`:                      4,
		`podfwd_gso_super_packets_total{op="split"}`:                 1,
		`podfwd_gso_whole_segments_total{op="send"}`:                 3,
		`podfwd_gso_whole_packets_total{op="send"}`:                  1,
		`podfwd_drops_total{path="egress",reason="ttl-exceeded"}`:    1,
		`podfwd_icmp_errors_sent_total`:                              1,
		`podfwd_drops_total{path="egress",reason="no-route"}`:        0,
		`podfwd_drops_total{path="ingress",reason="spoofed-source"}`: 0,
	}
	if msg := good.conservation(); msg != "" {
		t.Fatalf("balanced counters reported: %s", msg)
	}
	lost := metrics{}
	for k, v := range good {
		lost[k] = v
	}
	lost[`podfwd_packets_total{direction="rx",port="underlay"}`]++
	msg := lost.conservation()
	if !strings.Contains(msg, "ingress: rx(underlay) 11 != tx(pod) 3 + drops 2") || strings.Contains(msg, "egress") {
		t.Fatalf("one lost ingress packet reported as %q", msg)
	}
}
