package node

import "github.com/prometheus/client_golang/prometheus"

// pathMTUDesc is the path MTU learned toward each peer, read at scrape
// time.
var pathMTUDesc = prometheus.NewDesc("podfwd_path_mtu_bytes",
	"Path MTU learned toward a peer's underlay address from the underlay's ICMP errors; 0 while none is known (the underlay MTU applies).",
	[]string{"underlay"}, nil)

func (p *pathMTUs) Describe(ch chan<- *prometheus.Desc) { ch <- pathMTUDesc }

func (p *pathMTUs) Collect(ch chan<- prometheus.Metric) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a, l := range p.peers {
		ch <- prometheus.MustNewConstMetric(pathMTUDesc, prometheus.GaugeValue, float64(l.cell.Load()), a.String())
	}
}
