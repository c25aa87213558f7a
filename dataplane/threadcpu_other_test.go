//go:build !linux

package dataplane

// threadCPU is not available here: benchmarks report wall time only.
func threadCPU() (ns int64, ok bool) { return 0, false }
