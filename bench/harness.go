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
	// Interleave brings every mode up once per run (run 1 of every mode,
	// then run 2 of every mode, …) instead of once for all its runs, so a
	// change in the machine's load hits every mode alike.
	Interleave bool
	// OnUp, when set, runs each time a mode is up, before its tests
	// (podfwd demo pings pod to pod there).
	OnUp func(ctx context.Context, m Mode, tp *topo.Topology)
}

// Report is the result of Run, as written by --json.
type Report struct {
	Env  Env   `json:"env"`
	Rows []Row `json:"rows"`
	// Load is the machine around each bring-up of a mode, in run order.
	Load []ModeLoad `json:"load"`
	// Warnings are the runs during which a process outside the benchmark
	// used more than OthersLimitPct of a core, in run order.
	Warnings []Warning `json:"warnings"`
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
// the rows (with ratios to kernel VXLAN), the machine's load around each
// mode and a warning for every run another process disturbed. A mode
// this machine or this podfwd cannot run gives "unsupported: …" rows; a
// mode that fails gives "failed: …" rows and Run goes on. The error is
// only for bad options or a cancelled ctx; the report holds whatever was
// measured until then.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	rep := &Report{Env: collectEnv(cfg), Load: []ModeLoad{}, Warnings: []Warning{}} // [] in the JSON, not null
	prog := newProgress(cfg)
	defer prog.finish()
	err := runAll(ctx, cfg, newLiveRunner(cfg, &rep.Env), rep, prog)
	setRatios(rep.Rows)
	rep.Env.finish()
	return rep, err
}

// oneLine keeps an error's message on one line for a table cell or a
// JSON status.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	return truncate(s, 300)
}
