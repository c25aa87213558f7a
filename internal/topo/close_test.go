package topo

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
)

// namespacesWithPrefix lists, sorted, the namespaces `ip netns list`
// shows whose name starts with p (iproute2, not our own listing code).
func namespacesWithPrefix(t *testing.T, p string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v\n%s", err, out)
	}
	var ours []string
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(line, " ") // "name (id: N)"
		if strings.HasPrefix(name, p) {
			ours = append(ours, name)
		}
	}
	slices.Sort(ours)
	return ours
}

// waitExited waits, bounded, for a started command and reports whether it
// was killed by a signal.
func waitExited(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("%v: ended with %v, want killed by SIGKILL", cmd.Args, err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("%v still running 10s after Close", cmd.Args)
	}
}

// gone reports whether pid no longer runs (absent, or a zombie).
func gone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

func TestCloseKillsProcessesAndRemovesNamespaces(t *testing.T) {
	testenv.RequireRoot(t)
	prefix := testenv.RunPrefix() + "c"
	topo, err := New(context.Background(), Config{Prefix: prefix, Nodes: 2, PodsPerNode: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = topo.Close() })
	ctx := context.Background()
	if got := len(namespacesWithPrefix(t, prefix+"-")); got != 5 {
		t.Fatalf("%d namespaces with prefix %s, want 5", got, prefix)
	}

	inNode := topo.Nodes[0].Command(ctx, "sleep", "300")
	inPod := topo.Nodes[1].Pods[0].Command(ctx, "sleep", "300")
	// A grandchild Close was never told about: found by the namespace scan.
	parent := topo.Nodes[1].Command(ctx, "sh", "-c", "sleep 300 & echo $!; wait")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*exec.Cmd{inNode, inPod, parent} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading grandchild pid: %v", err)
	}
	grandchild, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || gone(grandchild) {
		t.Fatalf("grandchild pid %q: %v, running=%v", line, err, !gone(grandchild))
	}

	if err := topo.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, c := range []*exec.Cmd{inNode, inPod, parent} {
		waitExited(t, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !gone(grandchild) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !gone(grandchild) {
		t.Errorf("grandchild %d survives Close", grandchild)
	}
	if left := namespacesWithPrefix(t, prefix+"-"); len(left) != 0 {
		t.Errorf("namespaces left after Close: %v", left)
	}
	if err := topo.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	if err := topo.Nodes[0].Program(ctx, KernelNative); !errors.Is(err, ErrClosed) {
		t.Errorf("Program after Close: %v, want ErrClosed", err)
	}
}

// TestCloseOnSignal runs a child test process that builds a topology and
// waits; SIGTERM must leave no namespace behind and let the child return.
func TestCloseOnSignal(t *testing.T) {
	testenv.RequireRoot(t)
	if prefix := os.Getenv("TOPO_SIGNAL_CHILD"); prefix != "" {
		signalChild(t, prefix)
		return
	}
	prefix := testenv.RunPrefix() + "g"
	t.Cleanup(func() {
		for _, n := range namespacesWithPrefix(t, prefix+"-") {
			_ = deleteNamespace(n)
		}
	})
	child := exec.Command(os.Args[0], "-test.run=^TestCloseOnSignal$", "-test.count=1", "-test.v")
	child.Env = append(os.Environ(), "TOPO_SIGNAL_CHILD="+prefix)
	var stderr strings.Builder
	child.Stderr = &stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill() })

	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	waitFor := func(want string) bool {
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return false
				}
				seen = append(seen, l)
				if strings.Contains(l, want) {
					return true
				}
			case <-timeout:
				return false
			}
		}
	}
	if !waitFor("topo-child: ready") {
		t.Fatalf("child never got ready:\n%s\n%s", strings.Join(seen, "\n"), stderr.String())
	}
	if got := len(namespacesWithPrefix(t, prefix+"-")); got != 3 {
		t.Errorf("child made %d namespaces, want 3", got)
	}
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !waitFor("topo-child: context done") {
		t.Errorf("child did not see its context end:\n%s\n%s", strings.Join(seen, "\n"), stderr.String())
	}
	for range lines { // drain until the child closes stdout
	}
	if err := child.Wait(); err != nil {
		t.Errorf("child: %v\n%s", err, stderr.String())
	}
	if left := namespacesWithPrefix(t, prefix+"-"); len(left) != 0 {
		t.Errorf("namespaces left after SIGTERM: %v", left)
	}
}

func signalChild(t *testing.T, prefix string) {
	topo, err := New(context.Background(), Config{Prefix: prefix, Nodes: 1, PodsPerNode: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := topo.CloseOnSignal(context.Background())
	defer stop()
	os.Stdout.WriteString("topo-child: ready\n")
	select {
	case <-ctx.Done():
	case <-time.After(60 * time.Second):
		t.Error("no signal within 60s")
		_ = topo.Close()
	}
	os.Stdout.WriteString("topo-child: context done\n")
}
