package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/bench"
	"github.com/podfwd/podfwd/internal/testenv"
)

// TestBenchQuickSmoke runs `podfwd bench --quick --interleave` on five
// modes (the kernel reference, the baseline, podfwd's tun io and the xdp
// io without and with the pods' veths) and checks the JSON it writes is
// complete: the env, a row per mode and test with every field, every row
// ok and every row moved traffic, the machine's load around every mode,
// and the warnings (a list, empty when nobody else was busy).
func TestBenchQuickSmoke(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "iperf3", "ethtool")
	modes := []string{"kernel/vxlan", "udp-process/vxlan", "tun/vxlan", "xdp/vxlan", "xdp-pods/vxlan"}
	out := filepath.Join(t.TempDir(), "bench.json")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, podfwdBin, "bench", "--quick", "--interleave", "--modes", strings.Join(modes, ","), "--json", out)
	start := time.Now()
	if log, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("podfwd bench: %v\n%s", err, log)
	}
	t.Logf("podfwd bench --quick on %d modes took %v", len(modes), time.Since(start).Round(time.Second))

	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Env      map[string]any   `json:"env"`
		Rows     []map[string]any `json:"rows"`
		Load     []bench.ModeLoad `json:"load"`
		Warnings []bench.Warning  `json:"warnings"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("bench JSON: %v\n%s", err, b)
	}
	for _, k := range []string{"kernel", "cpu_model", "cores", "offloads", "mtus", "pod_mtus", "commit", "command_line"} {
		if v, ok := rep.Env[k]; !ok || v == "" || v == nil {
			t.Errorf("env.%s missing or empty: %v", k, rep.Env)
		}
	}
	if rep.Env["interleave"] != true {
		t.Errorf("env.interleave = %v, want true", rep.Env["interleave"])
	}
	if rep.Warnings == nil {
		t.Error("warnings missing (want a list, [] when none)")
	}
	for _, w := range rep.Warnings {
		t.Logf("warning: %s", w)
	}
	cameUp := map[string]bool{}
	for _, l := range rep.Load {
		cameUp[l.Mode] = true
		for _, ml := range []bench.MachineLoad{l.Before, l.After} {
			if ml.Error != "" || ml.WindowS <= 0 || ml.IdlePct < 0 || ml.IdlePct > 100 || ml.At == "" {
				t.Errorf("%s: machine load %+v", l.Mode, ml)
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range rep.Rows {
		for _, k := range []string{"others_core_pct", "disturbed_runs"} {
			if _, ok := r[k]; !ok {
				t.Errorf("row %v lacks %q", r, k)
			}
		}
		for _, k := range bench.RequiredRowFields {
			if _, ok := r[k]; !ok {
				t.Errorf("row %v lacks %q", r, k)
			}
		}
		mode, test, status := r["mode"].(string), r["test"].(string), r["status"].(string)
		seen[mode+" "+test] = true
		switch {
		case status == bench.StatusOK:
			if gbps, pps := r["gbps"].(float64), r["pps"].(float64); gbps <= 0 && pps <= 0 {
				t.Errorf("%s %s is ok but moved nothing: %v", mode, test, r)
			}
			if !cameUp[mode] {
				t.Errorf("%s was measured but its load is not recorded: %+v", mode, rep.Load)
			}
			if r["runs"].(float64) != 1 {
				t.Errorf("%s %s: %v runs under --quick, want 1", mode, test, r["runs"])
			}
		default:
			// Every mode here runs on this project's test kernel (veth,
			// TUN, kernel VXLAN, XDP and AF_XDP in copy mode), so
			// "unsupported" would hide a refused io, not a missing feature.
			t.Errorf("%s %s: status %q, want ok", mode, test, status)
		}
	}
	for _, m := range modes {
		for _, test := range bench.AllTests {
			if !seen[m+" "+test] {
				t.Errorf("no row for %s %s", m, test)
			}
		}
	}
}
