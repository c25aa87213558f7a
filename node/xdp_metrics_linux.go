package node

import (
	"strconv"

	"github.com/podfwd/podfwd/dataplane/xdpport"
	"github.com/prometheus/client_golang/prometheus"
)

// xdpCollector exports, per receive queue (label queue), the kernel's
// AF_XDP socket statistics (XDP_STATISTICS), the frames each socket carried
// and the attach mode, read at scrape time.
type xdpCollector struct {
	group   *xdpport.Group
	stats   *prometheus.Desc
	packets *prometheus.Desc
	mode    *prometheus.Desc
}

func newXDPCollector(g *xdpport.Group) *xdpCollector {
	return &xdpCollector{
		group: g,
		stats: prometheus.NewDesc("podfwd_xdp_socket_events_total",
			"AF_XDP socket statistics from the kernel (XDP_STATISTICS), by queue and counter.",
			[]string{"queue", "counter"}, nil),
		packets: prometheus.NewDesc("podfwd_xdp_socket_packets_total",
			"Frames the AF_XDP socket of a queue received (rx: read by the engine) and sent (tx: queued on its TX ring).",
			[]string{"queue", "direction"}, nil),
		mode: prometheus.NewDesc("podfwd_xdp_info",
			"The XDP program's attach mode and whether the socket is bound zero-copy (value 1), per queue.",
			[]string{"queue", "attach_mode", "zero_copy"}, nil),
	}
}

func (c *xdpCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.stats
	ch <- c.packets
	ch <- c.mode
}

func (c *xdpCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.group.Members() {
		queue := strconv.Itoa(m.Queue())
		ch <- prometheus.MustNewConstMetric(c.mode, prometheus.GaugeValue, 1, queue, m.AttachMode().String(), strconv.FormatBool(m.ZeroCopy()))
		ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(m.Received()), queue, "rx")
		ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(m.Sent()), queue, "tx")
		s, err := m.Stats()
		if err != nil {
			continue // the socket is closing; the scrape shows the info gauge only
		}
		for _, kv := range []struct {
			name string
			v    uint64
		}{
			{"rx_dropped", s.RxDropped}, {"rx_invalid_descs", s.RxInvalidDescs}, {"tx_invalid_descs", s.TxInvalidDescs},
			{"rx_ring_full", s.RxRingFull}, {"fill_ring_empty", s.FillRingEmpty}, {"tx_ring_empty", s.TxRingEmpty},
		} {
			ch <- prometheus.MustNewConstMetric(c.stats, prometheus.CounterValue, float64(kv.v), queue, kv.name)
		}
	}
}
