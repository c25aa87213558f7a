package bench

import (
	"errors"
	"testing"
)

func TestMetricValue(t *testing.T) {
	text := "# HELP podfwd_xdp_pod_veths Pod veths.\n" +
		"# TYPE podfwd_xdp_pod_veths gauge\n" +
		"podfwd_xdp_pod_veths_other 7\n" +
		"podfwd_xdp_pod_veths 3\n" +
		"podfwd_xdp_pod_socket_events_total{counter=\"rx_dropped\"} 5\n" +
		"podfwd_up 1 1700000000000\n"
	if v, err := metricValue(text, "podfwd_xdp_pod_veths"); err != nil || v != 3 {
		t.Errorf("veths: %v %v, want 3", v, err)
	}
	if v, err := metricValue(text, "podfwd_up"); err != nil || v != 1 {
		t.Errorf("with timestamp: %v %v, want 1", v, err)
	}
	if _, err := metricValue(text, "podfwd_xdp_pod_socket_events_total"); !errors.Is(err, errNoMetric) {
		t.Errorf("labelled only: %v, want errNoMetric", err)
	}
}
