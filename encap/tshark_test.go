package encap

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/podfwd/podfwd/internal/testenv"
)

// TestTsharkDecodesOurEncap writes our Geneve, VXLAN and IPIP packets (with
// an outer Ethernet header) to a pcap and has tshark, a decoder nobody here
// wrote, read them back field by field with checksum validation on.
func TestTsharkDecodesOurEncap(t *testing.T) {
	tshark := testenv.RequireTools(t, "tshark")[0]
	opts := []byte{0x01, 0x02, 0x03, 0x01, 0xde, 0xad, 0xbe, 0xef}
	type row struct {
		params  Params
		outerV6 bool
		innerV6 bool
		// want: tab-separated fields in the order of -e below; checksum
		// status 1 = good, 3 = not present (zero UDP checksum over IPv4);
		// a comma separates outer and inner occurrences.
		want string
	}
	rows := []row{
		{Params{Kind: KindGeneve, VNI: 0x123456, GeneveOptions: opts, InnerSrcMAC: testSrcMAC, InnerDstMAC: testDstMAC}, false, false,
			"0\t0x6558\t0x123456\t0x0102\t0x03\t8,8\t4,4\t1,1\t0\t3,1\t"},
		{Params{Kind: KindGeneve, VNI: 77, GeneveIP: true}, true, false,
			"0\t0x0800\t0x00004d\t\t\t0\t6,4\t1\t0\t1,1\t"},
		{Params{Kind: KindVXLAN, VNI: 4242, InnerSrcMAC: testSrcMAC, InnerDstMAC: testDstMAC}, false, true,
			"\t\t\t\t\t\t4,6\t1\t\t3,1\t4242"},
		{Params{Kind: KindIPIP}, false, false, "\t\t\t\t\t\t4,4\t1,1\t\t1\t"},
		{Params{Kind: KindIPIP}, false, true, "\t\t\t\t\t\t4,6\t1\t\t1\t"},
		{Params{Kind: KindIPIP}, true, false, "\t\t\t\t\t\t6,4\t1\t\t1\t"},
		{Params{Kind: KindIPIP}, true, true, "\t\t\t\t\t\t6,6\t\t\t1\t"},
	}
	path := filepath.Join(t.TempDir(), "encap.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	// Every row is written once per encap path, prepend first.
	for k := range len(encapPaths) * len(rows) {
		path, i := encapPaths[k/len(rows)], k%len(rows)
		r := rows[i]
		var inner []byte
		if r.innerV6 {
			inner = buildInnerUDP6([]byte("tshark"), 0, 64)
		} else {
			inner = buildInnerUDP4([]byte("tshark"), 0, true, 64)
		}
		pkt := path.fn(t, inner, &r.params, newOuter(r.outerV6), uint32(i))
		frame := make([]byte, EthernetLen+len(pkt))
		copy(frame[EthernetLen:], pkt)
		et := uint16(EtherTypeIPv4)
		if r.outerV6 {
			et = EtherTypeIPv6
		}
		if s, dr := PrependEthernet(frame, EthernetLen, testDstMAC, testSrcMAC, et); dr != DropNone || s != 0 {
			t.Fatal(dr)
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(frame), Length: len(frame)}
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-n", "-r", path, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
		"-e", "geneve.version", "-e", "geneve.proto_type", "-e", "geneve.vni", "-e", "geneve.option.class",
		"-e", "geneve.option.type", "-e", "geneve.option.length", "-e", "ip.version",
		"-e", "ip.checksum.status", "-e", "geneve.flags.critical", "-e", "udp.checksum.status", "-e", "vxlan.vni")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no personal tshark preferences
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(encapPaths)*len(rows) {
		t.Fatalf("tshark printed %d lines for %d packets:\n%s", len(lines), len(encapPaths)*len(rows), out)
	}
	for k, line := range lines {
		path, i := encapPaths[k/len(rows)], k%len(rows)
		if r := rows[i]; line != r.want {
			t.Errorf("%s packet %d (%v):\n got %q\nwant %q", path.name, i, r.params.Kind, line, r.want)
		}
	}
}
