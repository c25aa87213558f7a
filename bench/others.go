package bench

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// OthersLimitPct is the share of one core, in %, that a process outside
// the benchmark may use during a run before the harness warns: more than
// that on a 2-core machine moves the results.
const OthersLimitPct = 10

// maxOffenders bounds the processes one warning names.
const maxOffenders = 3

// ProcUse is one process's CPU during a run.
type ProcUse struct {
	PID          int     `json:"pid"`
	Comm         string  `json:"comm"`
	KernelThread bool    `json:"kernel_thread,omitempty"`
	CorePct      float64 `json:"core_pct"` // % of one core over the run
}

func (u ProcUse) String() string {
	kind := ""
	if u.KernelThread {
		kind = ", kernel thread"
	}
	return fmt.Sprintf("pid %d (%s%s) %.0f%% of a core", u.PID, u.Comm, kind, u.CorePct)
}

// Warning is a run during which another process used more than
// OthersLimitPct of a core.
type Warning struct {
	Mode      string    `json:"mode"`
	MTU       int       `json:"mtu"`
	Test      string    `json:"test"`
	Run       int       `json:"run"`
	OthersPct float64   `json:"others_core_pct"` // every other process together
	Processes []ProcUse `json:"processes"`       // those above the limit, busiest first
}

func (w Warning) String() string {
	procs := make([]string, len(w.Processes))
	for i, p := range w.Processes {
		procs[i] = p.String()
	}
	return fmt.Sprintf("%s %s run %d (mtu %d): other processes used %.0f%% of a core: %s",
		w.Mode, w.Test, w.Run, w.MTU, w.OthersPct, strings.Join(procs, ", "))
}

// othersUse is the CPU, in % of one core over seconds, of every process
// outside ours between the tables before and after, busiest first;
// processes that used nothing are left out. Ours are self and its
// descendants in either table (the harness, its daemons, iperf3) and the
// ksoftirqd threads, which carry our traffic's deferred softirq work and
// which the own CPU already counts. Other kernel threads are not ours:
// the harness cannot tell whose work a kworker did, so it names them as
// kernel threads and lets the reader judge.
//
// A process that started and ended between the tables is never seen.
// When its parent waited for it, its time is in the parent's
// cutime+cstime, so it is charged to the parent: a shell running a build
// is named by the shell. A process seen before and gone after was charged
// in full, its whole life, to the nearest ancestor that lived through the
// run (through its parent's cutime when the parent ended too: `go build`
// ending with its compilers), so the part it had used before the run is
// taken back off that ancestor.
func othersUse(before, after procTable, self int, seconds float64) []ProcUse {
	if seconds <= 0 {
		return nil
	}
	lived := func(pid int) (procStat, procStat, bool) { // the same process in both tables
		b, okb := before[pid]
		a, oka := after[pid]
		return b, a, okb && oka && a.start == b.start
	}
	ticks := make(map[int]uint64, len(after))
	for pid, a := range after {
		ticks[pid] = a.self + a.children
		if b, _, same := lived(pid); same {
			ticks[pid] = sub(a.self, b.self) + sub(a.children, b.children)
		}
	}
	for pid, b := range before {
		if _, _, same := lived(pid); same {
			continue
		}
		if up, ok := livedAncestor(before, pid, lived); ok {
			ticks[up] = sub(ticks[up], b.self+b.children)
		}
	}
	var out []ProcUse
	for pid, t := range ticks {
		a := after[pid]
		if t == 0 || after.inTree(pid, self) || before.inTree(pid, self) || strings.HasPrefix(a.comm, "ksoftirqd/") {
			continue
		}
		out = append(out, ProcUse{PID: pid, Comm: a.comm, KernelThread: a.kthread, CorePct: 100 * float64(t) / userHZ / seconds})
	}
	slices.SortFunc(out, func(x, y ProcUse) int {
		if x.CorePct != y.CorePct {
			if x.CorePct > y.CorePct {
				return -1
			}
			return 1
		}
		return x.PID - y.PID
	})
	return out
}

// livedAncestor is the nearest ancestor of pid, by the parent links of
// before, that lived through the run.
func livedAncestor(before procTable, pid int, lived func(int) (procStat, procStat, bool)) (int, bool) {
	for steps := 0; steps < len(before)+1; steps++ { // bounded, as in inTree
		p, ok := before[pid]
		if !ok || p.ppid == 0 || p.ppid == pid {
			return 0, false
		}
		if _, _, ok := lived(p.ppid); ok {
			return p.ppid, true
		}
		pid = p.ppid
	}
	return 0, false
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// overLimit sums use and keeps the processes above OthersLimitPct
// (at most maxOffenders, busiest first; use is sorted so).
func overLimit(use []ProcUse) (total float64, over []ProcUse) {
	for _, u := range use {
		total += u.CorePct
		if u.CorePct > OthersLimitPct && len(over) < maxOffenders {
			over = append(over, u)
		}
	}
	return total, over
}

// othersMeter watches the machine's other processes through one run.
type othersMeter struct {
	proc   fs.FS
	self   int
	before procTable
	start  time.Time
}

func watchOthers(proc fs.FS, self int) othersMeter {
	return othersMeter{proc: proc, self: self, before: readProcs(proc), start: time.Now()}
}

// since returns every other process's CPU since watchOthers.
func (o othersMeter) since() []ProcUse {
	after := readProcs(o.proc)
	return othersUse(o.before, after, o.self, time.Since(o.start).Seconds())
}
