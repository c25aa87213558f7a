package topo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"weak"
)

// ErrCommand is wrapped by errors of the iproute2 commands that build and
// program the topology; the message carries the command and its output.
var ErrCommand = errors.New("topo: command failed")

// run runs name with args (and stdin, when not empty) to completion.
func run(ctx context.Context, stdin, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := fmt.Sprintf("%s %s", name, strings.Join(args, " "))
		if stdin != "" {
			msg += " <<EOF\n" + stdin + "EOF"
		}
		return fmt.Errorf("%w: %s: %w\n%s", ErrCommand, msg, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// batch feeds lines to one `ip -batch` (tool "ip" or "bridge") running in
// namespace ns, or in the caller's namespace when ns is empty. A batch stops
// at its first failing line, and the error names it.
func batch(ctx context.Context, tool, ns string, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	return run(ctx, strings.Join(lines, "\n")+"\n", tool, args...)
}

// Command returns a command that runs name inside the node's namespace (via
// `ip netns exec`). The topology remembers it: Close kills its process if
// it was started and is still running. Waiting for it stays the caller's job.
func (n *Node) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return n.topo.command(ctx, n.Namespace, name, args...)
}

// Command returns a command that runs name inside the pod's namespace, with
// the same contract as Node.Command.
func (p *Pod) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return p.Node.topo.command(ctx, p.Namespace, name, args...)
}

// command makes the command and tracks it weakly: a command the caller has
// dropped is forgotten, and its process, if any, is still found by Close's
// scan of the namespaces.
func (t *Topology) command(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	t.mu.Lock()
	defer t.mu.Unlock()
	live := t.cmds[:0]
	for _, w := range t.cmds {
		if w.Value() != nil {
			live = append(live, w)
		}
	}
	t.cmds = append(live, weak.Make(cmd))
	return cmd
}

// killTracked kills every tracked command that was started. os.Process
// holds a pidfd, so a process already waited for is not mistaken for a
// reused PID.
func (t *Topology) killTracked() {
	t.mu.Lock()
	cmds := append([]weak.Pointer[exec.Cmd](nil), t.cmds...)
	t.cmds = nil
	t.mu.Unlock()
	for _, w := range cmds {
		if cmd := w.Value(); cmd != nil && cmd.Process != nil {
			_ = cmd.Process.Kill() // already done is fine
		}
	}
}
