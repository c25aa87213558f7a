package main

import (
	"strconv"

	"github.com/podfwd/podfwd/dataplane/xdpport"
	"github.com/prometheus/client_golang/prometheus"
)

// xdpCollector exports the kernel's AF_XDP socket statistics
// (XDP_STATISTICS) and the attach mode, read at scrape time.
type xdpCollector struct {
	port  *xdpport.Port
	stats *prometheus.Desc
	mode  *prometheus.Desc
}

func newXDPCollector(p *xdpport.Port) *xdpCollector {
	return &xdpCollector{
		port: p,
		stats: prometheus.NewDesc("podfwd_xdp_socket_events_total",
			"AF_XDP socket statistics from the kernel (XDP_STATISTICS), by counter.",
			[]string{"queue", "counter"}, nil),
		mode: prometheus.NewDesc("podfwd_xdp_info",
			"The XDP program's attach mode and whether the socket is bound zero-copy (value 1).",
			[]string{"queue", "attach_mode", "zero_copy"}, nil),
	}
}

func (c *xdpCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.stats
	ch <- c.mode
}

func (c *xdpCollector) Collect(ch chan<- prometheus.Metric) {
	queue := strconv.Itoa(c.port.Queue())
	zc := "false"
	if c.port.ZeroCopy() {
		zc = "true"
	}
	ch <- prometheus.MustNewConstMetric(c.mode, prometheus.GaugeValue, 1, queue, c.port.AttachMode().String(), zc)
	s, err := c.port.Stats()
	if err != nil {
		return // the socket is closing; the scrape shows the info gauge only
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
