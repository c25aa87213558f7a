package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// What a long-lived daemon must not accumulate over a soak, and what no
// test may leave behind.

// Growth bounds from the sample after the warm-up to the one at the end.
// Go's heap settles within the warm-up; what keeps growing is a leak.
const (
	rssGrowth       = 1.5     // RSS may grow by half ...
	rssSlack        = 8 << 20 // ... or 8 MiB, whichever is more (GC timing)
	fdGrowth        = 8       // a reconnecting client may hold a few more
	goroutineGrowth = 24      // client-go's watch and HTTP/2 goroutines come and go
)

// daemonUsage is one sample of a daemon's resources.
type daemonUsage struct {
	rss        uint64
	fds        int
	goroutines int
}

func (u daemonUsage) String() string {
	return fmt.Sprintf("RSS %.1f MiB, %d fds, %d goroutines", float64(u.rss)/(1<<20), u.fds, u.goroutines)
}

// sampleUsage reads d's VmRSS and open fds from /proc and its goroutines
// from its metrics.
func sampleUsage(t *testing.T, d *daemon) daemonUsage {
	t.Helper()
	pid := d.cmd.Process.Pid
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("podfwd on %s: %v", d.node.Namespace, err)
	}
	return daemonUsage{rss: vmRSS(t, pid), fds: len(fds), goroutines: int(scrapeMetrics(t, d.node)["go_goroutines"])}
}

// grewTooMuch says how end exceeds the bounds relative to start, or "".
func grewTooMuch(start, end daemonUsage) string {
	var bad []string
	if float64(end.rss) > float64(start.rss)*rssGrowth && end.rss > start.rss+rssSlack {
		bad = append(bad, fmt.Sprintf("RSS grew from %d to %d KiB", start.rss>>10, end.rss>>10))
	}
	if end.fds > start.fds+fdGrowth {
		bad = append(bad, fmt.Sprintf("open fds grew from %d to %d", start.fds, end.fds))
	}
	if end.goroutines > start.goroutines+goroutineGrowth {
		bad = append(bad, fmt.Sprintf("goroutines grew from %d to %d", start.goroutines, end.goroutines))
	}
	return strings.Join(bad, "; ")
}

// checkNoLeftovers fails t if anything named with prefix is left: a
// network namespace, a link in this namespace, or a process whose command
// line holds prefix or dir (the test's temporary directory, which every
// daemon's config, etcd's data and the apiserver's certificates are in).
func checkNoLeftovers(t *testing.T, prefix, dir string) {
	t.Helper()
	if entries, err := os.ReadDir("/var/run/netns"); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), prefix) {
				t.Errorf("leftover network namespace %s", e.Name())
			}
		}
	}
	out, err := exec.CommandContext(context.Background(), "ip", "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Errorf("ip link: %v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, prefix) {
			t.Errorf("leftover link: %s", line)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	self := strconv.Itoa(os.Getpid())
	for _, p := range procs {
		if filepath.Base(filepath.Dir(p)) == self {
			continue
		}
		cmdline, err := os.ReadFile(p)
		if err != nil || len(cmdline) == 0 {
			continue // gone, or a zombie
		}
		if bytes.Contains(cmdline, []byte(prefix+"-")) || (dir != "" && bytes.Contains(cmdline, []byte(dir))) {
			t.Errorf("leftover process %s: %s", filepath.Base(filepath.Dir(p)), bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
	}
}
