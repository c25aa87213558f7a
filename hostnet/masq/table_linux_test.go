package masq

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
)

// TestTableMasqueradesAndAdopts programs the table in namespace A of a veth
// pair, where a "pod" address on A's loopback stands for a local pod, and
// B (which has no route back to the pod) stands for the outside: a ping
// from the pod address works only when masqueraded. A second Table (a
// restarted daemon) adopts the table without duplicating its rules, and
// Remove leaves nothing.
func TestTableMasqueradesAndAdopts(t *testing.T) {
	p := testenv.NewVethPair(t, "m", [2]byte{10, 77})
	for _, tool := range []string{"ping", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (make deps installs it): %v", tool, err)
		}
	}
	pod := netip.MustParseAddr("10.244.9.1")
	testenv.Run(t, "ip", "-n", p.NsA, "addr", "add", pod.String()+"/32", "dev", "lo")
	ping := func() error {
		return exec.Command("ip", "netns", "exec", p.NsA, "ping", "-c1", "-W1", "-I", pod.String(), p.AddrB.String()).Run()
	}
	nft := func() string {
		out, _ := exec.Command("ip", "netns", "exec", p.NsA, "nft", "list", "table", "inet", TableName).CombinedOutput()
		return string(out)
	}
	if ping() == nil {
		t.Fatal("the pod address reaches B without masquerading: the test proves nothing")
	}

	tb := &Table{NetNS: int(p.HA)}
	t.Cleanup(func() { _ = tb.Remove() })
	rules := Rules{
		Sources: []netip.Prefix{netip.MustParsePrefix("10.244.9.0/24"), netip.MustParsePrefix("fd00:244:9::/64")},
		Exempt:  []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("fd00:244::/48")},
	}
	if err := tb.Apply(rules); err != nil {
		t.Fatal(err)
	}
	if err := ping(); err != nil {
		t.Fatalf("pod -> outside with masquerading: %v\n%s", err, nft())
	}

	// B is now in the cluster: its traffic keeps the pod's address, and
	// B, with no route back, cannot answer.
	exempt := rules
	exempt.Exempt = append(exempt.Exempt[:2:2], netip.PrefixFrom(p.AddrB, 32))
	if err := tb.Apply(exempt); err != nil {
		t.Fatal(err)
	}
	if ping() == nil {
		t.Fatalf("a packet to an exempt destination was masqueraded:\n%s", nft())
	}

	restarted := &Table{NetNS: int(p.HA)}
	if err := restarted.Apply(rules); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(nft(), "masquerade"); n != 2 {
		t.Fatalf("after adoption the table has %d masquerade rules, want 2 (one per family):\n%s", n, nft())
	}
	if err := ping(); err != nil {
		t.Fatalf("pod -> outside after adoption: %v", err)
	}

	if err := restarted.Remove(); err != nil {
		t.Fatal(err)
	}
	if present, err := restarted.Present(); err != nil || present {
		t.Fatalf("after Remove: present %v, err %v\n%s", present, err, nft())
	}
	if err := restarted.Remove(); err != nil {
		t.Fatalf("Remove of an absent table: %v", err)
	}
}
