package xdp

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// xdpProgID returns the id of the XDP program attached to ifindex in ns,
// or 0.
func xdpProgID(t *testing.T, p *vethPair, inA bool, ifindex int) uint32 {
	t.Helper()
	h := p.HB
	if inA {
		h = p.HA
	}
	var id uint32
	testenv.InNetns(t, h, func() error {
		l, err := netlink.LinkByIndex(ifindex)
		if err != nil {
			return err
		}
		if x := l.Attrs().Xdp; x != nil && x.Attached {
			id = x.ProgId
		}
		return nil
	})
	return id
}

func progID(t *testing.T, prog *ebpf.Program) uint32 {
	t.Helper()
	info, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return uint32(id)
}

func TestCloseLeavesNoProgramOrLink(t *testing.T) {
	n := newLiveNode(t, SocketConfig{FrameSize: 2048, NumFrames: 64})
	var pass *Attachment
	testenv.InNetns(t, n.HA, func() (err error) {
		pass, err = AttachPassThrough(n.IdxA, AttachOptions{})
		return err
	})
	if pass.Mode() != AttachDriver {
		t.Errorf("pass-through on a veth attached in %s mode, want driver", pass.Mode())
	}
	if got, want := xdpProgID(t, n.vethPair, false, n.IdxB), progID(t, n.r.Program()); got != want {
		t.Fatalf("netlink shows program %d on %s, want ours %d", got, n.IfB, want)
	}
	if xdpProgID(t, n.vethPair, true, n.IdxA) == 0 {
		t.Fatalf("no pass-through program on %s", n.IfA)
	}
	linkB, err := n.att.LinkID()
	if err != nil {
		t.Fatal(err)
	}
	linkA, err := pass.LinkID()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []interface{ Close() error }{pass, n.att, n.sock, n.r} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range []string{n.NsA, n.NsB} {
		if out := testenv.Run(t, "ip", "-n", ns, "-d", "link", "show"); strings.Contains(out, "prog/xdp") {
			t.Errorf("ip -d link show in %s still shows an XDP program:\n%s", ns, out)
		}
	}
	if xdpProgID(t, n.vethPair, true, n.IdxA) != 0 || xdpProgID(t, n.vethPair, false, n.IdxB) != 0 {
		t.Error("netlink still reports an attached XDP program")
	}
	for _, id := range []link.ID{linkA, linkB} {
		if l, err := link.NewFromID(id); err == nil {
			l.Close()
			t.Errorf("bpf link %d still exists after Close", id)
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("bpf link %d: %v, want not-exist", id, err)
		}
	}
}

// attachViaNetlink attaches prog the way an older version (or ip link set
// xdp) would: without a bpf link, so it outlives every file descriptor.
func attachViaNetlink(t *testing.T, p *vethPair, prog *ebpf.Program) {
	t.Helper()
	testenv.InNetns(t, p.HB, func() error {
		l, err := netlink.LinkByIndex(p.IdxB)
		if err != nil {
			return err
		}
		return netlink.LinkSetXdpFdWithFlags(l, prog.FD(), unix.XDP_FLAGS_DRV_MODE)
	})
}

func TestAttachReplacesStaleProgram(t *testing.T) {
	p := newVethPair(t)
	cfg := RedirectConfig{LocalIPv4: p.AddrB, UDPPorts: []uint16{vxlanPort}}
	old, err := NewRedirect(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	attachViaNetlink(t, p, old.Program())
	oldID := progID(t, old.Program())
	old.Close() // as if its process had died: the program stays attached
	if xdpProgID(t, p, false, p.IdxB) != oldID {
		t.Fatal("the netlink-attached program did not outlive its file descriptor")
	}

	r, err := NewRedirect(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var att *Attachment
	testenv.InNetns(t, p.HB, func() (err error) {
		att, err = r.Attach(p.IdxB, AttachOptions{})
		return err
	})
	if att.Replaced() != RedirectProgramName {
		t.Errorf("Replaced() = %q, want %q", att.Replaced(), RedirectProgramName)
	}
	if got := xdpProgID(t, p, false, p.IdxB); got != progID(t, r.Program()) {
		t.Errorf("attached program %d, want the new one", got)
	}

	// While our link holds the interface, nothing may replace it.
	testenv.InNetns(t, p.HB, func() error {
		_, err := AttachPassThrough(p.IdxB, AttachOptions{})
		if !errors.Is(err, ErrAttachedByLink) {
			t.Errorf("attach over a live link: %v, want ErrAttachedByLink", err)
		}
		return nil
	})
	att.Close()
	if got := xdpProgID(t, p, false, p.IdxB); got != 0 {
		t.Errorf("program %d still attached after Close", got)
	}
}

func TestAttachRefusesForeignProgram(t *testing.T) {
	p := newVethPair(t)
	foreign, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "someone_else", Type: ebpf.XDP, License: "MIT",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, xdpPass), asm.Return()}})
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	attachViaNetlink(t, p, foreign)
	testenv.InNetns(t, p.HB, func() error {
		if _, err := AttachPassThrough(p.IdxB, AttachOptions{}); !errors.Is(err, ErrForeignProgram) {
			t.Errorf("attach over a foreign program: %v, want ErrForeignProgram", err)
		}
		a, err := AttachPassThrough(p.IdxB, AttachOptions{ReplaceForeign: true})
		if err != nil {
			return err
		}
		defer a.Close()
		if a.Replaced() != "someone_else" {
			t.Errorf("Replaced() = %q", a.Replaced())
		}
		return nil
	})
}

// TestLinkDiesWithSIGKILL checks on this kernel what Attach relies on: a
// bpf link that is neither pinned nor held by another process disappears
// with its process, even when that process is killed with SIGKILL.
func TestLinkDiesWithSIGKILL(t *testing.T) {
	p := newVethPair(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", p.NsB, exe)
	cmd.Env = append(os.Environ(), helperEnv+"="+strconv.Itoa(p.IdxB))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	attached := false
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "attached") {
			attached = true
			break
		}
	}
	if !attached {
		cmd.Wait()
		t.Fatal("helper process did not attach")
	}
	if xdpProgID(t, p, false, p.IdxB) == 0 {
		t.Fatal("helper's program is not attached")
	}
	cmd.Process.Signal(unix.SIGKILL)
	cmd.Wait()
	// The link is released when the last file reference goes, which the
	// kernel does while tearing the process down; allow it a moment.
	deadline := time.Now().Add(2 * time.Second)
	for xdpProgID(t, p, false, p.IdxB) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("XDP program still attached 2 s after its process was SIGKILLed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// helperAttachAndHang is the child process of TestLinkDiesWithSIGKILL (see
// TestMain): it attaches the pass-through program to the interface named in
// its environment through a bpf link, says so, and waits to be killed.
func helperAttachAndHang(ifindexText string) {
	ifindex, err := strconv.Atoi(ifindexText)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(2)
	}
	a, err := AttachPassThrough(ifindex, AttachOptions{})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(2)
	}
	_ = a
	os.Stdout.WriteString("attached\n")
	time.Sleep(time.Minute)
	os.Exit(3)
}
