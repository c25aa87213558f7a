package lpm

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's CPU time.
const rusageThread = 1

// cpuTimer reports the CPU time the benchmark's own thread spent as
// "cpu-ns/op": on a loaded machine wall time also counts the time the thread
// waited for a core, CPU time does not (cache and sibling interference
// remain).
type cpuTimer struct{ start time.Duration }

func startCPU(b *testing.B) cpuTimer {
	b.Helper()
	runtime.LockOSThread()
	return cpuTimer{threadCPU()}
}

func (c cpuTimer) report(b *testing.B) {
	d := threadCPU() - c.start
	runtime.UnlockOSThread()
	if b.N > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
