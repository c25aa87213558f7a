package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleReport is a small report with every kind of row.
func sampleReport() *Report {
	rows := []Row{}
	for _, m := range []struct {
		name, io, encap string
		gbps, pps, p50  float64
		status          string
	}{
		{KernelVXLANName, "kernel", "vxlan", 4, 300e3, 30, StatusOK},
		{"tun/vxlan", "tun", "vxlan", 2, 150e3, 60, StatusOK},
		{"xdp/vxlan", "xdp", "vxlan", 0, 0, 0, StatusUnsupported + "xdp io not implemented in podfwd run yet <&>"},
		{"tun/ipip", "tun", "ipip", 0, 0, 0, StatusFailed + "iperf3 failed: boom"},
	} {
		for _, test := range AllTests {
			r := Row{Mode: m.name, IO: m.io, Encap: m.encap, Test: test, MTU: 1500, Status: m.status}
			if m.status == StatusOK {
				r.aggregate([]sample{{gbps: m.gbps, pps: m.pps, p50: m.p50, p99: 2 * m.p50, iperfPPS: m.pps / 2, machineCPU: 1, daemonCPU: 0.5, bits: m.gbps * 1e9, pkts: 1e5}})
			}
			rows = append(rows, r)
		}
	}
	setRatios(rows)
	rows[0].OthersCorePct, rows[0].DisturbedRuns = 57.4, 1
	quiet := MachineLoad{Load1: 0.25, Load5: 0.5, Load15: 1, IdlePct: 97.4, WindowS: 1}
	busy := MachineLoad{Load1: 3.5, Load5: 2, Load15: 1.25, IdlePct: 12, WindowS: 1}
	return &Report{Env: Env{MTUs: []int{1500}, Runs: 1, Interleave: true, CommandLine: []string{"podfwd", "bench"}}, Rows: rows,
		Load: []ModeLoad{
			{Mode: KernelVXLANName, MTU: 1500, Runs: []int{1, 2, 3}, Before: quiet, After: busy},
			{Mode: "tun/vxlan", MTU: 1500, Runs: []int{2}, Before: busy, After: MachineLoad{Error: "open stat: gone"}},
		},
		Warnings: []Warning{{Mode: KernelVXLANName, MTU: 1500, Test: TestTCP1, Run: 1, OthersPct: 57.4,
			Processes: []ProcUse{{PID: 4242, Comm: "go", CorePct: 51}}}},
	}
}

// loadAndWarnings are what the terminal and the Markdown report must both
// show of sampleReport's load and warnings.
var loadAndWarnings = []string{
	"others' CPU", "57% !1", // a row's others: the busiest run, and the disturbed runs
	"| 1–3 |", "0.25/0.50/1.00", "3.50/2.00/1.25", "97% over 1s", "12% over 1s", "unknown (open stat: gone)",
	"kernel/vxlan tcp1 run 1 (mtu 1500): other processes used 57% of a core: pid 4242 (go) 51% of a core",
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	want := []string{"0.50x", "2.00x", "unsupported", "failed", "xdp/vxlan: unsupported: xdp io not implemented", "tun/ipip (mtu 1500): failed: iperf3 failed: boom",
		"median of 1 interleaved runs", "Machine load around each mode", "warnings: in 1 run(s) another process used more than 10% of a core:"}
	for _, want := range append(want, loadAndWarnings...) {
		if want == "| 1–3 |" {
			want = " 1–3 "
		}
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "xdp/vxlan: unsupported"); n != 1 {
		t.Errorf("unsupported reason printed %d times, want once", n)
	}
	if n := strings.Count(out, "boom"); n != 1 {
		t.Errorf("a mode's failure printed %d times, want once", n)
	}
}

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	files, err := WriteReport(dir, sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Errorf("wrote %v, want 5 charts and report.md", files)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range append(loadAndWarnings, "| interleaved (run 1 of every mode, then run 2, …) | true |") {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".svg") {
			if !strings.Contains(string(md), "]("+filepath.Base(f)+")") {
				t.Errorf("report.md does not embed %s", filepath.Base(f))
			}
			checkSVG(t, f)
		}
	}
}

// checkSVG parses f as XML and checks it is an SVG with bars in it.
func checkSVG(t *testing.T, f string) {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	rects, root := 0, ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", f, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "rect" {
				rects++
			}
		}
	}
	if root != "svg" || rects < 4 {
		t.Errorf("%s: root %q with %d rects", f, root, rects)
	}
}

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	rep := sampleReport()
	if err := WriteJSON(path, rep); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var back struct {
		Env      map[string]any   `json:"env"`
		Rows     []map[string]any `json:"rows"`
		Load     []map[string]any `json:"load"`
		Warnings []map[string]any `json:"warnings"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Rows) != len(rep.Rows) || back.Env["mtus"] == nil || back.Env["interleave"] != true {
		t.Errorf("round trip: %d rows, env %v", len(back.Rows), back.Env)
	}
	if back.Rows[0]["others_core_pct"] != 57.4 || back.Rows[0]["disturbed_runs"] != 1.0 {
		t.Errorf("row 0: %v", back.Rows[0])
	}
	if len(back.Load) != 2 || back.Load[0]["before"].(map[string]any)["idle_pct"] != 97.4 || back.Load[1]["after"].(map[string]any)["error"] == nil {
		t.Errorf("load: %v", back.Load)
	}
	if len(back.Warnings) != 1 || back.Warnings[0]["processes"].([]any)[0].(map[string]any)["comm"] != "go" {
		t.Errorf("warnings: %v", back.Warnings)
	}
}

func TestNiceMax(t *testing.T) {
	for _, tc := range [][2]float64{{0, 1}, {0.3, 0.3}, {3.2, 4}, {7, 8}, {1, 1}, {450e3, 500e3}, {10.52, 12}, {13, 16}} {
		if got := niceMax(tc[0]); got != tc[1] {
			t.Errorf("niceMax(%v) = %v, want %v", tc[0], got, tc[1])
		}
	}
}
