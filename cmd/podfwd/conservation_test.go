package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// metrics is one scrape of a daemon's /metrics: the value of every series,
// keyed by its name and labels exactly as exposed (labels sorted by name).
type metrics map[string]float64

// scrapeMetrics reads node's daemon's /metrics.
func scrapeMetrics(t *testing.T, node *topo.Node) metrics {
	t.Helper()
	body, code := httpGetIn(t, node, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics on %s: HTTP %d", node.Namespace, code)
	}
	m := metrics{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics on %s: %q: %v", node.Namespace, line, err)
		}
		m[line[:i]] = v
	}
	return m
}

// get returns a series' value; a series the daemon does not expose is 0.
func (m metrics) get(name string) uint64 { return uint64(m[name]) }

// drops returns the sum of drops_total over every reason of path, and the
// reasons that are non-zero.
func (m metrics) drops(path string) (uint64, map[string]uint64) {
	prefix := `podfwd_drops_total{path="` + path + `",reason="`
	var sum uint64
	by := map[string]uint64{}
	for k, v := range m {
		if reason, ok := strings.CutPrefix(k, prefix); ok && v > 0 {
			sum += uint64(v)
			by[strings.TrimSuffix(reason, `"}`)] = uint64(v)
		}
	}
	return sum, by
}

// drop returns drops_total for one path and reason.
func (m metrics) drop(path, reason string) uint64 {
	return m.get(fmt.Sprintf("podfwd_drops_total{path=%q,reason=%q}", path, reason))
}

// conservation checks the accounting equation of both directions in one
// scrape and returns what does not add up, or "".
//
// The units are what each counter counts. A port's rx counts what one read
// returned after the port split it: on the underlay a datagram (a UDP GRO
// train is split into its datagrams, each counted), on the pod side a
// packet (a GSO super-packet from the TUN is one). A port's tx counts
// datagrams on the underlay (a UDP GSO train or a super-packet sent whole
// counts every segment the kernel will send) and packets on the pod side (a
// super-packet GRO built is one). A drop counts one unit of the stage that
// dropped it; a packet answered with an ICMP error is counted under its
// reason (ttl-exceeded, too-big) and the ICMP error itself is no received
// packet. So:
//
//	ingress: rx(underlay) = tx(pod) + Σ drops(ingress) + segments(coalesce) − super-packets(coalesce)
//	egress:  rx(pod) + segments(split) − super-packets(split) + segments(whole) − super-packets(whole)
//	                  = tx(underlay) + Σ drops(egress)
//
// A refused UDP GSO train counts one send-failed drop per segment, so the
// egress side is exact too.
// podDatagrams is what the pod port delivered counted in datagrams: its
// tx counter counts a coalesced super-packet once.
func (m metrics) podDatagrams() uint64 {
	return m.get(`podfwd_packets_total{direction="tx",port="pod"}`) +
		m.get(`podfwd_gso_segments_total{op="coalesce"}`) - m.get(`podfwd_gso_super_packets_total{op="coalesce"}`)
}

func (m metrics) conservation() string {
	var bad []string
	inDrops, inBy := m.drops("ingress")
	inRx := m.get(`podfwd_packets_total{direction="rx",port="underlay"}`)
	inTx := m.get(`podfwd_packets_total{direction="tx",port="pod"}`)
	coSegs := m.get(`podfwd_gso_segments_total{op="coalesce"}`)
	coSuper := m.get(`podfwd_gso_super_packets_total{op="coalesce"}`)
	if inRx != inTx+inDrops+coSegs-coSuper {
		bad = append(bad, fmt.Sprintf("ingress: rx(underlay) %d != tx(pod) %d + drops %d %v + coalesced segments %d - super-packets %d (= %d)",
			inRx, inTx, inDrops, inBy, coSegs, coSuper, inTx+inDrops+coSegs-coSuper))
	}
	egDrops, egBy := m.drops("egress")
	egRx := m.get(`podfwd_packets_total{direction="rx",port="pod"}`)
	egTx := m.get(`podfwd_packets_total{direction="tx",port="underlay"}`)
	spSegs := m.get(`podfwd_gso_segments_total{op="split"}`)
	spSuper := m.get(`podfwd_gso_super_packets_total{op="split"}`)
	whSegs := m.get(`podfwd_gso_whole_segments_total{op="send"}`)
	whSuper := m.get(`podfwd_gso_whole_packets_total{op="send"}`)
	if egRx+spSegs-spSuper+whSegs-whSuper != egTx+egDrops {
		bad = append(bad, fmt.Sprintf("egress: rx(pod) %d + split segments %d - super-packets %d + whole segments %d - super-packets %d (= %d) != tx(underlay) %d + drops %d %v",
			egRx, spSegs, spSuper, whSegs, whSuper, egRx+spSegs-spSuper+whSegs-whSuper, egTx, egDrops, egBy))
	}
	return strings.Join(bad, "; ")
}

// checkConservation fails t unless every packet node's daemon received is
// accounted for as forwarded or dropped under a named reason. The counters
// of one batch are published one after another, so a scrape taken while
// packets move may see half a batch: the check waits for the equation to
// hold, and fails with the numbers once the counters stopped moving (two
// equal scrapes) and it still does not.
func checkConservation(t *testing.T, node *topo.Node) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var prev metrics
	for {
		m := scrapeMetrics(t, node)
		msg := m.conservation()
		if msg == "" {
			return
		}
		if sameCounters(prev, m) || time.Now().After(deadline) {
			t.Errorf("podfwd on %s lost count of packets: %s", node.Namespace, msg)
			return
		}
		prev = m
		time.Sleep(100 * time.Millisecond)
	}
}

// sameCounters reports whether two scrapes have the same packet counters.
func sameCounters(a, b metrics) bool {
	if a == nil {
		return false
	}
	for k, v := range b {
		if strings.HasPrefix(k, "podfwd_") && strings.Contains(k, "_total") && a[k] != v {
			return false
		}
	}
	return true
}
