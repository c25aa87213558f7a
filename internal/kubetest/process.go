package kubetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// process is one child program in its own process group, with its output
// in a log file, so that stopping it also stops anything it spawned.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the child has been reaped
	waitErr error         // valid after exited is closed
}

// startProcess starts bin with args, appending stdout and stderr to logPath.
// Pdeathsig kills the child if the test binary dies without running its
// cleanups (for example on a -timeout panic); it is tied to the OS thread
// that forks, which is acceptable because no goroutine in these tests exits
// while locked to its thread.
func startProcess(name, bin string, args []string, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kubetest: %s log: %w", name, err)
	}
	fmt.Fprintf(logFile, "=== %s %s %q\n", time.Now().Format(time.RFC3339Nano), bin, args)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("kubetest: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		// Kill whatever the leader left in its group right away: later, the
		// group id could name an unrelated process group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// running reports whether the child has not exited yet.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the whole process group, waits up to grace for an
// orderly exit, then SIGKILLs the group (grace 0 kills at once). It is safe
// to call more than once.
func (p *process) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	if !p.running() {
		return // reaped, and its group killed, by the wait goroutine
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
		return
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.exited
}

// errExited is wrapped when a child exits while we wait for it to be ready.
var errExited = errors.New("kubetest: process exited early")

// exitError describes an early exit with the tail of the child's log.
func (p *process) exitError() error {
	return fmt.Errorf("%w: %s: %v\n%s", errExited, p.name, p.waitErr, tailFile(p.logPath, 40))
}

// tailFile returns the last n lines of a log file, for failure messages.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
