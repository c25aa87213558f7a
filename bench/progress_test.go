package bench

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	modes, _ := SelectModes("kernel/vxlan")
	modes = append(modes, Mode{Name: "future/mode", IO: "future", Encap: "vxlan", Unsupported: "not in podfwd yet"})
	cfg := Config{Modes: modes, Progress: &b}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	p := newProgress(cfg)
	if want := 3 + quietWindow.Seconds() + 3*(p.testCost(TestTCP1)+p.testCost(TestTCP4)+p.testCost(TestUDP64)+p.testCost(TestRR)); p.total != want {
		t.Errorf("planned %v s, want %v (an unsupported mode costs nothing)", p.total, want)
	}
	p.enter(modes[0], 1500, 3)
	p.setTest(TestUDP64, 2)
	p.done(TestUDP64)
	p.enter(modes[1], 1500, 3)
	p.skip()
	p.finish()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want one per step:\n%s", len(lines), b.String())
	}
	for _, want := range []string{"kernel/vxlan", "udp64", "run 2/3", "ETA"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("line %q lacks %q", lines[1], want)
		}
	}
	if !strings.HasPrefix(lines[2], "[") || !strings.Contains(lines[2], "future/mode") {
		t.Errorf("last line %q", lines[2])
	}
	if p.now != p.total {
		t.Errorf("done %v of %v after the last mode", p.now, p.total)
	}
}

func TestProgressLiveBar(t *testing.T) {
	var b bytes.Buffer
	modes, _ := SelectModes("kernel/vxlan")
	cfg := Config{Modes: modes, Progress: &b, Live: true}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	p := newProgress(cfg)
	p.enter(modes[0], 1500, 3)
	p.finish()
	out := b.String()
	if !strings.HasPrefix(out, "\r\x1b[K[....................] [  0%] kernel/vxlan") || !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("live output %q: want a redrawn bar line, cleared at the end", out)
	}
}

// TestProgressInterleaved: interleaving plans a bring-up per run, and a
// warning gets a line of its own, the live line drawn again below it.
func TestProgressInterleaved(t *testing.T) {
	var b bytes.Buffer
	modes, _ := SelectModes("kernel/vxlan")
	cfg := Config{Modes: modes, Progress: &b, Live: true, Interleave: true, Tests: []string{TestRR}}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	p := newProgress(cfg)
	if want := 3 * (3 + quietWindow.Seconds() + p.testCost(TestRR)); p.total != want {
		t.Errorf("planned %v s, want %v: three bring-ups of one run each", p.total, want)
	}
	p.enter(modes[0], 1500, 1)
	p.setTest(TestRR, 2)
	b.Reset()
	p.warn("kernel/vxlan rr run 2: busy")
	p.finish()
	if out := b.String(); !strings.HasPrefix(out, "\r\x1b[Kwarning: kernel/vxlan rr run 2: busy\n\r\x1b[K[") || !strings.Contains(out, "rr    run 2/3") {
		t.Errorf("live output %q", out)
	}
}
