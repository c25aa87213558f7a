package bench

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 {
		t.Error("median reordered its input")
	}
}

func TestAggregate(t *testing.T) {
	r := Row{Test: TestTCP1}
	r.aggregate([]sample{
		{gbps: 2, machineCPU: 2, daemonCPU: 1, bits: 2e9, pkts: 1000, retransmits: 4},
		{gbps: 9, machineCPU: 9, daemonCPU: 3, bits: 9e9, pkts: 3000, retransmits: 0},
		{gbps: 3, machineCPU: 6, daemonCPU: 0, bits: 3e9, pkts: 2000, retransmits: 9},
	})
	if r.Runs != 3 || r.Metric != "gbps" || r.Gbps != 3 || r.Min != 2 || r.Max != 9 || r.Retransmits != 4 {
		t.Errorf("aggregate = %+v", r)
	}
	// per run: 1, 1, 2 CPU s/Gbit -> median 1
	if r.CPUSPerGbit != 1 {
		t.Errorf("CPUSPerGbit = %v, want 1 (median of per-run ratios)", r.CPUSPerGbit)
	}
	if r.CPUNsPerPkt != 3e6 {
		t.Errorf("CPUNsPerPkt = %v, want 3e6", r.CPUNsPerPkt)
	}
	z := Row{Test: TestUDP64}
	z.aggregate([]sample{{}}) // nothing moved: zeros, never NaN
	b, err := json.Marshal(z)
	if err != nil || strings.Contains(string(b), "NaN") || math.IsNaN(z.CPUNsPerPkt) {
		t.Errorf("zero sample gives %s, %v", b, err)
	}
}

func TestSetRatios(t *testing.T) {
	rows := []Row{
		{Mode: KernelVXLANName, Test: TestTCP1, MTU: 1500, Metric: "gbps", Gbps: 4, Status: StatusOK},
		{Mode: "tun/vxlan", Test: TestTCP1, MTU: 1500, Metric: "gbps", Gbps: 2, Status: StatusOK},
		{Mode: "tun/vxlan", Test: TestTCP1, MTU: 9000, Metric: "gbps", Gbps: 2, Status: StatusOK},
		{Mode: "tun/vxlan", Test: TestRR, MTU: 1500, Metric: "p50_us", P50us: 30, Status: StatusOK},
		{Mode: KernelVXLANName, Test: TestRR, MTU: 1500, Metric: "p50_us", P50us: 10, Status: StatusOK},
		{Mode: "xdp/vxlan", Test: TestTCP1, MTU: 1500, Metric: "gbps", Status: StatusUnsupported + "x"},
	}
	setRatios(rows)
	for i, want := range []float64{1, 0.5, 0, 3, 1, 0} {
		if rows[i].VsKernelVXLAN != want {
			t.Errorf("row %d (%s %s mtu %d) ratio = %v, want %v", i, rows[i].Mode, rows[i].Test, rows[i].MTU, rows[i].VsKernelVXLAN, want)
		}
	}
}

// TestRowJSONFields holds the JSON contract of issue 7: every row carries
// these keys, whatever its status.
func TestRowJSONFields(t *testing.T) {
	b, err := json.Marshal(Row{Status: StatusUnsupported + "why"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range RequiredRowFields {
		if _, ok := m[k]; !ok {
			t.Errorf("row JSON lacks %q: %s", k, b)
		}
	}
}
