package bench

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"testing/fstest"
)

// Lines as this machine's kernel (6.18) writes them.
const (
	catStat       = "18372 (cat) R 18370 18370 2011 0 -1 4194304 100 0 0 0 7 3 5 2 20 0 1 0 56068 3133440 359 18446744073709551615 94317611155456 0 17 0 0 0 0 0 0 0\n"
	kthreaddStat  = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 6 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0\n"
	tooShortStat  = "7 (x) S 1 7 7 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0"
	negChildStat  = "7 (x) S 1 7 7 0 -1 0 0 0 0 0 1 1 -1 0 20 0 1 0 9 0"
	badPidStat    = "x7 (x) S 1 7 7 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 9 0"
	parenCommStat = "4242 (pod fwd) x) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 75 10 20 20 0 8 0 100 0 0\n"
)

func TestParseProcStat(t *testing.T) {
	p, err := parseProcStat([]byte(catStat))
	if err != nil {
		t.Fatal(err)
	}
	if want := (procStat{pid: 18372, ppid: 18370, comm: "cat", start: 56068, self: 10, children: 7}); p != want {
		t.Errorf("cat: %+v, want %+v", p, want)
	}
	if p, err = parseProcStat([]byte(kthreaddStat)); err != nil || !p.kthread || p.pid != 2 || p.ppid != 0 {
		t.Errorf("kthreadd: %+v, %v: want a kernel thread, pid 2, ppid 0", p, err)
	}
	if p, err = parseProcStat([]byte(parenCommStat)); err != nil || p.comm != "pod fwd) x" || p.self != 325 || p.children != 30 || p.kthread {
		t.Errorf("a command name with ') ': %+v, %v", p, err)
	}
	for _, bad := range []string{"", ")", "1 (x", tooShortStat, negChildStat, badPidStat} {
		if _, err := parseProcStat([]byte(bad)); !errors.Is(err, ErrProcFormat) {
			t.Errorf("parseProcStat(%q) err = %v, want ErrProcFormat", bad, err)
		}
	}
}

func FuzzParseProcStat(f *testing.F) {
	for _, s := range []string{catStat, kthreaddStat, parenCommStat, negChildStat} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseProcStat(b)
		if err == nil && (p.pid <= 0 || p.ppid < 0) {
			t.Errorf("%+v from %q", p, b)
		}
	})
}

// proc is one fake process: its stat line's fields that matter.
type proc struct {
	pid, ppid          int
	comm               string
	kthread            bool
	start              uint64
	self, children     uint64 // ticks
	unreadable, broken bool   // stat missing / not parsable
}

// fakeProc lays procs out as a /proc file system, with the files around
// them that readProcs must skip.
func fakeProc(procs ...proc) fstest.MapFS {
	fsys := fstest.MapFS{
		"stat":        {Data: []byte("cpu  1 2 3 4 5 6 7 8 0 0\n")},
		"loadavg":     {Data: []byte("0.50 0.40 0.30 1/100 999\n")},
		"self/stat":   {Data: []byte(catStat)}, // not a pid: skipped
		"sys/x":       {Data: []byte("1")},
		"424242/comm": {Data: []byte("gone\n")}, // a process dir without stat
	}
	for _, p := range procs {
		flags := 4194304
		if p.kthread {
			flags |= pfKthread
		}
		line := fmt.Sprintf("%d (%s) S %d %d %d 0 -1 %d 0 0 0 0 %d 0 %d 0 20 0 1 0 %d 0 0\n",
			p.pid, p.comm, p.ppid, p.pid, p.pid, flags, p.self, p.children, p.start)
		if p.broken {
			line = "not a stat line"
		}
		if !p.unreadable {
			fsys[fmt.Sprint(p.pid)+"/stat"] = &fstest.MapFile{Data: []byte(line)}
		}
	}
	return fsys
}

func TestReadProcs(t *testing.T) {
	tab := readProcs(fakeProc(
		proc{pid: 1, comm: "init", start: 1, self: 5},
		proc{pid: 9, ppid: 1, comm: "broken", broken: true},
		proc{pid: 10, ppid: 1, comm: "gone", unreadable: true},
		proc{pid: 11, ppid: 2, comm: "kworker/0:1", kthread: true, start: 3},
	))
	if len(tab) != 2 || tab[1].comm != "init" || tab[1].self != 5 || !tab[11].kthread {
		t.Errorf("table %+v: want init and the kworker, nothing else", tab)
	}
	if got := readProcs(fstest.MapFS{}); len(got) != 0 {
		t.Errorf("empty /proc: %v", got)
	}
}

