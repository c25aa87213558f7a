package node

import (
	"github.com/podfwd/podfwd/kube"
	"github.com/prometheus/client_golang/prometheus"
)

// kubeCollector exports the control plane's link to the API server, read
// at scrape time: synced, when the last config came, watch errors and the
// time of the last one.
type kubeCollector struct {
	src                              *kube.Source
	synced, lastConfig, errs, errAge *prometheus.Desc
}

func newKubeCollector(src *kube.Source) *kubeCollector {
	return &kubeCollector{
		src:        src,
		synced:     prometheus.NewDesc("podfwd_control_plane_synced", "1 once the Node cache has synced with the API server (it stays 1 through an outage: the cache is kept).", nil, nil),
		lastConfig: prometheus.NewDesc("podfwd_control_plane_last_config_timestamp_seconds", "When the control plane last produced a dataplane config.", nil, nil),
		errs:       prometheus.NewDesc("podfwd_control_plane_watch_errors_total", "List/watch calls to the API server that failed (the informer retries with backoff).", nil, nil),
		errAge:     prometheus.NewDesc("podfwd_control_plane_last_error_timestamp_seconds", "When the last list/watch error happened; the error text is in the log and /status.", nil, nil),
	}
}

func (c *kubeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.synced
	ch <- c.lastConfig
	ch <- c.errs
	ch <- c.errAge
}

func (c *kubeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.State()
	synced := 0.0
	if st.Synced {
		synced = 1
	}
	ch <- prometheus.MustNewConstMetric(c.synced, prometheus.GaugeValue, synced)
	if !st.LastConfig.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.lastConfig, prometheus.GaugeValue, float64(st.LastConfig.UnixNano())/1e9)
	}
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(st.WatchErrors))
	if !st.LastErrorTime.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.errAge, prometheus.GaugeValue, float64(st.LastErrorTime.UnixNano())/1e9)
	}
}
