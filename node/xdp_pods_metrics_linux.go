package node

import (
	"github.com/podfwd/podfwd/dataplane/xdpport"
	"github.com/prometheus/client_golang/prometheus"
)

// podsCollector exports the direct pod port (xdp.pods): how many pod veths
// and pods it serves, what it could not deliver or did not take, and the
// kernel's AF_XDP counters summed over the pod sockets (per veth they
// would give every pod that ever lived its own series).
type podsCollector struct {
	set                      *xdpport.PodSet
	veths, pods              *prometheus.Desc
	undelivered, junk, stats *prometheus.Desc
}

func newPodsCollector(set *xdpport.PodSet) *podsCollector {
	return &podsCollector{
		set:   set,
		veths: prometheus.NewDesc("podfwd_xdp_pod_veths", "Pod veths with an AF_XDP socket and the pod program.", nil, nil),
		pods:  prometheus.NewDesc("podfwd_xdp_pod_routes", "Local pods reached directly through their veth's AF_XDP socket.", nil, nil),
		undelivered: prometheus.NewDesc("podfwd_xdp_pod_undelivered_total",
			"Packets for a direct pod that could not be handed to its socket (pod gone, no free frame, TX ring full).", nil, nil),
		junk: prometheus.NewDesc("podfwd_xdp_pod_junk_total",
			"Frames read from pod sockets that were not IP packets with a hop to spare (dropped).", nil, nil),
		stats: prometheus.NewDesc("podfwd_xdp_pod_socket_events_total",
			"AF_XDP statistics of the pod sockets from the kernel (XDP_STATISTICS), summed over the pod veths, by counter.",
			[]string{"counter"}, nil),
	}
}

func (c *podsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.veths, c.pods, c.undelivered, c.junk, c.stats} {
		ch <- d
	}
}

func (c *podsCollector) Collect(ch chan<- prometheus.Metric) {
	veths := c.set.Sockets()
	ch <- prometheus.MustNewConstMetric(c.veths, prometheus.GaugeValue, float64(len(veths)))
	ch <- prometheus.MustNewConstMetric(c.pods, prometheus.GaugeValue, float64(c.set.Routes()))
	ch <- prometheus.MustNewConstMetric(c.undelivered, prometheus.CounterValue, float64(c.set.Undelivered()))
	ch <- prometheus.MustNewConstMetric(c.junk, prometheus.CounterValue, float64(c.set.Junk()))
	var sum [6]uint64
	for _, idx := range veths {
		if s, ok := c.set.Stats(idx); ok {
			for i, v := range []uint64{s.RxDropped, s.RxInvalidDescs, s.TxInvalidDescs, s.RxRingFull, s.FillRingEmpty, s.TxRingEmpty} {
				sum[i] += v
			}
		}
	}
	for i, name := range []string{"rx_dropped", "rx_invalid_descs", "tx_invalid_descs", "rx_ring_full", "fill_ring_empty", "tx_ring_empty"} {
		ch <- prometheus.MustNewConstMetric(c.stats, prometheus.CounterValue, float64(sum[i]), name)
	}
}
