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
		return []string{"mode", "pps", "min–max", "vs kernel/vxlan", "loss", "iperf3 pps", "own ns/pkt", "daemon ns/pkt", "machine ns/pkt"}
	case TestRR:
		return []string{"mode", "p50 µs", "min–max", "p99 µs", "p99.9 µs", "vs kernel/vxlan", "trans/s", "own ns/msg"}
	}
	return []string{"mode", "Gbit/s", "min–max", "vs kernel/vxlan", "retransmits", "own s/Gbit", "daemon s/Gbit", "machine s/Gbit", "own ns/pkt"}
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
			pct(r.UDPLoss), kilo(r.IperfPPS), fmt.Sprintf("%.0f", r.OwnCPUNsPerPkt), fmt.Sprintf("%.0f", r.DaemonCPUNsPerPkt), fmt.Sprintf("%.0f", r.CPUNsPerPkt)}
	case TestRR:
		return []string{r.Mode, fmt.Sprintf("%.1f", r.P50us), fmt.Sprintf("%.1f–%.1f", r.Min, r.Max),
			fmt.Sprintf("%.1f", r.P99us), fmt.Sprintf("%.1f", r.P999us), vs, fmt.Sprintf("%.0f", r.PPS/2), fmt.Sprintf("%.0f", r.OwnCPUNsPerPkt)}
	}
	return []string{r.Mode, fmt.Sprintf("%.2f", r.Gbps), fmt.Sprintf("%.2f–%.2f", r.Min, r.Max), vs,
		fmt.Sprint(r.Retransmits), fmt.Sprintf("%.2f", r.OwnCPUSPerGbit), fmt.Sprintf("%.2f", r.DaemonCPUSPerGbit), fmt.Sprintf("%.2f", r.CPUSPerGbit), fmt.Sprintf("%.0f", r.OwnCPUNsPerPkt)}
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
// slower), then the reason of every row that is not ok.
func WriteTable(w io.Writer, rep *Report) error {
	secs, notes := sections(rep.Rows)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range secs {
		fmt.Fprintf(tw, "\n%s, median of %d runs\n", s.Title, rep.Env.Runs)
		fmt.Fprintln(tw, strings.Join(s.Header, "\t")+"\t")
		for _, c := range s.Cells {
			fmt.Fprintln(tw, strings.Join(c, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return err
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
