package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// daemonMetricsAddr is where each bench daemon serves /metrics and
// /readyz: the loopback of its own node namespace, so every node can use
// the same address and nothing is reachable from outside the node.
const daemonMetricsAddr = "127.0.0.1:9810"

// daemonConfig is the config section that makes a daemon serve its
// metrics at daemonMetricsAddr, whatever the default becomes.
const daemonConfig = "admin:\n  metrics: " + daemonMetricsAddr + "\n"

// nodeClient is an HTTP client whose connections are opened inside n's
// namespace, where the daemon's loopback listener is.
func nodeClient(n *topo.Node) *http.Client {
	return &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var c net.Conn
				err := n.Do(func() (err error) {
					c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
					return err
				})
				return c, err
			},
		},
	}
}

// getDaemon fetches path from n's daemon and returns the status code and
// body.
func getDaemon(ctx context.Context, n *topo.Node, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+daemonMetricsAddr+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := nodeClient(n).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), err
}

// waitReady polls n's /readyz until the daemon says it forwards (routes
// programmed, engine running). done reports the process's exit; an exit
// ends the wait with the process's output, as nothing else is left to ask.
func waitReady(ctx context.Context, n *topo.Node, log *LogBuffer, done chan error) error {
	deadline := time.After(15 * time.Second)
	last := "no answer"
	for {
		code, body, err := getDaemon(ctx, n, "/readyz")
		switch {
		case err != nil:
			last = err.Error()
		case code == http.StatusOK:
			return nil
		default:
			last = fmt.Sprintf("%d %s", code, strings.TrimSpace(body))
		}
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("exited before becoming ready (%v): %s", err, log)
		case <-deadline:
			return fmt.Errorf("not ready after 15s (/readyz: %s): %s", last, log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// daemonGauge reads the unlabelled metric name from n's /metrics.
func daemonGauge(ctx context.Context, n *topo.Node, name string) (float64, error) {
	code, body, err := getDaemon(ctx, n, "/metrics")
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("/metrics: status %d", code)
	}
	return metricValue(body, name)
}

// errNoMetric: the exposition has no sample of the metric.
var errNoMetric = errors.New("metric not exported")

// metricValue finds the sample of the unlabelled metric name in a
// Prometheus text exposition.
func metricValue(text, name string) (float64, error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			continue
		}
		fields := strings.Fields(rest) // value, then an optional timestamp
		if len(fields) == 0 {
			break
		}
		return strconv.ParseFloat(fields[0], 64)
	}
	return 0, fmt.Errorf("%s: %w", name, errNoMetric)
}
