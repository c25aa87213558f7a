package bench

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// quietWindow is how long the harness watches the machine between two
// modes to tell how idle it is. One second is enough to see a build or
// another benchmark and costs one second per mode brought up.
const quietWindow = time.Second

// MachineLoad is the machine between two modes: the load average and the
// share of every core that was idle over Window seconds.
type MachineLoad struct {
	At      string  `json:"at"`       // UTC, RFC 3339, when the window ended
	Load1   float64 `json:"load1"`    // /proc/loadavg, 1 minute
	Load5   float64 `json:"load5"`    // 5 minutes
	Load15  float64 `json:"load15"`   // 15 minutes
	IdlePct float64 `json:"idle_pct"` // idle+iowait over all cores' time in the window, in %
	WindowS float64 `json:"window_s"` // the window's length
	Error   string  `json:"error,omitempty"`
}

// ModeLoad is the machine around one bring-up of a mode: Before was taken
// just before its topology was built, After just after it was removed
// (so After also sees the kernel clearing the namespaces away), which is
// the next bring-up's Before.
type ModeLoad struct {
	Mode   string      `json:"mode"`
	MTU    int         `json:"mtu"`
	Runs   []int       `json:"runs"` // which runs of every test this bring-up did
	Before MachineLoad `json:"before"`
	After  MachineLoad `json:"after"`
}

// parseLoadavg reads the three load averages of /proc/loadavg.
func parseLoadavg(b []byte) (l [3]float64, err error) {
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return l, fmt.Errorf("%w: /proc/loadavg %q", ErrProcFormat, truncate(string(b), 80))
	}
	for i := range l {
		if l[i], err = strconv.ParseFloat(f[i], 64); err != nil || l[i] < 0 {
			return l, fmt.Errorf("%w: /proc/loadavg field %d %q", ErrProcFormat, i+1, f[i])
		}
	}
	return l, nil
}

// cpuTicks is the aggregate "cpu" line of /proc/stat split into what the
// machine had idle and all it had, in USER_HZ ticks.
type cpuTicks struct{ idle, total uint64 }

// parseIdle reads /proc/stat's first line. Idle counts iowait too (a core
// waiting for a disk could run us); total is user through steal (guest
// time is already inside user and nice, so it is not added again).
func parseIdle(stat []byte) (cpuTicks, error) {
	v, err := cpuLine(stat)
	if err != nil {
		return cpuTicks{}, err
	}
	var t cpuTicks
	for _, x := range v {
		t.total += x
	}
	t.idle = v[3] + v[4]
	return t, nil
}

// idlePct is the idle share of the machine between two readings, in %.
func idlePct(before, after cpuTicks) float64 {
	if after.total <= before.total || after.idle < before.idle {
		return 0
	}
	return 100 * float64(after.idle-before.idle) / float64(after.total-before.total)
}

// machineLoad watches proc (the /proc file system) for window and says how
// loaded the machine was. A reading that fails is said in Error; the
// numbers it could not read stay 0.
func machineLoad(proc fs.FS, window time.Duration) MachineLoad {
	var ml MachineLoad
	first, err := readIdle(proc)
	if err == nil {
		time.Sleep(window)
		var last cpuTicks
		if last, err = readIdle(proc); err == nil {
			ml.IdlePct, ml.WindowS = idlePct(first, last), window.Seconds()
		}
	}
	b, lerr := fs.ReadFile(proc, "loadavg")
	if lerr == nil {
		var l [3]float64
		l, lerr = parseLoadavg(b)
		ml.Load1, ml.Load5, ml.Load15 = l[0], l[1], l[2]
	}
	for _, e := range []error{err, lerr} {
		if e != nil {
			ml.Error = strings.TrimPrefix(ml.Error+"; "+e.Error(), "; ")
		}
	}
	ml.At = time.Now().UTC().Format(time.RFC3339)
	return ml
}

func readIdle(proc fs.FS) (cpuTicks, error) {
	b, err := fs.ReadFile(proc, "stat")
	if err != nil {
		return cpuTicks{}, err
	}
	return parseIdle(b)
}
