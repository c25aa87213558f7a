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
	return &Report{Env: Env{MTUs: []int{1500}, Runs: 1, CommandLine: []string{"podfwd", "bench"}}, Rows: rows}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"0.50x", "2.00x", "unsupported", "failed", "xdp/vxlan: unsupported: xdp io not implemented", "tun/ipip (mtu 1500): failed: iperf3 failed: boom"} {
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
		Env  map[string]any   `json:"env"`
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Rows) != len(rep.Rows) || back.Env["mtus"] == nil {
		t.Errorf("round trip: %d rows, env %v", len(back.Rows), back.Env)
	}
}

func TestNiceMax(t *testing.T) {
	for _, tc := range [][2]float64{{0, 1}, {0.3, 0.3}, {3.2, 4}, {7, 8}, {1, 1}, {450e3, 500e3}, {10.52, 12}, {13, 16}} {
		if got := niceMax(tc[0]); got != tc[1] {
			t.Errorf("niceMax(%v) = %v, want %v", tc[0], got, tc[1])
		}
	}
}
