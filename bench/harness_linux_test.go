package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
)

// fakeDaemon writes a script standing in for podfwd that fails to start
// the way `podfwd run` does with message.
func fakeDaemon(t *testing.T, message string) string {
	path := filepath.Join(t.TempDir(), "podfwd")
	script := "#!/bin/sh\necho '" + message + "' >&2\nexit 1\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunStatuses runs the harness on a measured kernel mode, a probed
// one, a statically unsupported one, an io the daemon rejects by name and
// a daemon that fails otherwise, and one that refuses the setup with a
// documented limit: every row gets the right status, and
// the measured one moved traffic in every test.
func TestRunStatuses(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "iperf3", "ethtool")
	modes, err := SelectModes("kernel/native,kernel/geneve")
	if err != nil {
		t.Fatal(err)
	}
	modes = append(modes,
		Mode{Name: "future/mode", IO: "future", Encap: "vxlan", Unsupported: "not in podfwd yet"},
		Mode{Name: "xdp/vxlan", IO: "xdp", Encap: "vxlan"},
		Mode{Name: "tun/ipip", IO: "tun", Encap: "ipip"},
		Mode{Name: "xdp/ipip", IO: "xdp", Encap: "ipip"})
	cfg := Config{Modes: modes, Runs: 1, Duration: 500 * time.Millisecond, Prefix: testenv.RunPrefix()}
	rep := &Report{}
	runOne := func(m Mode) {
		c := cfg
		c.Modes = []Mode{m}
		if err := c.defaults(); err != nil {
			t.Fatal(err)
		}
		if err := runAll(context.Background(), c, newLiveRunner(c, &rep.Env), rep, newProgress(c)); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range modes[:3] {
		runOne(m)
	}
	cfg.Podfwd = fakeDaemon(t, `podfwd run: config: io: "xdp" is not one of tun, udp-process`)
	runOne(modes[3])
	cfg.Podfwd = fakeDaemon(t, `podfwd run: cannot open /dev/net/tun`)
	runOne(modes[4])
	cfg.Podfwd = fakeDaemon(t, `podfwd run: underlay MTU does not fit an AF_XDP frame: MTU 9000 > 3826`)
	runOne(modes[5])

	if len(rep.Rows) != len(modes)*len(AllTests) {
		t.Fatalf("%d rows, want %d", len(rep.Rows), len(modes)*len(AllTests))
	}
	for _, r := range rep.Rows {
		var want string
		switch r.Mode {
		case "kernel/native":
			want = StatusOK
			if r.Runs != 1 || r.Value() <= 0 || r.CPUMachineS <= 0 || r.CPUOwnS <= 0 {
				t.Errorf("%s %s: runs %d value %v cpu %v own %v", r.Mode, r.Test, r.Runs, r.Value(), r.CPUMachineS, r.CPUOwnS)
			}
		case "kernel/geneve":
			want = StatusUnsupported // this kernel has no geneve module; elsewhere the probe passes and says so
		case "future/mode":
			want = StatusUnsupported + "not in podfwd yet"
		case "xdp/vxlan":
			want = StatusUnsupported + "xdp io not implemented in podfwd run yet"
		case "tun/ipip":
			want = StatusFailed + "podfwd on "
		case "xdp/ipip":
			want = StatusUnsupported + "podfwd run refuses this setup: podfwd run: underlay MTU does not fit"
		}
		if !strings.HasPrefix(r.Status, want) {
			t.Errorf("%s %s: status %q, want prefix %q", r.Mode, r.Test, r.Status, want)
		}
	}
	if len(rep.Load) != 1 || rep.Load[0].Mode != "kernel/native" || len(rep.Load[0].Runs) != 1 {
		t.Fatalf("load %+v, want one bring-up, of the one mode that came up", rep.Load)
	}
	for _, l := range []MachineLoad{rep.Load[0].Before, rep.Load[0].After} {
		if l.Error != "" || l.WindowS != quietWindow.Seconds() || l.IdlePct < 0 || l.IdlePct > 100 || l.At == "" {
			t.Errorf("machine load %+v", l)
		}
	}
	if rep.Env.Offloads == "" || len(rep.Env.PodMTUs) != 1 {
		t.Errorf("env not filled from the topology: %+v", rep.Env)
	}
}
