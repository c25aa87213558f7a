package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// WriteJSON writes rep to path as indented JSON: {"env": …, "rows": […]}.
func WriteJSON(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// series is one bar per mode in a chart: a test's row, one number of it.
type series struct {
	name     string
	test     string
	value    func(Row) float64
	whiskers bool // draw the row's Min–Max (only for the headline metric)
}

// chartSpec is one chart of the report.
type chartSpec struct {
	file, title, unit string
	series            []series
}

var reportCharts = []chartSpec{
	{"throughput", "TCP throughput per mode", "Gbit/s (pod to pod across nodes; higher is better)", []series{
		{"1 stream", TestTCP1, func(r Row) float64 { return r.Gbps }, true},
		{"4 streams", TestTCP4, func(r Row) float64 { return r.Gbps }, true}}},
	{"pps", "64-byte UDP packets per second per mode", "datagrams received per second (higher is better)", []series{
		{"our sendmmsg flood", TestUDP64, func(r Row) float64 { return r.PPS }, true},
		{"iperf3 -u -l 64 -b 0", TestUDP64, func(r Row) float64 { return r.IperfPPS }, false}}},
	{"cpu", "CPU cost per Gbit (TCP, 1 stream)", "CPU seconds per Gbit carried (lower is better)", []series{
		{"the test's own work", TestTCP1, func(r Row) float64 { return r.OwnCPUSPerGbit }, false},
		{"podfwd daemons alone", TestTCP1, func(r Row) float64 { return r.DaemonCPUSPerGbit }, false},
		{"whole machine (shared)", TestTCP1, func(r Row) float64 { return r.CPUSPerGbit }, false}}},
	{"cpu-pkt", "CPU cost per 64-byte packet", "ns of CPU per datagram received (lower is better)", []series{
		{"the test's own work", TestUDP64, func(r Row) float64 { return r.OwnCPUNsPerPkt }, false},
		{"podfwd daemons alone", TestUDP64, func(r Row) float64 { return r.DaemonCPUNsPerPkt }, false}}},
	{"latency", "TCP request/response latency", "µs per 64-byte round trip (lower is better)", []series{
		{"p50", TestRR, func(r Row) float64 { return r.P50us }, false},
		{"p99", TestRR, func(r Row) float64 { return r.P99us }, false}}},
}

// buildChart lays out spec for the rows at mtu; ok is false when none of
// its tests was run.
func buildChart(spec chartSpec, rows []Row, mtu int) (c barChart, ok bool) {
	c = barChart{Title: spec.title, Unit: spec.unit, Highlight: KernelVXLANName,
		Subtitle: fmt.Sprintf("underlay MTU %d; bars are medians, whiskers min–max; dashed line and (×) ratios: kernel VXLAN", mtu)}
	find := func(mode, test string) (Row, bool) {
		for _, r := range rows {
			if r.Mode == mode && r.Test == test && r.MTU == mtu {
				return r, true
			}
		}
		return Row{}, false
	}
	for _, s := range spec.series {
		c.Series = append(c.Series, s.name)
	}
	for _, r := range rows {
		if r.MTU != mtu || r.Test != spec.series[0].test || containsString(c.Labels, r.Mode) {
			continue
		}
		ok = true
		c.Labels = append(c.Labels, r.Mode)
		var vals, lo, hi []float64
		missing := ""
		for _, s := range spec.series {
			sr, found := find(r.Mode, s.test)
			if !found || sr.Status != StatusOK {
				vals, lo, hi = nil, nil, nil
				missing = truncate(sr.Status, 90)
				break
			}
			vals = append(vals, s.value(sr))
			if s.whiskers {
				lo, hi = append(lo, sr.Min), append(hi, sr.Max)
			} else {
				lo, hi = append(lo, 0), append(hi, 0)
			}
		}
		c.Values, c.Lo, c.Hi = append(c.Values, vals), append(c.Lo, lo), append(c.Hi, hi)
		c.Missing = append(c.Missing, missing)
	}
	return c, ok
}

// WriteReport writes dir/report.md (environment, tables, reasons for rows
// not measured) and beside it an SVG per chart and MTU, which the report
// embeds. It returns the files written.
func WriteReport(dir string, rep *Report) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var md strings.Builder
	var files []string
	e := rep.Env
	fmt.Fprintf(&md, "# podfwd bench report\n\n")
	fmt.Fprintf(&md, "`%s`\n\n", strings.Join(e.CommandLine, " "))
	fmt.Fprintf(&md, "| | |\n|---|---|\n")
	for _, kv := range [][2]string{
		{"kernel", e.Kernel}, {"CPU", fmt.Sprintf("%s, %d cores", e.CPUModel, e.Cores)},
		{"load (1/5/15 min) before", e.LoadBefore}, {"load after", e.LoadAfter},
		{"underlay MTUs", fmt.Sprint(e.MTUs)}, {"pod MTUs", fmt.Sprint(e.PodMTUs)},
		{"underlay veth offloads on", e.Offloads}, {"podfwd commit", e.Commit},
		{"Go", e.GoVersion}, {"iperf3", e.Iperf3},
		{"own CPU adds irq+softirq", fmt.Sprintf("%v (IRQ_TIME_ACCOUNTING from %s)", e.OwnCPUAddsIRQ, e.IRQTimeSource)},
		{"runs × duration", fmt.Sprintf("%d × %gs per test", e.Runs, e.DurationS)},
		{"interleaved (run 1 of every mode, then run 2, …)", fmt.Sprint(e.Interleave)},
		{"started / finished (UTC)", e.Started + " / " + e.Finished},
	} {
		fmt.Fprintf(&md, "| %s | %s |\n", kv[0], strings.ReplaceAll(kv[1], "|", "/"))
	}
	md.WriteString("\nCPU while a test ran, three ways: \"machine\" is the whole machine's busy time from /proc/stat " +
		"(user+nice+system+irq+softirq), so it counts the kernel's softirq work but on a shared machine also everyone else's; " +
		"\"own\" counts only the test's work: the podfwd daemons, the traffic generators and iperf3 (getrusage of the harness " +
		"and its children) and the ksoftirqd threads, plus the machine's irq+softirq time only where the kernel keeps it out of " +
		"the tasks' times (otherwise it is already in them); \"daemon\" is the podfwd processes' " +
		"utime+stime alone. TCP packets are counted as pod-MTU-sized segments. " + othersLegend + ".\n")
	for _, mtu := range e.MTUs {
		for _, spec := range reportCharts {
			c, ok := buildChart(spec, rep.Rows, mtu)
			if !ok {
				continue
			}
			name := fmt.Sprintf("%s-%d.svg", spec.file, mtu)
			if err := os.WriteFile(filepath.Join(dir, name), c.SVG(), 0o644); err != nil {
				return files, err
			}
			files = append(files, filepath.Join(dir, name))
			fmt.Fprintf(&md, "\n![%s, MTU %d](%s)\n", spec.title, mtu, name)
		}
	}
	secs, notes := sections(rep.Rows)
	if len(rep.Load) > 0 {
		secs = append(secs, loadSection(rep.Load))
	}
	for _, s := range secs {
		fmt.Fprintf(&md, "\n### %s\n\n| %s |\n|%s\n", s.Title, strings.Join(s.Header, " | "), strings.Repeat("---|", len(s.Header)))
		for _, c := range s.Cells {
			fmt.Fprintf(&md, "| %s |\n", strings.Join(c, " | "))
		}
	}
	if len(rep.Warnings) > 0 {
		fmt.Fprintf(&md, "\n### Warnings: in %d run(s) another process used more than %d%% of a core\n\n", len(rep.Warnings), OthersLimitPct)
		for _, w := range rep.Warnings {
			fmt.Fprintf(&md, "- %s\n", w)
		}
	}
	if len(notes) > 0 {
		md.WriteString("\n### Not measured\n\n")
		for _, n := range notes {
			fmt.Fprintf(&md, "- %s\n", strings.ReplaceAll(n, "|", "/"))
		}
	}
	path := filepath.Join(dir, "report.md")
	if err := os.WriteFile(path, []byte(md.String()), 0o644); err != nil {
		return files, err
	}
	return append(files, path), nil
}

func containsString(v []string, s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}
