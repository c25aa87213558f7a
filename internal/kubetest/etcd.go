package kubetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// startEtcd runs a single-member etcd on 127.0.0.1 with its data in dir and
// waits until it reports healthy. It returns the client URL.
func startEtcd(ctx context.Context, bin, dir string) (*process, string, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, "", err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	args := []string{
		"--name=kubetest",
		"--data-dir=" + filepath.Join(dir, "etcd-data"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=kubetest=" + peer,
		"--initial-cluster-state=new",
		// A test's data is thrown away; fsync only costs time on a busy disk.
		"--unsafe-no-fsync",
		"--log-level=warn",
	}
	p, err := startProcess("etcd", bin, args, filepath.Join(dir, "etcd.log"))
	if err != nil {
		return nil, "", err
	}
	if err := waitHealthy(ctx, p, http.DefaultClient, client+"/health", "", `"health":"true"`); err != nil {
		p.stop(time.Second)
		return nil, "", err
	}
	return p, client, nil
}

// waitHealthy polls url until it answers 200 with a body containing want,
// the process exits, or ctx ends. token, when set, is sent as a bearer token.
func waitHealthy(ctx context.Context, p *process, c *http.Client, url, token, want string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("kubetest: %w", err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), want) {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %.300s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		select {
		case <-p.exited:
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("kubetest: %s not ready at %s: %w (last answer: %s)\n%s",
				p.name, url, ctx.Err(), last, tailFile(p.logPath, 40))
		case <-tick.C:
		}
	}
}
