package bench

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// liveRunner brings modes up on this machine: a fresh topology, the
// kernel programmed or podfwd daemons started, a ping to prove it.
type liveRunner struct {
	cfg  Config
	env  *Env
	proc fs.FS // /proc
	self int   // the harness's pid: its process tree is the benchmark's
}

// newLiveRunner runs cfg's modes on this machine, noting in env what the
// topologies tell.
func newLiveRunner(cfg Config, env *Env) *liveRunner {
	return &liveRunner{cfg: cfg, env: env, proc: os.DirFS("/proc"), self: os.Getpid()}
}

func (l *liveRunner) load() MachineLoad { return machineLoad(l.proc, quietWindow) }

func (l *liveRunner) up(ctx context.Context, m Mode, mtu int) (modeStage, string) {
	tp, err := topo.New(ctx, topo.Config{Prefix: l.cfg.Prefix, MTU: mtu, Mode: m.Kernel})
	if err != nil {
		return nil, StatusFailed + oneLine(err)
	}
	st := &stage{tp: tp, a: tp.Nodes[0].Pods[0], b: tp.Nodes[1].Pods[0], podMTU: tp.Config.PodMTU,
		softirqd: softirqThreads(), addIRQ: l.env.OwnCPUAddsIRQ, proc: l.proc, self: l.self}
	status := l.start(ctx, m, st)
	if status != "" {
		st.close()
		return nil, status
	}
	return st, ""
}

// start makes st's topology carry mode m, or says why it cannot.
func (l *liveRunner) start(ctx context.Context, m Mode, st *stage) (status string) {
	l.env.noteTopology(ctx, st.tp)
	if m.Probe != nil {
		if err := m.Probe(ctx, st.tp); err != nil {
			return StatusUnsupported + oneLine(err)
		}
		return StatusUnsupported + "the kernel accepts this device, but the harness does not program it yet"
	}
	if !m.IsKernel() {
		d, err := startDaemons(ctx, st.tp, m, l.cfg.Podfwd)
		switch {
		case errors.Is(err, ErrIONotImplemented):
			said := strings.TrimPrefix(err.Error(), ErrIONotImplemented.Error()+": ")
			return StatusUnsupported + m.IO + " io not implemented in podfwd run yet (" + truncate(said, 200) + ")"
		case errors.Is(err, ErrSetupRefused):
			return StatusUnsupported + oneLine(err)
		case err != nil:
			return StatusFailed + oneLine(err)
		}
		st.daemons = d
		st.pids = d.pids()
	}
	if l.cfg.OnUp != nil {
		l.cfg.OnUp(ctx, m, st.tp)
	}
	if err := topo.Ping(ctx, st.a, st.b.IPv4, 3, 56, false); err != nil {
		return StatusFailed + oneLine(err)
	}
	return ""
}

// run measures test once, watching the machine's other processes
// meanwhile.
func (s *stage) run(ctx context.Context, test string, d time.Duration) (sample, error) {
	o := watchOthers(s.proc, s.self)
	out, err := s.measure(ctx, test, d)
	out.othersPct, out.offenders = overLimit(o.since())
	return out, err
}

// close stops the daemons and removes the topology.
func (s *stage) close() {
	if s.daemons != nil {
		s.daemons.stop()
	}
	s.tp.Close()
}
