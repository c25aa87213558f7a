package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// ErrOption is wrapped by every invalid Config.
var ErrOption = errors.New("bench: invalid option")

// Config selects what Run measures.
type Config struct {
	Podfwd      string        // the podfwd binary started in each node; "" means this executable
	Modes       []Mode        // rows, in display order; nil means AllModes
	Tests       []string      // subset of AllTests; nil means all
	Runs        int           // repetitions per test; 0 means 3
	Duration    time.Duration // per run of a test; 0 means 5s
	MTUs        []int         // underlay MTUs, each a full pass; nil means 1500
	Prefix      string        // namespace prefix; "" means topo's per-process default
	Progress    io.Writer     // live progress line; nil means none
	Live        bool          // Progress is a terminal: redraw one line in place
	CommandLine []string      // recorded in Env
	// OnUp, when set, runs once per mode after the mode is up and before
	// its tests (podfwd demo pings pod to pod there).
	OnUp func(ctx context.Context, m Mode, tp *topo.Topology)
}

// Report is the result of Run, as written by --json.
type Report struct {
	Env  Env   `json:"env"`
	Rows []Row `json:"rows"`
}

func (c *Config) defaults() error {
	if c.Modes == nil {
		c.Modes = AllModes()
	}
	if c.Tests == nil {
		c.Tests = AllTests
	}
	if c.Runs == 0 {
		c.Runs = 3
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.MTUs == nil {
		c.MTUs = []int{1500}
	}
	for _, t := range c.Tests {
		if metricOf(t) == "gbps" && t != TestTCP1 && t != TestTCP4 {
			return fmt.Errorf("%w: unknown test %q (known: %s)", ErrOption, t, strings.Join(AllTests, ","))
		}
	}
	for _, m := range c.MTUs {
		if m < 1280 || m > 9000 {
			return fmt.Errorf("%w: MTU %d, want 1280..9000", ErrOption, m)
		}
	}
	switch {
	case c.Runs < 1:
		return fmt.Errorf("%w: %d runs", ErrOption, c.Runs)
	case c.Duration < 500*time.Millisecond:
		return fmt.Errorf("%w: duration %v is below 500ms", ErrOption, c.Duration)
	}
	return nil
}

// Run measures every selected mode in every test at every MTU and returns
// the rows (with ratios to kernel VXLAN). A mode this machine or this
// podfwd cannot run gives "unsupported: …" rows; a mode that fails gives
// "failed: …" rows and Run goes on. The error is only for bad options or
// a cancelled ctx; the report holds whatever was measured until then.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	rep := &Report{Env: collectEnv(cfg)}
	prog := newProgress(cfg)
	defer prog.finish()
	for _, mtu := range cfg.MTUs {
		for _, m := range cfg.Modes {
			if err := ctx.Err(); err != nil {
				setRatios(rep.Rows)
				return rep, err
			}
			rep.Rows = append(rep.Rows, runMode(ctx, cfg, m, mtu, &rep.Env, prog)...)
		}
	}
	setRatios(rep.Rows)
	rep.Env.finish()
	return rep, ctx.Err()
}

// runMode brings m up on a fresh topology, runs every test cfg.Runs times
// and tears it down.
func runMode(ctx context.Context, cfg Config, m Mode, mtu int, env *Env, prog *progress) []Row {
	rows := func(status string, samples map[string][]sample) []Row {
		out := make([]Row, 0, len(cfg.Tests))
		for _, t := range cfg.Tests {
			r := Row{Mode: m.Name, IO: m.IO, Encap: m.Encap, Test: t, MTU: mtu, Status: status}
			r.aggregate(samples[t])
			if status == StatusOK && len(samples[t]) < cfg.Runs {
				r.Status = StatusFailed + "not every run completed"
			}
			out = append(out, r)
		}
		return out
	}
	prog.enter(m, mtu)
	if m.Unsupported != "" {
		prog.skip()
		return rows(StatusUnsupported+m.Unsupported, nil)
	}
	tp, err := topo.New(ctx, topo.Config{Prefix: cfg.Prefix, MTU: mtu, Mode: m.Kernel})
	if err != nil {
		prog.skip()
		return rows(StatusFailed+oneLine(err), nil)
	}
	defer tp.Close()
	st := &stage{tp: tp, a: tp.Nodes[0].Pods[0], b: tp.Nodes[1].Pods[0], podMTU: tp.Config.PodMTU, softirqd: softirqThreads(), addIRQ: env.OwnCPUAddsIRQ}
	env.noteTopology(ctx, tp)
	if m.Probe != nil {
		prog.skip()
		if err := m.Probe(ctx, tp); err != nil {
			return rows(StatusUnsupported+oneLine(err), nil)
		}
		return rows(StatusUnsupported+"the kernel accepts this device, but the harness does not program it yet", nil)
	}
	if !m.IsKernel() {
		d, err := startDaemons(ctx, tp, m, cfg.Podfwd)
		if errors.Is(err, ErrIONotImplemented) {
			prog.skip()
			said := strings.TrimPrefix(err.Error(), ErrIONotImplemented.Error()+": ")
			return rows(StatusUnsupported+m.IO+" io not implemented in podfwd run yet ("+truncate(said, 200)+")", nil)
		}
		if errors.Is(err, ErrSetupRefused) {
			prog.skip()
			return rows(StatusUnsupported+oneLine(err), nil)
		}
		if err != nil {
			prog.skip()
			return rows(StatusFailed+oneLine(err), nil)
		}
		defer d.stop()
		st.pids = d.pids()
	}
	if cfg.OnUp != nil {
		cfg.OnUp(ctx, m, tp)
	}
	if err := topo.Ping(ctx, st.a, st.b.IPv4, 3, 56, false); err != nil {
		prog.skip()
		return rows(StatusFailed+oneLine(err), nil)
	}
	samples := map[string][]sample{}
	errs := map[string]error{} // each test's first failure
	for _, t := range cfg.Tests {
		for k := 1; k <= cfg.Runs && ctx.Err() == nil; k++ {
			prog.setTest(t, k)
			s, err := st.measure(ctx, t, cfg.Duration)
			prog.done(t)
			if err != nil {
				if errs[t] == nil {
					errs[t] = fmt.Errorf("run %d: %w", k, err)
				}
				continue
			}
			samples[t] = append(samples[t], s)
		}
	}
	out := rows(StatusOK, samples)
	for i := range out {
		if err := errs[out[i].Test]; err != nil {
			out[i].Status = StatusFailed + oneLine(err)
		}
	}
	return out
}

// oneLine keeps an error's message on one line for a table cell or a
// JSON status.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	return truncate(s, 300)
}
