package bench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// ErrIONotImplemented is wrapped when `podfwd run` rejects the mode's io
// by name: the daemon has no such io path yet, which the harness reports
// as an unsupported row rather than a failure.
var ErrIONotImplemented = errors.New("io not implemented in podfwd run")

// ErrSetupRefused is wrapped when `podfwd run` refuses to start because
// of a documented limit of its io on this setup (an AF_XDP frame cannot
// hold a 9000-byte MTU): also an unsupported row, with the daemon's words.
var ErrSetupRefused = errors.New("podfwd run refuses this setup")

// refusalMarkers are the phrases by which `podfwd run` states such a
// limit at start. A refusal is an exit with an error, so the process and
// its admin API are gone and its last words are all there is to read:
// only then is its output matched. A crash or any other start failure
// stays a failure.
var refusalMarkers = []string{"does not fit an AF_XDP frame"}

// daemons are the `podfwd run` processes of one mode, one per node.
type daemons struct {
	cmds  []*exec.Cmd
	waits []chan error
	dir   string
}

// pids are the daemons' process ids. `ip netns exec` execs the program,
// so each is podfwd's own pid, whose /proc stat counts its CPU time.
func (d *daemons) pids() []int {
	var pids []int
	for _, c := range d.cmds {
		pids = append(pids, c.Process.Pid)
	}
	return pids
}

// stop sends SIGTERM to every daemon and waits for it to exit (SIGKILL
// after 10s), then removes the config files.
func (d *daemons) stop() {
	for i, c := range d.cmds {
		_ = c.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.waits[i]:
		case <-time.After(10 * time.Second):
			_ = c.Process.Kill()
			<-d.waits[i]
		}
	}
	os.RemoveAll(d.dir)
}

// startDaemons runs `podfwd run` in every node of tp and waits until each
// one's /readyz says it forwards. On error nothing is left running.
func startDaemons(ctx context.Context, tp *topo.Topology, mode Mode, bin string) (*daemons, error) {
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "podfwd-bench-")
	if err != nil {
		return nil, err
	}
	d := &daemons{dir: dir}
	for _, n := range tp.Nodes {
		path := filepath.Join(dir, n.Namespace+".yaml")
		cfg := NodeConfig(tp, n, mode.IO, mode.Encap, mode.Port)
		if mode.Hybrid {
			cfg = NodeConfig(tp, n, "tun", mode.Encap, mode.Port) + "hybrid: true\n"
		}
		if mode.XDPPods {
			cfg += "xdp:\n  pods: true\n"
		}
		// The kernel's rows are programmed without NAT; a masquerade
		// table would put connection tracking on every packet of podfwd's
		// rows only. The datapaths are compared like for like.
		cfg += mode.Config + "masquerade: false\n" + daemonConfig
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			d.stop()
			return nil, err
		}
		log := &LogBuffer{}
		c := n.Command(ctx, bin, "run", "--config", path)
		c.Stdout, c.Stderr = log, log
		if err := c.Start(); err != nil {
			d.stop()
			return nil, err
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		d.cmds, d.waits = append(d.cmds, c), append(d.waits, done)
		if err := waitReady(ctx, n, log, done); err != nil {
			d.stop()
			// A rejected io or a refused setup ends the process with an
			// error, so there is no API left to ask: its output is read.
			if rejected := fmt.Sprintf("io: %q is not one of", mode.IO); strings.Contains(log.String(), rejected) {
				return nil, fmt.Errorf("%w: %s", ErrIONotImplemented, firstLineWith(log.String(), rejected))
			}
			for _, marker := range refusalMarkers {
				if strings.Contains(log.String(), marker) {
					return nil, fmt.Errorf("%w: %s", ErrSetupRefused, firstLineWith(log.String(), marker))
				}
			}
			return nil, fmt.Errorf("podfwd on %s: %w", n.Namespace, err)
		}
	}
	if mode.XDPPods {
		if err := awaitDirectPods(ctx, tp); err != nil {
			d.stop()
			return nil, err
		}
	}
	return d, nil
}

// awaitDirectPods makes every pod talk to its gateway, as a pod's first
// packet does, so that the nodes learn their pods, and waits until each
// daemon serves all its pods' veths: measuring earlier would measure the
// TUN path.
func awaitDirectPods(ctx context.Context, tp *topo.Topology) error {
	for _, p := range tp.Pods() {
		for _, gw := range []netip.Addr{p.Node.GatewayV4, p.Node.GatewayV6} {
			if gw.IsValid() {
				if err := topo.Ping(ctx, p, gw, 1, 56, false); err != nil {
					return fmt.Errorf("pod %s pings its gateway: %w", p.Namespace, err)
				}
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range tp.Nodes {
		for {
			veths, err := daemonGauge(ctx, n, "podfwd_xdp_pod_veths")
			if err == nil && veths >= float64(len(n.Pods)) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("podfwd on %s serves fewer than its %d pod veths after 10 s (podfwd_xdp_pod_veths %v, %v)", n.Namespace, len(n.Pods), veths, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func firstLineWith(s, sub string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// LogBuffer collects a process's output for reading while it runs: safe
// for the process writing while another goroutine reads (the e2e tests
// use it for their daemons too).
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
