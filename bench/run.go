package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// Options configure a run of one mode.
type Options struct {
	Podfwd   string        // path of the podfwd binary started in each node
	Duration time.Duration // iperf3 time per test; 0 means 3s
	MTU      int           // underlay MTU; 0 means 1500
	Prefix   string        // namespace prefix; "" means topo's per-process default
}

// Result is what one mode measured.
type Result struct {
	Mode        Mode
	PingOK      bool
	PingErr     error
	Gbps        float64 // TCP single stream, pod on node 1 -> pod on node 2
	Retransmits int
	Err         error // the mode could not be measured
}

// RunMode builds a 2-node topology, brings mode up, pings pod to pod
// across nodes, measures one TCP stream with iperf3 and tears everything
// down, including when it fails.
func RunMode(ctx context.Context, mode Mode, opts Options) (res Result) {
	res.Mode = mode
	if opts.Duration == 0 {
		opts.Duration = 3 * time.Second
	}
	tp, err := topo.New(ctx, topo.Config{Prefix: opts.Prefix, MTU: opts.MTU, Mode: mode.Kernel})
	if err != nil {
		res.Err = err
		return res
	}
	defer tp.Close()
	if !mode.IsKernel() {
		stop, err := startDaemons(ctx, tp, mode, opts.Podfwd)
		if err != nil {
			res.Err = err
			return res
		}
		defer stop()
	}
	a, b := tp.Nodes[0].Pods[0], tp.Nodes[1].Pods[0]
	res.PingErr = topo.Ping(ctx, a, b.IPv4, 3, 56, false)
	res.PingOK = res.PingErr == nil
	res.Gbps, res.Retransmits, res.Err = iperfTCP(ctx, a, b, opts.Duration)
	return res
}

// startDaemons runs `podfwd run` in every node and waits for each to say
// it is up. stop sends SIGTERM and waits for them to exit.
func startDaemons(ctx context.Context, tp *topo.Topology, mode Mode, bin string) (stop func(), err error) {
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "podfwd-bench-")
	if err != nil {
		return nil, err
	}
	var cmds []*exec.Cmd
	var waits []chan error
	stop = func() {
		for i, c := range cmds {
			_ = c.Process.Signal(syscall.SIGTERM)
			select {
			case <-waits[i]:
			case <-time.After(10 * time.Second):
				_ = c.Process.Kill()
				<-waits[i]
			}
		}
		os.RemoveAll(dir)
	}
	for _, n := range tp.Nodes {
		path := filepath.Join(dir, n.Namespace+".yaml")
		if err := os.WriteFile(path, []byte(NodeConfig(tp, n, mode.IO, mode.Encap, mode.Port)), 0o600); err != nil {
			stop()
			return nil, err
		}
		log := &lockedBuffer{}
		c := n.Command(ctx, bin, "run", "--config", path)
		c.Stdout, c.Stderr = log, log
		if err := c.Start(); err != nil {
			stop()
			return nil, err
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		cmds, waits = append(cmds, c), append(waits, done)
		if err := waitUp(log, done); err != nil {
			stop()
			return nil, fmt.Errorf("podfwd on %s: %w", n.Namespace, err)
		}
	}
	return stop, nil
}

func waitUp(log *lockedBuffer, done chan error) error {
	deadline := time.After(15 * time.Second)
	for !strings.Contains(log.String(), "podfwd up") {
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("exited before coming up (%v): %s", err, log)
		case <-deadline:
			return errors.New("not up after 15s: " + log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// lockedBuffer collects a process's output for reading while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
