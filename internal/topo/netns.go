package topo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns` keeps its named namespaces (bind mounts).
const netnsDir = "/var/run/netns"

// ErrLeftoverProcesses is returned when processes inside a namespace being
// removed survive SIGKILL for longer than a bounded wait.
var ErrLeftoverProcesses = errors.New("topo: processes survive in namespace")

// Do runs fn on a locked OS thread switched into the node's namespace and
// switches back afterwards, even if fn panics. Goroutines fn starts run in
// the caller's namespace, not the node's; sockets fn opens stay bound to
// the node's namespace. fn's error is returned as is.
func (n *Node) Do(fn func() error) error { return doIn(n.Namespace, fn) }

// Do runs fn inside the pod's namespace, with Node.Do's contract.
func (p *Pod) Do(fn func() error) error { return doIn(p.Namespace, fn) }

// doIn runs fn inside namespace ns on a locked thread and switches the
// thread back afterwards, even when fn panics. fn must not hand work to
// other goroutines and expect it to run in ns: only this thread switched.
// Sockets fn opens stay in ns after Do returns. If switching back fails, the
// thread stays locked so that the runtime discards it with the goroutine.
func doIn(ns string, fn func() error) (err error) {
	target, err := unix.Open(filepath.Join(netnsDir, ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("topo: open namespace %s: %w", ns, err)
	}
	defer unix.Close(target)

	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("topo: open own namespace: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("topo: enter namespace %s: %w", ns, err)
	}
	defer func() {
		if rerr := unix.Setns(orig, unix.CLONE_NEWNET); rerr != nil {
			err = errors.Join(err, fmt.Errorf("topo: leave namespace %s (thread abandoned): %w", ns, rerr))
			return // keep the thread locked: it must never run other goroutines
		}
		runtime.UnlockOSThread()
	}()
	return fn()
}

// writeSysctls writes each key (a path under /proc/sys) = value in order.
// It must run inside the target namespace: net sysctls are per namespace.
func writeSysctls(kv [][2]string) error {
	for _, e := range kv {
		if err := os.WriteFile(filepath.Join("/proc/sys", e[0]), []byte(e[1]), 0); err != nil {
			return fmt.Errorf("topo: sysctl %s=%s: %w", e[0], e[1], err)
		}
	}
	return nil
}

// nsID identifies a network namespace by its nsfs device and inode.
type nsID struct{ dev, ino uint64 }

func statNS(path string) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsID{}, err
	}
	return nsID{dev: st.Dev, ino: st.Ino}, nil
}

// pidsIn returns the PIDs (other than ours) of live processes whose
// network namespace is one of ids. Zombies have no namespace and are
// not counted: they hold nothing.
func pidsIn(ids map[nsID]bool) []int {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		id, err := statNS(filepath.Join("/proc", e.Name(), "ns", "net"))
		if err == nil && ids[id] {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killIn SIGKILLs every process inside the namespaces named and waits,
// bounded, until none is left, so that deleting the names frees the
// namespaces (a namespace lives on while a process is inside).
func killIn(names []string) error {
	ids := make(map[nsID]bool, len(names))
	for _, name := range names {
		if id, err := statNS(filepath.Join(netnsDir, name)); err == nil {
			ids[id] = true
		}
	}
	if len(ids) == 0 {
		return nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := pidsIn(ids)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: pids %v after SIGKILL and 5s", ErrLeftoverProcesses, pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deleteNamespace removes a named namespace as `ip netns delete` does:
// detach the bind mount, then unlink the file. Links inside die with the
// namespace once no process holds it. A missing name is not an error.
func deleteNamespace(name string) error {
	path := filepath.Join(netnsDir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("topo: unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("topo: remove %s: %w", path, err)
	}
	return nil
}

// listNamespaces returns the names `ip netns list` would show.
func listNamespaces() ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("topo: list namespaces: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}