// The harness is pid 100, its parent (go test, a shell) 50. Over a 2 s
// run, at USER_HZ 100, 200 ticks are one core.
func TestOthersUse(t *testing.T) {
	before := readProcs(fakeProc(
		proc{pid: 50, ppid: 1, comm: "bash", start: 5, self: 1000},
		proc{pid: 100, ppid: 50, comm: "podfwd", start: 10, self: 500, children: 100},
		proc{pid: 101, ppid: 100, comm: "podfwd", start: 20, self: 50}, // a daemon
		proc{pid: 102, ppid: 101, comm: "iperf3", start: 21, self: 5},  // a grandchild, gone after
		proc{pid: 10, ppid: 2, comm: "ksoftirqd/0", kthread: true, start: 1, self: 10},
		proc{pid: 11, ppid: 2, comm: "kworker/1:2", kthread: true, start: 2, self: 10},
		proc{pid: 200, ppid: 1, comm: "go", start: 30, self: 1000, children: 5000},
		proc{pid: 201, ppid: 200, comm: "compile", start: 31, self: 300}, // ends in the run, reaped by go
		proc{pid: 300, ppid: 1, comm: "idle", start: 40, self: 7},
		proc{pid: 400, ppid: 1, comm: "old", start: 50, self: 900}, // its pid is reused in the run
		proc{pid: 500, ppid: 1, comm: "sleepy", start: 60, self: 100},
		// make ran a build before the run: cc (200 ticks reaped) and
		// its child ld (alive, 300) both end in the run, after 10 and 30
		// more ticks; make waits for cc, cc for ld.
		proc{pid: 600, ppid: 1, comm: "make", start: 90, self: 50},
		proc{pid: 601, ppid: 600, comm: "cc", start: 91, self: 100, children: 200},
		proc{pid: 602, ppid: 601, comm: "ld", start: 92, self: 300},
	))
	after := readProcs(fakeProc(
		proc{pid: 50, ppid: 1, comm: "bash", start: 5, self: 1000},
		proc{pid: 100, ppid: 50, comm: "podfwd", start: 10, self: 800, children: 180},
		proc{pid: 101, ppid: 100, comm: "podfwd", start: 20, self: 300},
		proc{pid: 103, ppid: 100, comm: "iperf3", start: 70, self: 150}, // ours, born in the run
		proc{pid: 10, ppid: 2, comm: "ksoftirqd/0", kthread: true, start: 1, self: 190},
		proc{pid: 11, ppid: 2, comm: "kworker/1:2", kthread: true, start: 2, self: 40},
		// go used 20 ticks itself; compile (gone) had 300 before and 340
		// at its end, so go's children grew by 340 plus 40 from a compile
		// that started and ended within the run: 80 in the run.
		proc{pid: 200, ppid: 1, comm: "go", start: 30, self: 1020, children: 5380},
		proc{pid: 300, ppid: 1, comm: "idle", start: 40, self: 7},
		proc{pid: 400, ppid: 1, comm: "new", start: 80, self: 30}, // all of its 30 ticks are in the run
		proc{pid: 500, ppid: 1, comm: "sleepy", start: 60, self: 119},
		// make's children grew by cc's whole life: 110 + 200 + 330
		proc{pid: 600, ppid: 1, comm: "make", start: 90, self: 50, children: 640},
	))
	got := othersUse(before, after, 100, 2)
	want := []ProcUse{
		{PID: 200, Comm: "go", CorePct: 50},
		{PID: 600, Comm: "make", CorePct: 20},                           // 40 ticks: cc's 10 and ld's 30
		{PID: 11, Comm: "kworker/1:2", KernelThread: true, CorePct: 15}, // a tie goes by pid
		{PID: 400, Comm: "new", CorePct: 15},
		{PID: 500, Comm: "sleepy", CorePct: 9.5},
	}
	if len(got) != len(want) {
		t.Fatalf("othersUse = %+v\nwant %+v", got, want)
	}
	for i := range want {
		if g, w := got[i], want[i]; g.PID != w.PID || g.Comm != w.Comm || g.KernelThread != w.KernelThread || math.Abs(g.CorePct-w.CorePct) > 1e-9 {
			t.Errorf("[%d] = %+v, want %+v", i, g, w)
		}
	}

	total, over := overLimit(got)
	if math.Abs(total-109.5) > 1e-9 {
		t.Errorf("total %v%%, want 109.5%%", total)
	}
	if len(over) != 3 || over[0].PID != 200 || over[1].PID != 600 || over[2].PID != 11 {
		t.Errorf("over the limit: %+v, want go, make and the kworker (sleepy is below %d%%)", over, OthersLimitPct)
	}
	if got := othersUse(before, after, 100, 0); got != nil {
		t.Errorf("a zero-length run: %+v", got)
	}
}

func TestOverLimit(t *testing.T) {
	use := []ProcUse{{PID: 1, CorePct: 80}, {PID: 2, CorePct: 40}, {PID: 3, CorePct: 30}, {PID: 4, CorePct: 20}, {PID: 5, CorePct: OthersLimitPct}, {PID: 6, CorePct: 1}}
	total, over := overLimit(use)
	if total != 181 || len(over) != maxOffenders || over[0].PID != 1 || over[2].PID != 3 {
		t.Errorf("total %v, over %+v: want 181 and the busiest %d", total, over, maxOffenders)
	}
	if _, over := overLimit(use[4:]); len(over) != 0 {
		t.Errorf("exactly %d%% warned: %+v", OthersLimitPct, over)
	}
	if s := (Warning{Mode: "tun/vxlan", MTU: 1500, Test: TestTCP1, Run: 2, OthersPct: 90,
		Processes: []ProcUse{{PID: 7, Comm: "go", CorePct: 85}, {PID: 8, Comm: "kworker/0:1", KernelThread: true, CorePct: 11}}}).String(); s !=
		"tun/vxlan tcp1 run 2 (mtu 1500): other processes used 90% of a core: pid 7 (go) 85% of a core, pid 8 (kworker/0:1, kernel thread) 11% of a core" {
		t.Errorf("warning reads %q", s)
	}
}
