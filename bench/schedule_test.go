package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeRunner stands in for the machine: it logs what the harness asks of
// it and measures deterministic numbers, so the rows can be compared.
type fakeRunner struct {
	log   []string
	runs  map[string]int    // "mode test" -> runs measured so far
	upErr map[string]string // mode -> status its bring-up gives
	loads int
	// failRun and busyRun pick a "mode test run" that fails, or during
	// which another process was busy.
	failRun, busyRun string
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{runs: map[string]int{}, upErr: map[string]string{}}
}

func (f *fakeRunner) load() MachineLoad {
	f.loads++
	f.log = append(f.log, "load")
	return MachineLoad{Load1: float64(f.loads)}
}

func (f *fakeRunner) up(_ context.Context, m Mode, mtu int) (modeStage, string) {
	f.log = append(f.log, "up "+m.Name)
	if s := f.upErr[m.Name]; s != "" {
		return nil, s
	}
	return &fakeStage{f: f, mode: m.Name}, ""
}

type fakeStage struct {
	f    *fakeRunner
	mode string
}

func (s *fakeStage) run(_ context.Context, test string, _ time.Duration) (sample, error) {
	s.f.runs[s.mode+" "+test]++
	k := s.f.runs[s.mode+" "+test]
	id := fmt.Sprintf("%s %s %d", s.mode, test, k)
	s.f.log = append(s.f.log, "run "+id)
	if id == s.f.failRun {
		return sample{}, errors.New("boom")
	}
	// Every number differs per mode, test and run, so a sample that went
	// to the wrong row or a lost run changes the medians.
	v := float64(len(s.mode)*100+len(test)*10) + float64(k*k)
	out := sample{gbps: v, pps: 1000 * v, p50: v, p99: 2 * v, p999: 3 * v, machineCPU: v / 10, ownCPU: v / 20,
		daemonCPU: v / 40, bits: 1e9 * v, pkts: 1e5 * v, othersPct: float64(k)}
	if id == s.f.busyRun {
		out.othersPct, out.offenders = 60, []ProcUse{{PID: 7, Comm: "go", CorePct: 55}}
	}
	return out, nil
}

func (s *fakeStage) close() { s.f.log = append(s.f.log, "close "+s.mode) }

func fakeConfig(interleave bool, modes ...Mode) Config {
	cfg := Config{Modes: modes, Tests: []string{TestTCP1, TestRR}, Runs: 3, Interleave: interleave}
	if err := cfg.defaults(); err != nil {
		panic(err)
	}
	return cfg
}

// measured lists the "run" entries of a log, in order.
func measured(log []string) []string {
	var out []string
	for _, l := range log {
		if id, ok := strings.CutPrefix(l, "run "); ok {
			out = append(out, id)
		}
	}
	return out
}

func TestSchedule(t *testing.T) {
	cfg := fakeConfig(false, Mode{Name: "a"}, Mode{Name: "b"})
	cfg.MTUs = []int{1500, 9000}
	grouped := schedule(cfg)
	cfg.Interleave = true
	interleaved := schedule(cfg)
	str := func(vs []visit) string {
		var s []string
		for _, v := range vs {
			s = append(s, fmt.Sprintf("%d:%s%v", v.mtu, cfg.Modes[v.mode].Name, v.runs))
		}
		return strings.Join(s, " ")
	}
	if got, want := str(grouped), "1500:a[1 2 3] 1500:b[1 2 3] 9000:a[1 2 3] 9000:b[1 2 3]"; got != want {
		t.Errorf("grouped:\n got %s\nwant %s", got, want)
	}
	if got, want := str(interleaved), "1500:a[1] 1500:b[1] 1500:a[2] 1500:b[2] 1500:a[3] 1500:b[3] "+
		"9000:a[1] 9000:b[1] 9000:a[2] 9000:b[2] 9000:a[3] 9000:b[3]"; got != want {
		t.Errorf("interleaved:\n got %s\nwant %s", got, want)
	}
}

