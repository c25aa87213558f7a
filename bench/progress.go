package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress draws one status line: the mode and test under way, the run,
// and an ETA from the planned work, corrected by how fast work has gone
// so far. Live redraws it in place every second; otherwise a line is
// printed per step (for logs).
type progress struct {
	w    io.Writer
	live bool
	cfg  Config

	mu                    sync.Mutex
	start                 time.Time
	total, base, cur, now float64 // planned seconds: all, before this mode, this mode, done
	mode, test            string
	mtu, run              int
	stop                  chan struct{}
	wg                    sync.WaitGroup
}

func newProgress(cfg Config) *progress {
	p := &progress{w: cfg.Progress, live: cfg.Live, cfg: cfg, start: time.Now(), stop: make(chan struct{})}
	for _, v := range schedule(cfg) {
		p.total += p.visitCost(cfg.Modes[v.mode], len(v.runs))
	}
	if p.w != nil && p.live {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-p.stop:
					return
				case <-t.C:
					p.mu.Lock()
					p.draw()
					p.mu.Unlock()
				}
			}
		}()
	}
	return p
}

// testCost is the planned time of one run of test: its traffic plus
// iperf3's start (udp64 runs iperf3's cross-check after our flood).
func (p *progress) testCost(test string) float64 {
	d := p.cfg.Duration.Seconds()
	switch test {
	case TestUDP64:
		return 2*d + 1.5
	case TestRR:
		return d + 0.2
	}
	return d + 1
}

// visitCost is the planned time of bringing m up for runs runs of every
// test.
func (p *progress) visitCost(m Mode, runs int) float64 {
	if m.Unsupported != "" {
		return 0
	}
	c := 3.0 + quietWindow.Seconds() // topology, daemons, ping; the machine's load after
	if m.Probe != nil {
		return c
	}
	for _, t := range p.cfg.Tests {
		c += float64(runs) * p.testCost(t)
	}
	return c
}

// enter starts bringing mode m up at mtu for runs runs.
func (p *progress) enter(m Mode, mtu, runs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.base += p.cur
	p.cur, p.now = p.visitCost(m, runs), p.base
	p.mode, p.mtu, p.test, p.run = m.Name, mtu, "setup", 0
	p.draw()
}

// pass counts a bring-up of m that will not happen (the mode was found
// unsupported or broken earlier) as done, without a line of its own.
func (p *progress) pass(m Mode, runs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.base += p.cur
	p.cur = p.visitCost(m, runs)
	p.now = p.base + p.cur
}

// skip marks the current mode's remaining work done (unsupported or failed).
func (p *progress) skip() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = p.base + p.cur
}

func (p *progress) setTest(test string, run int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.test, p.run = test, run
	p.draw()
}

func (p *progress) done(test string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = min(p.now+p.testCost(test), p.base+p.cur)
}

// warn prints msg on a line of its own, above the live line.
func (p *progress) warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w == nil {
		return
	}
	if p.live {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	fmt.Fprintln(p.w, "warning: "+msg)
	if p.live {
		p.draw()
	}
}

func (p *progress) finish() {
	close(p.stop)
	p.wg.Wait()
	if p.w != nil && p.live {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// draw writes the line; p.mu is held.
func (p *progress) draw() {
	if p.w == nil {
		return
	}
	elapsed := time.Since(p.start)
	left := p.total - p.now
	if p.now > 1 { // scale the plan by how it has gone so far
		left *= elapsed.Seconds() / p.now
	}
	pct := 100 * p.now / max(p.total, 1)
	run := ""
	if p.run > 0 {
		run = fmt.Sprintf(" run %d/%d", p.run, p.cfg.Runs)
	}
	line := fmt.Sprintf("[%3.0f%%] %-18s mtu %-4d %-5s%-9s elapsed %s  ETA %s",
		pct, p.mode, p.mtu, p.test, run, elapsed.Round(time.Second), time.Duration(left*float64(time.Second)).Round(time.Second))
	if p.live {
		filled := min(int(pct/5), 20)
		bar := "[" + strings.Repeat("#", filled) + strings.Repeat(".", 20-filled) + "] "
		fmt.Fprint(p.w, "\r\x1b[K"+bar+line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}
