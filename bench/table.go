package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// section is one test at one MTU, laid out as a table; the terminal and
// the Markdown report render the same cells.
type section struct {
	Title  string
	Header []string
	Cells  [][]string
}

var testTitles = map[string]string{
	TestTCP1:  "TCP, 1 stream (iperf3)",
	TestTCP4:  "TCP, 4 streams (iperf3 -P 4)",
	TestUDP64: "UDP, 64-byte datagrams (our sendmmsg flood; iperf3 -u -l 64 -b 0 beside it)",
	TestRR:    "TCP request/response, 64 bytes each way (our ping-pong)",
}

// sections lays rows out per MTU and test, in the order they were run.
// Rows that are not ok show their status's first word; notes has each
// non-ok mode's full reason once.
func sections(rows []Row) (secs []section, notes []string) {
	type key struct {
		mtu  int
		test string
	}
	var order []key
	byKey := map[key][]Row{}
	seenNote := map[string]bool{}
	for _, r := range rows {
		k := key{r.MTU, r.Test}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], r)
		if r.Status != StatusOK {
			note := fmt.Sprintf("%s (mtu %d): %s", r.Mode, r.MTU, r.Status)
			if strings.HasPrefix(r.Status, StatusUnsupported) {
				note = fmt.Sprintf("%s: %s", r.Mode, r.Status)
			}
			if !seenNote[note] {
				seenNote[note] = true
				notes = append(notes, note)
			}
		}
	}
	for _, k := range order {
		s := section{Title: fmt.Sprintf("%s — underlay MTU %d", testTitles[k.test], k.mtu), Header: headerOf(k.test)}
		for _, r := range byKey[k] {
			s.Cells = append(s.Cells, cellsOf(r))
		}
		secs = append(secs, s)
	}
	return secs, notes
}

func headerOf(test string) []string {
	switch test {
	case TestUDP64:
		return []string{"mode", "pps", "min–max", "vs kernel/vxlan", "loss", "iperf3 pps", "own ns/pkt", "daemon ns/pkt", "machine ns/pkt", othersHeader}
	case TestRR:
		return []string{"mode", "p50 µs", "min–max", "p99 µs", "p99.9 µs", "vs kernel/vxlan", "trans/s", "own ns/msg", othersHeader}
	}
	return []string{"mode", "Gbit/s", "min–max", "vs kernel/vxlan", "retransmits", "own s/Gbit", "daemon s/Gbit", "machine s/Gbit", "own ns/pkt", othersHeader}
}

// othersHeader heads the last column of every test's table; othersLegend
// explains it under the tables.
const othersHeader = "others' CPU"

var othersLegend = fmt.Sprintf("%s: what processes outside the benchmark used together in the busiest run, in %% of a core; "+
	"!N: in N runs one of them used more than %d%% of a core (see the warnings)", othersHeader, OthersLimitPct)

func othersCell(r Row) string {
	c := fmt.Sprintf("%.0f%%", r.OthersCorePct)
	if r.DisturbedRuns > 0 {
		c += fmt.Sprintf(" !%d", r.DisturbedRuns)
	}
	return c
}