// TestRunAllInterleaved runs two modes three times each, interleaved:
// every mode's run 1 comes before any mode's run 2, each run on its own
// bring-up, and the rows are exactly those of the grouped order.
func TestRunAllInterleaved(t *testing.T) {
	modes := []Mode{{Name: "kernel/vxlan", IO: "kernel", Encap: "vxlan"}, {Name: "tun/vxlan", IO: "tun", Encap: "vxlan"}}
	run := func(interleave bool) (*Report, *fakeRunner) {
		f := newFakeRunner()
		cfg := fakeConfig(interleave, modes...)
		rep := &Report{}
		if err := runAll(context.Background(), cfg, f, rep, newProgress(cfg)); err != nil {
			t.Fatal(err)
		}
		return rep, f
	}
	inter, fi := run(true)
	want := []string{
		"kernel/vxlan tcp1 1", "kernel/vxlan rr 1", "tun/vxlan tcp1 1", "tun/vxlan rr 1",
		"kernel/vxlan tcp1 2", "kernel/vxlan rr 2", "tun/vxlan tcp1 2", "tun/vxlan rr 2",
		"kernel/vxlan tcp1 3", "kernel/vxlan rr 3", "tun/vxlan tcp1 3", "tun/vxlan rr 3",
	}
	if got := measured(fi.log); !reflect.DeepEqual(got, want) {
		t.Errorf("interleaved order:\n got %v\nwant %v", got, want)
	}
	if n := strings.Count(strings.Join(fi.log, ","), "up tun/vxlan"); n != 3 {
		t.Errorf("tun/vxlan brought up %d times, want once per run", n)
	}

	grouped, fg := run(false)
	if got := measured(fg.log); got[1] != "kernel/vxlan tcp1 2" || got[6] != "tun/vxlan tcp1 1" {
		t.Errorf("grouped order: %v", got)
	}
	if !reflect.DeepEqual(inter.Rows, grouped.Rows) {
		t.Errorf("rows differ between orders:\ninterleaved %+v\ngrouped     %+v", inter.Rows, grouped.Rows)
	}
	for _, r := range inter.Rows {
		if r.Status != StatusOK || r.Runs != 3 || r.OthersCorePct != 3 || r.DisturbedRuns != 0 {
			t.Errorf("%s %s: %+v", r.Mode, r.Test, r)
		}
	}
	// run k gives v+k²: medians are v+4, min v+1, max v+9
	if r := inter.Rows[0]; r.Mode != "kernel/vxlan" || r.Test != TestTCP1 || r.Gbps != 1244 || r.Min != 1241 || r.Max != 1249 {
		t.Errorf("first row %+v", r)
	}

	// The machine's load: one reading before the first bring-up, one
	// after each; each bring-up's After is the next one's Before.
	if len(inter.Load) != 6 || fi.loads != 7 {
		t.Fatalf("%d load entries from %d readings, want 6 from 7", len(inter.Load), fi.loads)
	}
	for i, l := range inter.Load {
		if l.Before.Load1 != float64(i+1) || l.After.Load1 != float64(i+2) || len(l.Runs) != 1 || l.Runs[0] != i/2+1 || l.Mode != modes[i%2].Name {
			t.Errorf("load[%d] = %+v", i, l)
		}
	}
	if len(grouped.Load) != 2 || !reflect.DeepEqual(grouped.Load[1].Runs, []int{1, 2, 3}) {
		t.Errorf("grouped load %+v", grouped.Load)
	}
}

