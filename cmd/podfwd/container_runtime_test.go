package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
)

// containerd is a private containerd (its own root, state and socket under
// a test directory) that the container e2e test starts and stops; the
// host's containerd, if any, is never touched.
type containerd struct {
	dir, sock string
	cmd       *exec.Cmd
}

// startContainerd starts containerd with runc. A missing binary skips the
// test outside CI and fails it in CI (make deps installs both).
func startContainerd(t *testing.T) *containerd {
	t.Helper()
	for _, tool := range []string{"containerd", "ctr", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			if testenv.InCI() {
				t.Fatalf("%s is missing (make deps installs containerd and runc): %v", tool, err)
			}
			t.Skipf("%s is missing (make deps installs containerd and runc)", tool)
		}
	}
	// Not t.TempDir: containerd's root must live on a filesystem overlayfs
	// accepts as upper dir, and a short path keeps the socket under
	// sun_path's 108 bytes.
	dir, err := os.MkdirTemp("", "podfwd-ctd-")
	if err != nil {
		t.Fatal(err)
	}
	c := &containerd{dir: dir, sock: filepath.Join(dir, "sock")}
	config := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.sock)
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"))
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("containerd log (tail):\n%s", tail(string(b), 3000))
		}
		_ = os.RemoveAll(dir)
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := c.ctr("version").CombinedOutput()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			msg := fmt.Sprintf("containerd did not come up: %v: %s\n%s", err, out, tail(string(b), 3000))
			if testenv.InCI() {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c
}

// ctr runs the ctr client against this containerd, in namespace podfwd-e2e.
func (c *containerd) ctr(args ...string) *exec.Cmd {
	return exec.Command("ctr", append([]string{"-a", c.sock, "-n", "podfwd-e2e"}, args...)...)
}

// run runs ctr and fails t with its output if it fails.
func (c *containerd) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.ctr(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// taskPID returns the PID of container id's task and whether it runs.
func (c *containerd) taskPID(id string) (pid int, running bool) {
	out, _ := c.ctr("task", "ls").CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == id {
			pid, _ = strconv.Atoi(f[1])
			return pid, f[2] == "RUNNING"
		}
	}
	return 0, false
}

// remove stops container id's task with SIGTERM (SIGKILL after 10 s) and
// deletes the container; it reports whether SIGTERM alone stopped it.
func (c *containerd) remove(id string) (graceful bool) {
	graceful = true
	if _, running := c.taskPID(id); running {
		_ = c.ctr("task", "kill", "-s", "SIGTERM", id).Run()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, running := c.taskPID(id); !running {
				break
			}
			if time.Now().After(deadline) {
				graceful = false
				_ = c.ctr("task", "kill", "-s", "SIGKILL", id).Run()
				time.Sleep(500 * time.Millisecond)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	_ = c.ctr("task", "delete", id).Run()
	_ = c.ctr("container", "delete", id).Run()
	return graceful
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