func cellsOf(r Row) []string {
	if r.Status != StatusOK {
		word, _, _ := strings.Cut(r.Status, ":")
		cells := []string{r.Mode, word}
		for len(cells) < len(headerOf(r.Test)) {
			cells = append(cells, "")
		}
		return cells
	}
	vs := "-"
	if r.VsKernelVXLAN > 0 {
		vs = fmt.Sprintf("%.2fx", r.VsKernelVXLAN)
	}
	switch r.Test {
	case TestUDP64:
		return []string{r.Mode, kilo(r.PPS), kilo(r.Min) + "–" + kilo(r.Max), vs,
			pct(r.UDPLoss), kilo(r.IperfPPS), fmt.Sprintf("%.0f", r.OwnCPUNsPerPkt), fmt.Sprintf("%.0f", r.DaemonCPUNsPerPkt), fmt.Sprintf("%.0f", r.CPUNsPerPkt), othersCell(r)}
	case TestRR:
		return []string{r.Mode, fmt.Sprintf("%.1f", r.P50us), fmt.Sprintf("%.1f–%.1f", r.Min, r.Max),
			fmt.Sprintf("%.1f", r.P99us), fmt.Sprintf("%.1f", r.P999us), vs, fmt.Sprintf("%.0f", r.PPS/2), fmt.Sprintf("%.0f", r.OwnCPUNsPerPkt), othersCell(r)}
	}
	return []string{r.Mode, fmt.Sprintf("%.2f", r.Gbps), fmt.Sprintf("%.2f–%.2f", r.Min, r.Max), vs,
		fmt.Sprint(r.Retransmits), fmt.Sprintf("%.2f", r.OwnCPUSPerGbit), fmt.Sprintf("%.2f", r.DaemonCPUSPerGbit), fmt.Sprintf("%.2f", r.CPUSPerGbit), fmt.Sprintf("%.0f", r.OwnCPUNsPerPkt), othersCell(r)}
}

// kilo writes a rate with a k or M suffix.
func kilo(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// WriteTable prints rep as terminal tables, one per test and MTU, each row
// with its ratio to the kernel VXLAN row (for rr a ratio above 1 means
// slower), then the machine's load around each mode, the runs other
// processes disturbed, and the reason of every row that is not ok.
func WriteTable(w io.Writer, rep *Report) error {
	secs, notes := sections(rep.Rows)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	runs := fmt.Sprintf("median of %d runs", rep.Env.Runs)
	if rep.Env.Interleave {
		runs = fmt.Sprintf("median of %d interleaved runs", rep.Env.Runs)
	}
	table := func(title string, s section) error {
		fmt.Fprintf(tw, "\n%s\n", title)
		fmt.Fprintln(tw, strings.Join(s.Header, "\t")+"\t")
		for _, c := range s.Cells {
			fmt.Fprintln(tw, strings.Join(c, "\t")+"\t")
		}
		return tw.Flush()
	}
	for _, s := range secs {
		if err := table(s.Title+", "+runs, s); err != nil {
			return err
		}
	}
	if len(secs) > 0 {
		fmt.Fprintln(w, "\n"+othersLegend)
	}
	if len(rep.Load) > 0 {
		s := loadSection(rep.Load)
		if err := table(s.Title, s); err != nil {
			return err
		}
	}
	if len(rep.Warnings) > 0 {
		fmt.Fprintf(w, "\nwarnings: in %d run(s) another process used more than %d%% of a core:\n", len(rep.Warnings), OthersLimitPct)
		for _, wr := range rep.Warnings {
			fmt.Fprintln(w, "  "+wr.String())
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nnot measured:")
		for _, n := range notes {
			fmt.Fprintln(w, "  "+n)
		}
	}
	return nil
}

// loadSection lays out the machine's load around each bring-up of a mode.
func loadSection(loads []ModeLoad) section {
	s := section{Title: "Machine load around each mode (load average 1/5/15 min; idle: share of all cores idle over the window)",
		Header: []string{"mode", "mtu", "runs", "load before", "load after", "idle before", "idle after"}}
	for _, l := range loads {
		runs := fmt.Sprint(l.Runs[0])
		if n := len(l.Runs); n > 1 {
			runs += "–" + fmt.Sprint(l.Runs[n-1])
		}
		s.Cells = append(s.Cells, []string{l.Mode, fmt.Sprint(l.MTU), runs,
			loadAvg(l.Before), loadAvg(l.After), idleOf(l.Before), idleOf(l.After)})
	}
	return s
}

func loadAvg(m MachineLoad) string {
	return fmt.Sprintf("%.2f/%.2f/%.2f", m.Load1, m.Load5, m.Load15)
}

func idleOf(m MachineLoad) string {
	if m.Error != "" {
		return "unknown (" + m.Error + ")"
	}
	return fmt.Sprintf("%.0f%% over %gs", m.IdlePct, m.WindowS)
}