// TestRunAllFailures: a statically unsupported mode is never brought up,
// one whose bring-up fails is tried once, a failed run marks its test's
// row with the run's number, and a disturbed run gives a warning.
func TestRunAllFailures(t *testing.T) {
	modes := []Mode{
		{Name: "future", Unsupported: "not yet"},
		{Name: "broken"},
		{Name: "tun/vxlan"},
	}
	f := newFakeRunner()
	f.upErr["broken"] = StatusFailed + "podfwd on n1: exited"
	f.failRun, f.busyRun = "tun/vxlan rr 2", "tun/vxlan tcp1 3"
	cfg := fakeConfig(true, modes...)
	var lines bytes.Buffer
	cfg.Progress = &lines
	rep := &Report{}
	prog := newProgress(cfg)
	if err := runAll(context.Background(), cfg, f, rep, prog); err != nil {
		t.Fatal(err)
	}
	if prog.base+prog.cur != prog.total {
		t.Errorf("progress planned %v s but went through %v", prog.total, prog.base+prog.cur)
	}
	if n, m := strings.Count(lines.String(), "future"), strings.Count(lines.String(), "broken"); n != 1 || m != 1 {
		t.Errorf("progress names the unsupported mode %d and the broken one %d times, want once each:\n%s", n, m, lines.String())
	}
	if !strings.Contains(lines.String(), "warning: tun/vxlan tcp1 run 3 (mtu 1500)") {
		t.Errorf("no warning line in the progress:\n%s", lines.String())
	}
	log := strings.Join(f.log, ",")
	if strings.Contains(log, "up future") || strings.Count(log, "up broken") != 1 {
		t.Errorf("bring-ups: %s", log)
	}
	status := map[string]string{}
	for _, r := range rep.Rows {
		status[r.Mode+" "+r.Test] = r.Status
		if r.Mode == "tun/vxlan" && r.Test == TestTCP1 && (r.DisturbedRuns != 1 || r.OthersCorePct != 60) {
			t.Errorf("disturbed row %+v", r)
		}
	}
	for k, want := range map[string]string{
		"future tcp1":    StatusUnsupported + "not yet",
		"broken rr":      StatusFailed + "podfwd on n1: exited",
		"tun/vxlan tcp1": StatusOK,
		"tun/vxlan rr":   StatusFailed + "run 2: boom",
	} {
		if status[k] != want {
			t.Errorf("%s: status %q, want %q", k, status[k], want)
		}
	}
	if len(rep.Rows) != 6 {
		t.Errorf("%d rows, want 6", len(rep.Rows))
	}
	if len(rep.Warnings) != 1 || rep.Warnings[0].Run != 3 || rep.Warnings[0].Test != TestTCP1 || rep.Warnings[0].Processes[0].Comm != "go" {
		t.Errorf("warnings %+v, want one for tun/vxlan tcp1 run 3", rep.Warnings)
	}
	// the failed bring-up ran something: the next one reads the load again
	if want := "load,up broken,load,up tun/vxlan"; !strings.HasPrefix(log, want) {
		t.Errorf("log starts %q, want %q", log, want)
	}
}

// TestRunAllCancelled: a cancelled run stops between runs and reports
// the rows it has, marked incomplete.
func TestRunAllCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := newFakeRunner()
	cfg := fakeConfig(true, Mode{Name: "a"}, Mode{Name: "b"})
	rep := &Report{}
	prog := newProgress(cfg)
	// cancel once mode a's first visit is measured
	r := cancelAfter{fakeRunner: f, n: 1, cancel: cancel}
	if err := runAll(ctx, cfg, &r, rep, prog); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if len(rep.Rows) != 2 || rep.Rows[0].Mode != "a" || !strings.Contains(rep.Rows[0].Status, "not every run completed") {
		t.Errorf("rows %+v", rep.Rows)
	}
}

// cancelAfter cancels after n bring-ups closed.
type cancelAfter struct {
	*fakeRunner
	n      int
	cancel func()
}

func (c *cancelAfter) up(ctx context.Context, m Mode, mtu int) (modeStage, string) {
	st, s := c.fakeRunner.up(ctx, m, mtu)
	if st == nil {
		return nil, s
	}
	return closeHook{st, func() {
		if c.n--; c.n == 0 {
			c.cancel()
		}
	}}, ""
}

type closeHook struct {
	modeStage
	hook func()
}

func (h closeHook) close() { h.modeStage.close(); h.hook() }
