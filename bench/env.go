package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// Env records where and how a run was taken, so a reader can tell whether
// two reports are comparable.
type Env struct {
	Kernel      string   `json:"kernel"`
	CPUModel    string   `json:"cpu_model"`
	Cores       int      `json:"cores"`
	LoadBefore  string   `json:"load_before"` // /proc/loadavg when the run started
	LoadAfter   string   `json:"load_after"`  // and when it ended
	Offloads    string   `json:"offloads"`    // ethtool -k of node 1's underlay veth: the features that are on
	MTUs        []int    `json:"mtus"`        // underlay MTUs measured
	PodMTUs     []int    `json:"pod_mtus"`    // the pods' MTU at each
	Commit      string   `json:"commit"`      // podfwd revision (+dirty when the tree had changes)
	GoVersion   string   `json:"go_version"`
	Iperf3      string   `json:"iperf3"`
	CommandLine []string `json:"command_line"`
	Runs        int      `json:"runs"`
	DurationS   float64  `json:"duration_s"` // per run of a test
	Interleave  bool     `json:"interleave"` // modes brought up once per run, run 1 of all before run 2
	Tests       []string `json:"tests"`
	// OwnCPUAddsIRQ says whether rows' own CPU includes the machine's
	// irq+softirq time (only when the kernel accounts it apart from the
	// tasks'; IRQTimeSource says how that was learnt).
	OwnCPUAddsIRQ bool   `json:"own_cpu_adds_irq"`
	IRQTimeSource string `json:"irq_time_source"`
	Started       string `json:"started"`
	Finished      string `json:"finished"`
}

func collectEnv(cfg Config) Env {
	addIRQ, source := irqTimeAccounting()
	return Env{
		OwnCPUAddsIRQ: addIRQ,
		IRQTimeSource: source,
		Kernel:        strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
		CPUModel:      cpuModel(readFile("/proc/cpuinfo")),
		Cores:         runtime.NumCPU(),
		LoadBefore:    strings.TrimSpace(readFile("/proc/loadavg")),
		MTUs:          cfg.MTUs,
		Commit:        commit(),
		GoVersion:     runtime.Version(),
		Iperf3:        firstLine(output("iperf3", "--version")),
		CommandLine:   cfg.CommandLine,
		Runs:          cfg.Runs,
		DurationS:     cfg.Duration.Seconds(),
		Interleave:    cfg.Interleave,
		Tests:         cfg.Tests,
		Started:       time.Now().UTC().Format(time.RFC3339),
	}
}

// noteTopology records what only a built topology can tell: the pod MTU
// and the underlay veth's offloads (once, from the first topology).
func (e *Env) noteTopology(ctx context.Context, tp *topo.Topology) {
	if !containsInt(e.PodMTUs, tp.Config.PodMTU) {
		e.PodMTUs = append(e.PodMTUs, tp.Config.PodMTU)
	}
	if e.Offloads != "" {
		return
	}
	out, err := tp.Nodes[0].Command(ctx, "ethtool", "-k", topo.UnderlayLink).Output()
	if err != nil {
		e.Offloads = "ethtool -k failed: " + err.Error()
		return
	}
	e.Offloads = offloadsOn(string(out))
}

func (e *Env) finish() {
	e.LoadAfter = strings.TrimSpace(readFile("/proc/loadavg"))
	e.Finished = time.Now().UTC().Format(time.RFC3339)
}

// offloadsOn keeps the "feature: on" lines of `ethtool -k`, as one
// comma-separated list (fixed ones marked so).
func offloadsOn(out string) string {
	var on []string
	for _, line := range strings.Split(out, "\n") {
		name, val, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok || !strings.HasPrefix(val, "on") {
			continue
		}
		if strings.Contains(val, "[fixed]") {
			name += "(fixed)"
		}
		on = append(on, name)
	}
	return strings.Join(on, ",")
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// commit is the VCS revision stamped into the binary, or failing that the
// checkout's HEAD.
func commit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision":
				rev = s.Value
			case s.Key == "vcs.modified" && s.Value == "true":
				dirty = "+dirty"
			}
		}
		if rev != "" {
			return rev + dirty
		}
	}
	// Built with -buildvcs=false: ask git, from here or from beside the binary.
	dirs := []string{"."}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	for _, dir := range dirs {
		if rev := strings.TrimSpace(output("git", "-C", dir, "rev-parse", "HEAD")); rev != "" {
			return rev + " (git HEAD at run time)"
		}
	}
	return "unknown"
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func output(name string, args ...string) string {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout = &out
	_ = cmd.Run()
	return out.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

func containsInt(v []int, x int) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}
