package bench

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseMachineBusy(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  100 20 300 9999 55 7 13 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1\n"
	got, err := parseMachineBusy([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := float64(100+20+300+7+13) / userHZ; math.Abs(got.busy-want) > 1e-9 {
		t.Errorf("busy = %v, want %v (idle, iowait and steal excluded)", got.busy, want)
	}
	if want := float64(7+13) / userHZ; math.Abs(got.irq-want) > 1e-9 {
		t.Errorf("irq = %v, want %v", got.irq, want)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7", "cpu 1 2 3", "cpu 1 2 x 4 5 6 7 8"} {
		if _, err := parseMachineBusy([]byte(bad)); !errors.Is(err, ErrProcFormat) {
			t.Errorf("parseMachineBusy(%q) err = %v, want ErrProcFormat", bad, err)
		}
	}
}

func TestParseProcessCPU(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	stat := "4242 (pod fwd) x) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 8 0 100 0 0\n"
	got, err := parseProcessCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 325.0 / userHZ; math.Abs(got-want) > 1e-9 {
		t.Errorf("cpu = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "1 (x S 1 2", "1 (x) S 1 2 3", "1 (x) S 1 2 3 4 5 6 7 8 9 10 -5 0"} {
		if _, err := parseProcessCPU([]byte(bad)); !errors.Is(err, ErrProcFormat) {
			t.Errorf("parseProcessCPU(%q) err = %v, want ErrProcFormat", bad, err)
		}
	}
}

func TestLiveProcReadable(t *testing.T) {
	if _, err := readMachineCPU(); err != nil {
		t.Fatalf("this machine's /proc/stat: %v", err)
	}
	c := startCPU([]int{1 << 30}, nil, true) // no such pid: counts nothing
	spin := time.Now()
	for time.Since(spin) < 50*time.Millisecond { // burn CPU that "own" must see
	}
	machine, own, daemons := c.since()
	if daemons != 0 {
		t.Errorf("a missing process counted %v s", daemons)
	}
	if own <= 0 || machine < 0 {
		t.Errorf("50ms of spinning: own %v s, machine %v s", own, machine)
	}
}

// FuzzParseMachineBusy: an accepted /proc/stat line gives busy = user +
// nice + system + irq + softirq and irq = irq + softirq (proc(5) order),
// summed independently in float64 from the same fields; idle, iowait and
// steal never count, so rewriting them changes nothing.
func FuzzParseMachineBusy(f *testing.F) {
	f.Add([]byte("cpu  100 20 300 9999 55 7 13 8 0 0\n"))
	f.Add([]byte("cpu 1 2 3 4 5 6 7\n"))
	f.Add([]byte("cpu 1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 10\n"))
	f.Add([]byte("cpu 18446744073709551615 1 1 1 1 1 1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseMachineBusy(b)
		if err != nil {
			return
		}
		line, _, _ := strings.Cut(string(b), "\n")
		fields := strings.Fields(line)
		var n [8]float64
		for i := 1; i < 8; i++ {
			n[i], _ = strconv.ParseFloat(fields[i], 64)
		}
		// The kernel's counters are uint64 ticks; a sum past 2^64 (5e9
		// years at 100 Hz) wraps in the parser and is out of scope here.
		if n[1]+n[2]+n[3]+n[6]+n[7] >= 1<<64 {
			return
		}
		busy, irq := (n[1]+n[2]+n[3]+n[6]+n[7])/userHZ, (n[6]+n[7])/userHZ
		if !near(v.busy, busy) || !near(v.irq, irq) {
			t.Fatalf("busy %v irq %v from %q, want %v and %v", v.busy, v.irq, b, busy, irq)
		}
		for _, i := range []int{4, 5, 8} { // idle, iowait, steal
			if i >= len(fields) {
				continue
			}
			other := append([]string(nil), fields...)
			other[i] = "123456789"
			w, err := parseMachineBusy([]byte(strings.Join(other, " ")))
			if err != nil || w != v {
				t.Fatalf("rewriting field %d of %q changed the result: %v, %v (was %v)", i, line, w, err, v)
			}
		}
	})
}

// FuzzParseProcessCPU: an accepted /proc/PID/stat line gives utime +
// stime (proc(5) fields 14 and 15, counted after the command name's last
// ')'), and the command name, whatever it holds, changes nothing.
func FuzzParseProcessCPU(f *testing.F) {
	f.Add([]byte("4242 (podfwd) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 8 0 100 0 0"))
	f.Add([]byte("1 ((a)) R 0 0 0 0 0 0 0 0 0 0 1 2"))
	f.Add([]byte("4242 (pod fwd) x) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 75 0 0"))
	f.Add([]byte(")"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseProcessCPU(b)
		if err != nil {
			return
		}
		s := string(b)
		rest := s[strings.LastIndexByte(s, ')')+1:]
		fields := strings.Fields(rest)
		utime, _ := strconv.ParseFloat(fields[11], 64)
		stime, _ := strconv.ParseFloat(fields[12], 64)
		if utime+stime >= 1<<64 { // wraps in uint64 ticks, as in FuzzParseMachineBusy
			return
		}
		if want := (utime + stime) / userHZ; !near(v, want) {
			t.Fatalf("cpu %v from %q, want utime %v + stime %v ticks = %v s", v, b, utime, stime, want)
		}
		if w, err := parseProcessCPU([]byte("7 (a) b (c)" + rest)); err != nil || w != v {
			t.Fatalf("another command name changed the result: %v, %v (was %v)", w, err, v)
		}
	})
}

// near compares two float64 results of the same sum up to rounding.
func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

func TestConfigHas(t *testing.T) {
	cfg := "# CONFIG_IRQ_TIME_ACCOUNTING is not set\nCONFIG_HAVE_IRQ_TIME_ACCOUNTING=y\n"
	if configHas(strings.NewReader(cfg), "CONFIG_IRQ_TIME_ACCOUNTING") {
		t.Error("an unset option (and a longer name that contains it) read as set")
	}
	if !configHas(strings.NewReader(cfg+"CONFIG_IRQ_TIME_ACCOUNTING=y\n"), "CONFIG_IRQ_TIME_ACCOUNTING") {
		t.Error("a set option read as unset")
	}
	if _, source := irqTimeAccounting(); source == "" {
		t.Error("no source given")
	}
}
