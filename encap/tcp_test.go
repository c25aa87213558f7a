package encap

import "testing"

// TestTCPView reads every field of a header built by hand (ports 443 ->
// 40000, seq 0x01020304, ack 0x0a0b0c0d, 24-byte header, ACK|PSH, window
// 0x1234, checksum 0xbeef) so an offset typo shows as a wrong field.
func TestTCPView(t *testing.T) {
	h := TCP{
		0x01, 0xbb, 0x9c, 0x40, // ports
		0x01, 0x02, 0x03, 0x04, // seq
		0x0a, 0x0b, 0x0c, 0x0d, // ack
		0x60, TCPFlagACK | TCPFlagPSH, 0x12, 0x34, // data offset 6, flags, window
		0xbe, 0xef, 0x00, 0x00, // checksum, urgent
		0x01, 0x01, 0x01, 0x01, // options (NOP x4)
	}
	if h.SrcPort() != 443 || h.DstPort() != 40000 {
		t.Errorf("ports %d -> %d", h.SrcPort(), h.DstPort())
	}
	if h.Seq() != 0x01020304 || h.Ack() != 0x0a0b0c0d {
		t.Errorf("seq %#x ack %#x", h.Seq(), h.Ack())
	}
	if h.HeaderLen() != 24 {
		t.Errorf("header length %d, want 24", h.HeaderLen())
	}
	if h.Flags() != TCPFlagACK|TCPFlagPSH {
		t.Errorf("flags %#x", h.Flags())
	}
	if h.Window() != 0x1234 || h.Checksum() != 0xbeef {
		t.Errorf("window %#x checksum %#x", h.Window(), h.Checksum())
	}
}
