package admin

import (
	"github.com/podfwd/podfwd/dataplane"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a prometheus.Collector over an engine's counters and
// config. Every value is loaded at scrape time from the counters the
// forwarding loops already keep.
type Collector struct {
	s *Server

	packets, bytes, batches, errors *prometheus.Desc
	drops, tunnel, icmp             *prometheus.Desc
	gsoSuper, gsoSegs               *prometheus.Desc
	gsoWhole, gsoWholeSegs          *prometheus.Desc
	tunnelGSO, partialChecksums     *prometheus.Desc
	generation, peers, applied      *prometheus.Desc
	traceActive, traceMatched       *prometheus.Desc
	traceSkipped, traceLost         *prometheus.Desc
}

func newCollector(s *Server) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("podfwd_"+name, help, labels, nil)
	}
	return &Collector{
		s:                s,
		packets:          d("packets_total", "Packets received (rx) or sent (tx) on a port: pod is the TUN side, underlay the tunnel socket.", "port", "direction"),
		bytes:            d("bytes_total", "Bytes received or sent on a port.", "port", "direction"),
		batches:          d("batches_total", "Batches read or written on a port; packets_total / batches_total is the mean batch size.", "port", "direction"),
		errors:           d("port_errors_total", "Failed reads or writes on a port.", "port", "direction"),
		drops:            d("drops_total", "Packets dropped, by forwarding path and named reason.", "path", "reason"),
		tunnel:           d("tunnel_packets_total", "Packets encapsulated (op=encap) or decapsulated (op=decap), by tunnel format.", "op", "encap"),
		icmp:             d("icmp_errors_sent_total", "ICMP errors originated (time exceeded, fragmentation needed / packet too big)."),
		gsoSuper:         d("gso_super_packets_total", "GSO super-packets split on egress (op=split) or built by GRO on ingress (op=coalesce).", "op"),
		gsoSegs:          d("gso_segments_total", "Segments produced by GSO splitting or absorbed by GRO coalescing.", "op"),
		gsoWhole:         d("gso_whole_packets_total", "GSO super-packets that crossed whole: sent with UDP-tunnel GSO for the kernel to segment (op=send), or received whole from a peer and delivered whole (op=deliver).", "op"),
		gsoWholeSegs:     d("gso_whole_segments_total", "Segments carried by the super-packets sent whole (op=send): the kernel puts that many datagrams on the wire, each counted in packets_total{port=underlay,direction=tx}.", "op"),
		partialChecksums: d("ingress_partial_checksums_total", "Packets delivered whose inner TCP/UDP checksum held only the pseudo-header sum (left by a sender's kernel for an offload that never ran: nodes sharing a host or hypervisor) and was completed (underlay.partialChecksums: accept). On nodes with their own NICs it stays 0."),
		tunnelGSO:        d("tunnel_gso_active", "1 when egress super-packets leave whole through the UDP-tunnel GSO device, 0 when podfwd splits them."),
		generation:       d("config_generation", "Generation of the installed forwarding config."),
		peers:            d("peers", "Peers (other nodes) in the installed config."),
		applied:          d("config_applied", "1 when a forwarding config is installed in the engine."),
		traceActive:      d("trace_sessions_active", "Packet-trace sessions attached now (0 or 1)."),
		traceMatched:     d("trace_matched_packets_total", "Packets matched by trace filters."),
		traceSkipped:     d("trace_skipped_packets_total", "Matched packets not traced because the trace ring was full (slow reader)."),
		traceLost:        d("trace_lost_stages_total", "Trace stages lost mid-packet because the ring filled."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.packets, c.bytes, c.batches, c.errors, c.drops, c.tunnel, c.icmp,
		c.gsoSuper, c.gsoSegs, c.gsoWhole, c.gsoWholeSegs, c.tunnelGSO, c.partialChecksums, c.generation, c.peers, c.applied, c.traceActive, c.traceMatched, c.traceSkipped, c.traceLost} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	e := c.s.engine
	cnt := &e.Counters
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	port := func(name, dir string, p *dataplane.PortCounters) {
		counter(c.packets, p.Packets.Load(), name, dir)
		counter(c.bytes, p.Bytes.Load(), name, dir)
		counter(c.batches, p.Batches.Load(), name, dir)
		counter(c.errors, p.Errors.Load(), name, dir)
	}
	port("pod", "rx", &cnt.Egress.Rx)
	port("underlay", "tx", &cnt.Egress.Tx)
	port("underlay", "rx", &cnt.Ingress.Rx)
	port("pod", "tx", &cnt.Ingress.Tx)
	for r := 1; r < dataplane.NumReasons; r++ {
		name := dataplane.Reason(r).String()
		counter(c.drops, cnt.Egress.Drops[r].Load(), "egress", name)
		counter(c.drops, cnt.Ingress.Drops[r].Load(), "ingress", name)
	}
	cfg := e.Config()
	kind := "none"
	if cfg != nil {
		kind = cfg.Encap.String()
	}
	counter(c.tunnel, cnt.Egress.Tunnel.Load(), "encap", kind)
	counter(c.tunnel, cnt.Ingress.Tunnel.Load(), "decap", kind)
	counter(c.icmp, cnt.Egress.ICMPSent.Load()+cnt.Ingress.ICMPSent.Load())
	counter(c.gsoSuper, cnt.Egress.GSOSuper.Load(), "split")
	counter(c.gsoSegs, cnt.Egress.GSOSegs.Load(), "split")
	counter(c.gsoSuper, cnt.Ingress.GSOSuper.Load(), "coalesce")
	counter(c.gsoSegs, cnt.Ingress.GSOSegs.Load(), "coalesce")
	counter(c.gsoWhole, cnt.Egress.WholeGSO.Load(), "send")
	counter(c.gsoWhole, cnt.Ingress.WholeGSO.Load(), "deliver")
	counter(c.gsoWholeSegs, cnt.Egress.WholeSegs.Load(), "send")
	counter(c.partialChecksums, cnt.Ingress.PartialChecksums.Load())
	whole := 0.0
	if e.TunnelGSOActive() {
		whole = 1
	}
	gauge(c.tunnelGSO, whole)
	if cfg != nil {
		gauge(c.generation, float64(cfg.Generation))
		gauge(c.peers, float64(len(cfg.Peers)))
		gauge(c.applied, 1)
	} else {
		gauge(c.generation, 0)
		gauge(c.peers, 0)
		gauge(c.applied, 0)
	}
	st, active := c.s.traceStats()
	gauge(c.traceActive, float64(active))
	counter(c.traceMatched, st.Matched)
	counter(c.traceSkipped, st.Skipped)
	counter(c.traceLost, st.EventsDropped)
}
