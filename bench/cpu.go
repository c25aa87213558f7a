package bench

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrProcFormat is wrapped when /proc/stat or /proc/PID/stat does not
// look as proc(5) describes.
var ErrProcFormat = errors.New("unexpected /proc format")

// userHZ is the unit of /proc's CPU times. The kernel exports them in
// USER_HZ, which is 100 on every Linux architecture Go supports.
const userHZ = 100

// parseMachineBusy reads the aggregate "cpu" line of /proc/stat and returns
// the busy time in seconds: user + nice + system + irq + softirq. Softirq
// is where the kernel's own datapaths (veth, VXLAN, routing) spend their
// time, so the kernel modes pay for their work here like podfwd does.
func parseMachineBusy(stat []byte) (float64, error) {
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("%w: /proc/stat first line %q", ErrProcFormat, truncate(line, 80))
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system . . irq softirq
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: /proc/stat field %d: %w", ErrProcFormat, i, err)
		}
		busy += v
	}
	return float64(busy) / userHZ, nil
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

// machineBusy is parseMachineBusy of the live /proc/stat.
func machineBusy() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
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

// cpuMeter takes the machine's and the daemons' CPU time at the start of a
// test; since returns both deltas.
type cpuMeter struct {
	pids           []int
	machine, procs float64
}

func startCPU(pids []int) cpuMeter {
	m, _ := machineBusy()
	return cpuMeter{pids: pids, machine: m, procs: processesCPU(pids)}
}

func (c cpuMeter) since() (machine, daemons float64) {
	m, _ := machineBusy()
	return max(m-c.machine, 0), max(processesCPU(c.pids)-c.procs, 0)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
