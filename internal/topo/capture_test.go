package topo

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
)

// captureVXLAN captures one VXLAN datagram on node n's underlay link while
// traffic() runs, and returns the tshark fields named (e.g. vxlan.vni;
// ip.src lists outer then inner) decoded from it.
func captureVXLAN(t *testing.T, ctx context.Context, n *Node, traffic func(), fields ...string) []string {
	t.Helper()
	testenv.RequireTools(t, "tcpdump", "tshark")
	port := strconv.Itoa(int(n.Topology().Config.VXLANPort))
	file := filepath.Join(t.TempDir(), "vxlan.pcap")
	dump := n.Command(ctx, "tcpdump", "-i", UnderlayLink, "-n", "-c", "1", "-w", file, "udp", "port", port)
	stderr, err := dump.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := dump.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	// tcpdump says "listening on" once its filter is attached.
	listening := make(chan string, 1)
	var seen strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "listening on") {
				listening <- sc.Text()
			}
		}
		close(listening)
	}()
	select {
	case _, ok := <-listening:
		if !ok {
			_ = dump.Wait()
			t.Fatalf("tcpdump exited before listening")
		}
	case <-time.After(10 * time.Second):
		_ = dump.Process.Kill()
		_ = dump.Wait()
		t.Fatalf("tcpdump not listening after 10s")
	}
	traffic()
	waited := make(chan error, 1)
	go func() { waited <- dump.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("tcpdump: %v", err)
		}
	case <-time.After(10 * time.Second):
		_ = dump.Process.Kill()
		<-waited
		t.Fatalf("tcpdump captured no UDP port %s datagram within 10s", port)
	}
	// Wireshark decodes VXLAN on 4789 only; tell it about our port.
	args := []string{"-r", file, "-d", "udp.port==" + port + ",vxlan", "-T", "fields"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.CommandContext(ctx, "tshark", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	t.Logf("tshark: %s", out)
	return strings.Split(lastLine(string(out)), "\t")
}

// lastLine drops tshark's warnings (e.g. about running as root).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
