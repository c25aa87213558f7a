package bench

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

func TestParseLoadavg(t *testing.T) {
	l, err := parseLoadavg([]byte("2.49 0.66 0.22 6/131 7311\n"))
	if err != nil || l != [3]float64{2.49, 0.66, 0.22} {
		t.Errorf("parseLoadavg = %v, %v", l, err)
	}
	for _, bad := range []string{"", "1.0 2.0", "1.0 x 3.0 1/2 3", "1 2 -3 1/2 3"} {
		if _, err := parseLoadavg([]byte(bad)); !errors.Is(err, ErrProcFormat) {
			t.Errorf("parseLoadavg(%q) err = %v, want ErrProcFormat", bad, err)
		}
	}
}

func TestParseIdle(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	got, err := parseIdle([]byte("cpu  100 20 300 9000 55 7 13 8 40 2\ncpu0 1 2 3 4 5 6 7 8 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (cpuTicks{idle: 9055, total: 100 + 20 + 300 + 9000 + 55 + 7 + 13 + 8}); got != want {
		t.Errorf("parseIdle = %+v, want %+v (guest is inside user, not added again)", got, want)
	}
	if got, err := parseIdle([]byte("cpu 1 2 3 4 5 6 7\n")); err != nil || got.total != 28 {
		t.Errorf("without steal: %+v, %v", got, err)
	}
	if _, err := parseIdle([]byte("cpu 1 2 3 x 5 6 7 8")); !errors.Is(err, ErrProcFormat) {
		t.Errorf("a bad idle field: %v", err)
	}
	for _, tc := range []struct {
		a, b cpuTicks
		want float64
	}{
		{cpuTicks{100, 1000}, cpuTicks{250, 1200}, 75},
		{cpuTicks{100, 1000}, cpuTicks{100, 1000}, 0}, // no time passed
		{cpuTicks{100, 1000}, cpuTicks{90, 1200}, 0},  // a counter went back
	} {
		if got := idlePct(tc.a, tc.b); got != tc.want {
			t.Errorf("idlePct(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// stepFS serves successive contents of /proc/stat, one per read.
type stepFS struct {
	fstest.MapFS
	stats []string
}

func (s *stepFS) ReadFile(name string) ([]byte, error) {
	if name == "stat" && len(s.stats) > 0 {
		b := []byte(s.stats[0])
		s.stats = s.stats[1:]
		return b, nil
	}
	return s.MapFS.ReadFile(name)
}

func TestMachineLoad(t *testing.T) {
	proc := &stepFS{
		MapFS: fstest.MapFS{"loadavg": {Data: []byte("1.50 1.00 0.50 3/200 42\n")}},
		stats: []string{"cpu 100 0 100 800 0 0 0 0 0 0\n", "cpu 150 0 150 900 0 0 0 0 0 0\n"},
	}
	ml := machineLoad(proc, time.Millisecond)
	if ml.Error != "" || ml.Load1 != 1.5 || ml.Load5 != 1 || ml.Load15 != 0.5 || ml.IdlePct != 50 || ml.WindowS != 0.001 || ml.At == "" {
		t.Errorf("machineLoad = %+v, want load 1.5/1/0.5 and 50%% idle (100 of 200 ticks)", ml)
	}
	ml = machineLoad(fstest.MapFS{}, 0)
	if !strings.Contains(ml.Error, "stat") || !strings.Contains(ml.Error, "loadavg") {
		t.Errorf("nothing readable: error %q, want both files named", ml.Error)
	}
	live := machineLoad(os.DirFS("/proc"), 50*time.Millisecond)
	if live.Error != "" || live.IdlePct < 0 || live.IdlePct > 100 {
		t.Errorf("this machine: %+v", live)
	}
}

// TestOthersLive spins a process outside this test's process tree (its
// parent shell exits, so it is re-parented) and spins here too: the
// watcher names the stranger and not this process. (How much of a core
// the stranger gets depends on who else shares the machine, so only its
// being named is checked; the limit is TestOthersUse's.)
func TestOthersLive(t *testing.T) {
	out, err := exec.Command("sh", "-c", "(while :; do :; done) >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("spinner pid %q: %v", out, err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })

	o := watchOthers(os.DirFS("/proc"), os.Getpid())
	for spin := time.Now(); time.Since(spin) < 500*time.Millisecond; { // our own work: never named
	}
	use := o.since()
	var found *ProcUse
	for i, u := range use {
		if u.PID == os.Getpid() {
			t.Errorf("this test's own process named: %+v", u)
		}
		if u.PID == pid {
			found = &use[i]
		}
	}
	if found == nil || found.CorePct <= 0 || found.CorePct > 100+1e-9 || math.IsNaN(found.CorePct) {
		t.Fatalf("the spinner %d: %+v in %+v", pid, found, use)
	}
	t.Logf("spinner: %v", found)
}
