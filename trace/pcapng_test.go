package trace

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/internal/testenv"
)

// tshark, a decoder we did not write, must open our pcapng files and see
// the tunnel layers (with the outer headers we synthesize for socket io)
// and each packet's decisions in its comment.
func TestPcapngTshark(t *testing.T) {
	tshark := testenv.RequireTools(t, "tshark")[0]
	type want struct {
		kind     encap.Kind
		spec     string
		protos   string // frame.protocols must contain this
		comments []string
	}
	wants := []want{
		{encap.KindVXLAN, "src 10.244.1.5 dst 10.244.2.7 tcp dport 8080", "ip:udp:vxlan:eth:ethertype:ip:tcp",
			[]string{"podfwd egress", "encapsulated to peer node2", "route: 10.244.2.0/24 -> peer node2 via 10.99.0.2:4789", "encap: vxlan vni 1"}},
		{encap.KindGeneve, "src 10.244.1.5 dst 10.244.2.7 udp dport 5001", "ip:udp:geneve:eth:ethertype:ip:udp",
			[]string{"encap: geneve vni 1"}},
		{encap.KindIPIP, "src 10.244.1.5 dst 10.244.2.7 tcp dport 443", "ip:ip:tcp",
			[]string{"encap: ipip"}},
		{encap.KindVXLAN, "src 10.244.2.7 dst 10.244.1.5 udp dport 9", "ip:udp:vxlan:eth:ethertype:ip:udp",
			[]string{"podfwd ingress", "delivered to pod0", "decap: vxlan vni 1 from peer node2"}},
		{encap.KindVXLAN, "src 10.244.1.5 dst 10.250.0.1 icmp", "raw:ip:icmp",
			[]string{"dropped: no-route", "route: no route matches"}},
	}
	path := filepath.Join(t.TempDir(), "trace.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewPcapWriter(f, LinkTypeRaw, 65535)
	if err != nil {
		t.Fatal(err)
	}
	for _, wt := range wants {
		r := newRig(t, wt.kind, "", Options{})
		dir, pkt, err := Build(r.cfg, spec(t, wt.spec))
		if err != nil {
			t.Fatal(err)
		}
		if dir == dataplane.Egress {
			r.pod.Inject(pkt, netip.AddrPort{})
		} else {
			r.ul.Inject(udpPayload(t, pkt), netip.AddrPortFrom(netip.MustParseAddr("10.99.0.2"), 50123))
		}
		if err := r.next(t).WritePcap(w); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-r", path, "-T", "fields", "-E", "separator=|", "-e", "frame.protocols", "-e", "frame.comment").Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(wants) {
		t.Fatalf("tshark shows %d packets, want %d:\n%s", len(lines), len(wants), out)
	}
	for i, wt := range wants {
		protos, comment, _ := strings.Cut(lines[i], "|")
		if !strings.Contains(protos, wt.protos) {
			t.Errorf("packet %d: layers %q, want %q", i+1, protos, wt.protos)
		}
		for _, c := range wt.comments {
			if !strings.Contains(comment, c) {
				t.Errorf("packet %d: comment lacks %q:\n%s", i+1, c, comment)
			}
		}
	}
	// No malformed-packet or checksum complaints in the expert info.
	out, err = exec.Command(tshark, "-r", path, "-z", "expert,error", "-q").Output()
	if err != nil {
		t.Fatalf("tshark expert: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Malformed") {
		t.Errorf("tshark finds malformed packets:\n%s", out)
	}
}
