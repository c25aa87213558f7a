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
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return machineCPU{}, fmt.Errorf("%w: /proc/stat first line %q", ErrProcFormat, truncate(line, 80))
	}
	var v [8]uint64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system . . irq softirq
		var err error
		if v[i], err = strconv.ParseUint(f[i], 10, 64); err != nil {
			return machineCPU{}, fmt.Errorf("%w: /proc/stat field %d: %w", ErrProcFormat, i, err)
		}
	}
	irq := float64(v[6]+v[7]) / userHZ
	return machineCPU{busy: float64(v[1]+v[2]+v[3])/userHZ + irq, irq: irq}, nil
}

// parseProcessCPU reads utime + stime, in seconds, from a /proc/PID/stat
// line. The command name may hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseProcessCPU(stat []byte) (float64, error) {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: no ')' in /proc/PID/stat", ErrProcFormat)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 { // state is field 3 of proc(5), utime 14, stime 15
		return 0, fmt.Errorf("%w: %d fields after the command name", ErrProcFormat, len(f))
	}
	var sum uint64
	for _, k := range []int{11, 12} {
		v, err := strconv.ParseUint(f[k], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: /proc/PID/stat field %d: %w", ErrProcFormat, k+3, err)
		}
		sum += v
	}
	return float64(sum) / userHZ, nil
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
