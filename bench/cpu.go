package bench

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrProcFormat is wrapped when /proc/stat or /proc/PID/stat does not
// look as proc(5) describes.
var ErrProcFormat = errors.New("unexpected /proc format")

// userHZ is the unit of /proc's CPU times. The kernel exports them in
// USER_HZ, which is 100 on every Linux architecture Go supports.
const userHZ = 100

// machineCPU is the machine's CPU time in seconds, from /proc/stat.
type machineCPU struct {
	busy float64 // user + nice + system + irq + softirq
	irq  float64 // irq + softirq alone
}

// parseMachineBusy reads the aggregate "cpu" line of /proc/stat. Softirq is
// where the kernel's own datapaths (veth, VXLAN, routing) spend their time
// when the kernel accounts interrupt time apart, so the kernel modes pay
// for their work here like podfwd does.
func parseMachineBusy(stat []byte) (machineCPU, error) {
	v, err := cpuLine(stat)
	if err != nil {
		return machineCPU{}, err
	}
	irq := float64(v[5]+v[6]) / userHZ
	return machineCPU{busy: float64(v[0]+v[1]+v[2])/userHZ + irq, irq: irq}, nil
}

// cpuLine parses /proc/stat's aggregate "cpu" line: user nice system idle
// iowait irq softirq steal, in ticks (steal is 0 on kernels without it).
func cpuLine(stat []byte) (v [8]uint64, err error) {
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return v, fmt.Errorf("%w: /proc/stat first line %q", ErrProcFormat, truncate(line, 80))
	}
	for i := 0; i < len(v) && i+1 < len(f); i++ {
		if v[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return v, fmt.Errorf("%w: /proc/stat field %d: %w", ErrProcFormat, i+1, err)
		}
	}
	return v, nil
}

// parseProcessCPU reads utime + stime, in seconds, from a /proc/PID/stat
// line.
func parseProcessCPU(stat []byte) (float64, error) {
	_, _, f, err := statFields(stat, 13)
	if err != nil {
		return 0, err
	}
	utime, stime, err := statUints2(f, 11, 12)
	return float64(utime+stime) / userHZ, err
}

// readMachineCPU is parseMachineBusy of the live /proc/stat.
func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	return parseMachineBusy(b)
}

// processesCPU sums the CPU seconds of pids; a process that is gone counts
// nothing (its time can no longer be read).
func processesCPU(pids []int) float64 {
	var sum float64
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		if s, err := parseProcessCPU(b); err == nil {
			sum += s
		}
	}
	return sum
}

// selfAndChildrenCPU is this process's CPU (the in-process generators)
// plus that of its waited-for children: iperf3 runs as a child (`ip netns
// exec` execs it in place) and is waited for before a test ends.
func selfAndChildrenCPU() float64 {
	var sum float64
	for _, who := range []int{unix.RUSAGE_SELF, unix.RUSAGE_CHILDREN} {
		var ru unix.Rusage
		if unix.Getrusage(who, &ru) == nil {
			sum += tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
		}
	}
	return sum
}

func tvSeconds(tv unix.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

// softirqThreads are the pids of the ksoftirqd threads, which carry
// network softirq work the kernel defers out of interrupt context.
func softirqThreads() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile("/proc/" + e.Name() + "/comm"); err == nil && strings.HasPrefix(string(comm), "ksoftirqd/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cpuMeter takes CPU times at the start of a test; since returns the
// deltas. machine is the whole machine (/proc/stat busy), which on a
// shared machine includes other people's work; own counts only the work
// of the test: the daemons, the traffic generators and iperf3, the
// ksoftirqd threads, and the machine's irq+softirq time when the kernel
// keeps it out of the tasks' times (see irqTimeAccounting); daemons is
// the podfwd processes alone.
type cpuMeter struct {
	daemons, softirqd     []int
	addIRQ                bool
	machine               machineCPU
	procs, self, ksoftirq float64
}

func startCPU(daemons, softirqd []int, addIRQ bool) cpuMeter {
	m, _ := readMachineCPU()
	return cpuMeter{daemons: daemons, softirqd: softirqd, addIRQ: addIRQ, machine: m,
		procs: processesCPU(daemons), self: selfAndChildrenCPU(), ksoftirq: processesCPU(softirqd)}
}

func (c cpuMeter) since() (machine, own, daemons float64) {
	m, _ := readMachineCPU()
	daemons = max(processesCPU(c.daemons)-c.procs, 0)
	own = daemons + max(selfAndChildrenCPU()-c.self, 0) + max(processesCPU(c.softirqd)-c.ksoftirq, 0)
	if c.addIRQ {
		own += max(m.irq-c.machine.irq, 0)
	}
	return max(m.busy-c.machine.busy, 0), own, daemons
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
