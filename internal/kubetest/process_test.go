package kubetest

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A child that dies while we wait for it must fail the wait at once, with
// its log in the error, instead of waiting for the deadline.
func TestWaitHealthyReportsEarlyExit(t *testing.T) {
	log := filepath.Join(t.TempDir(), "child.log")
	p, err := startProcess("child", "/bin/sh", []string{"-c", "echo boom-from-child; exit 3"}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err = waitHealthy(ctx, p, http.DefaultClient, "http://127.0.0.1:1/health", "", "ok")
	if !errors.Is(err, errExited) || !strings.Contains(err.Error(), "boom-from-child") {
		t.Fatalf("got %v, want errExited carrying the child's log", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("early exit noticed only after %v", time.Since(start))
	}
}

// stop must take down the whole process group, not only the leader.
func TestStopKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild.pid")
	// The leader ignores SIGTERM, so stop must escalate to SIGKILL.
	script := "trap '' TERM; sleep 300 & echo $! > " + pidFile + "; wait"
	p, err := startProcess("group", "/bin/sh", []string{"-c", script}, filepath.Join(dir, "group.log"))
	if err != nil {
		t.Fatal(err)
	}
	var grandchild int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 1 {
			grandchild, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			break
		}
	}
	if grandchild == 0 {
		t.Fatal("grandchild never started")
	}
	p.stop(200 * time.Millisecond)
	if p.running() {
		t.Fatal("leader still running after stop")
	}
	// The grandchild was reparented; once killed it is gone or a zombie
	// waiting for its new parent to reap it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if !alive(grandchild) {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(grandchild, syscall.SIGKILL)
			t.Fatalf("grandchild %d survived stop", grandchild)
		}
	}
	p.stop(0) // a second stop is a no-op
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
