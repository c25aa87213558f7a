package bench

import (
	"context"
	"fmt"
	"time"
)

// visit is one bring-up of a mode: the mode is up on a fresh topology for
// the given runs (1-based) of every test, then torn down.
type visit struct {
	mtu  int
	mode int   // index into Config.Modes
	runs []int // run numbers, in order
}

// schedule is the order in which Run brings modes up: per MTU, each mode
// once for all its runs, or with Interleave once per run, run 1 of every
// mode before run 2 of any. Interleaving costs a bring-up per run, and
// buys that a change in the machine's load hits every mode alike instead
// of the modes that happened to run during it.
func schedule(cfg Config) []visit {
	var out []visit
	for _, mtu := range cfg.MTUs {
		if !cfg.Interleave {
			all := make([]int, cfg.Runs)
			for k := range all {
				all[k] = k + 1
			}
			for i := range cfg.Modes {
				out = append(out, visit{mtu: mtu, mode: i, runs: all})
			}
			continue
		}
		for k := 1; k <= cfg.Runs; k++ {
			for i := range cfg.Modes {
				out = append(out, visit{mtu: mtu, mode: i, runs: []int{k}})
			}
		}
	}
	return out
}

// modeRunner is what runAll needs from the machine (liveRunner; tests
// stand in for it).
type modeRunner interface {
	// up brings m up at mtu and returns it ready to measure, or nil and
	// the status every row of the mode gets ("unsupported: …" or
	// "failed: …"); then nothing is left running.
	up(ctx context.Context, m Mode, mtu int) (modeStage, string)
	// load watches the machine for a moment and says how loaded it is.
	load() MachineLoad
}

// modeStage is one mode up.
type modeStage interface {
	run(ctx context.Context, test string, d time.Duration) (sample, error)
	close()
}

// modeResult gathers one mode's runs at one MTU over its visits.
type modeResult struct {
	mode    Mode
	mtu     int
	status  string              // set when the mode could not be brought up; later visits skip it
	samples map[string][]sample // per test, in run order
	errs    map[string]error    // per test, its first failure
}

// runAll brings the modes up in schedule order, runs their tests, and
// appends to rep the rows (per MTU and mode, in Config order, as if
// nothing was interleaved), the load around each bring-up and a warning
// per disturbed run. It stops early only when ctx is cancelled.
func runAll(ctx context.Context, cfg Config, r modeRunner, rep *Report, prog *progress) error {
	type key struct{ mtu, mode int }
	results := map[key]*modeResult{}
	var order []key
	var quiet *MachineLoad // the machine's load, while nothing ran since it was taken
	for _, v := range schedule(cfg) {
		if ctx.Err() != nil {
			break
		}
		m := cfg.Modes[v.mode]
		k := key{v.mtu, v.mode}
		res := results[k]
		if res == nil {
			res = &modeResult{mode: m, mtu: v.mtu, samples: map[string][]sample{}, errs: map[string]error{}}
			results[k], order = res, append(order, k)
		}
		if res.status != "" { // said once, at its first visit
			prog.pass(m, len(v.runs))
			continue
		}
		prog.enter(m, v.mtu, len(v.runs))
		if m.Unsupported != "" {
			res.status = StatusUnsupported + m.Unsupported
			prog.skip()
			continue
		}
		if quiet == nil {
			l := r.load()
			quiet = &l
		}
		before := *quiet
		st, status := r.up(ctx, m, v.mtu)
		if st == nil {
			res.status, quiet = status, nil
			prog.skip()
			continue
		}
		res.measure(ctx, cfg, st, v.runs, rep, prog)
		st.close()
		if ctx.Err() != nil {
			break // no load reading: whoever cancelled is waiting
		}
		after := r.load()
		quiet = &after
		rep.Load = append(rep.Load, ModeLoad{Mode: m.Name, MTU: v.mtu, Runs: v.runs, Before: before, After: after})
	}
	for _, k := range order {
		rep.Rows = append(rep.Rows, results[k].rows(cfg)...)
	}
	return ctx.Err()
}

// measure runs every test of cfg once per run on st, keeping the samples
// and each test's first failure, and warns of every disturbed run.
func (res *modeResult) measure(ctx context.Context, cfg Config, st modeStage, runs []int, rep *Report, prog *progress) {
	for _, t := range cfg.Tests {
		for _, run := range runs {
			if ctx.Err() != nil {
				return
			}
			prog.setTest(t, run)
			s, err := st.run(ctx, t, cfg.Duration)
			prog.done(t)
			if err != nil {
				if res.errs[t] == nil {
					res.errs[t] = fmt.Errorf("run %d: %w", run, err)
				}
				continue
			}
			res.samples[t] = append(res.samples[t], s)
			if len(s.offenders) > 0 {
				w := Warning{Mode: res.mode.Name, MTU: res.mtu, Test: t, Run: run, OthersPct: s.othersPct, Processes: s.offenders}
				rep.Warnings = append(rep.Warnings, w)
				prog.warn(w.String())
			}
		}
	}
}

// rows is one row per test: the medians of its runs, and its status.
func (res *modeResult) rows(cfg Config) []Row {
	out := make([]Row, 0, len(cfg.Tests))
	for _, t := range cfg.Tests {
		m := res.mode
		r := Row{Mode: m.Name, IO: m.IO, Encap: m.Encap, Test: t, MTU: res.mtu, Status: StatusOK}
		r.aggregate(res.samples[t])
		switch {
		case res.status != "":
			r.Status = res.status
		case res.errs[t] != nil:
			r.Status = StatusFailed + oneLine(res.errs[t])
		case len(res.samples[t]) < cfg.Runs:
			r.Status = StatusFailed + "not every run completed"
		}
		out = append(out, r)
	}
	return out
}
