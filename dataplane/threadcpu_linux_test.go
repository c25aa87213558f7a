package dataplane

import "syscall"

// threadCPU returns the CPU time the calling OS thread has used, for
// benchmarks that report CPU per packet: on a machine shared with other
// work, wall time counts the time the thread waited for a core as well.
// The caller locks itself to its thread.
func threadCPU() (ns int64, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
