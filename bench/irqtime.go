package bench

import (
	"bufio"
	"compress/gzip"
	"io"
	"os"
	"strings"
)

// irqTimeAccounting reports whether the kernel keeps interrupt time out
// of the tasks' times (CONFIG_IRQ_TIME_ACCOUNTING), and where it learnt it.
// Without it, a tick that lands in softirq work is charged both to the
// task it interrupted and to /proc/stat's softirq column, so the harness
// adds the machine's irq+softirq time to its own CPU only when the kernel
// accounts it apart. Unknown (no config to read) counts as apart, the
// distributions' default.
func irqTimeAccounting() (apart bool, source string) {
	release := strings.TrimSpace(readFile("/proc/sys/kernel/osrelease"))
	for _, path := range []string{"/proc/config.gz", "/boot/config-" + release} {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		var r io.Reader = f
		if strings.HasSuffix(path, ".gz") {
			gz, err := gzip.NewReader(f)
			if err != nil {
				f.Close()
				continue
			}
			r = gz
		}
		apart = configHas(r, "CONFIG_IRQ_TIME_ACCOUNTING")
		f.Close()
		return apart, path
	}
	return true, "unknown (no kernel config readable)"
}

// configHas reports whether a kernel .config sets option to y.
func configHas(r io.Reader, option string) bool {
	s := bufio.NewScanner(r)
	for s.Scan() {
		if s.Text() == option+"=y" {
			return true
		}
	}
	return false
}
