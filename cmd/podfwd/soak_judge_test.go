package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// judge fails the soak for what it promises not to happen and logs the
// summary. Call it after the traffic stopped and the receivers drained.
func (s *soak) judge() {
	t := s.t
	tallies := map[string]*udpTally{}
	var restartLoss []time.Duration
	unexpected, corrupt, dups, sendErrors := 0, 0, 0, 0
	for _, f := range s.udp {
		bad, lost := f.account(s.tl, tallies)
		for _, b := range bad {
			t.Error(b)
		}
		unexpected += len(bad)
		restartLoss = append(restartLoss, lost...)
		if f.corrupt > 0 {
			t.Errorf("%s: %d corrupted datagrams; the first: %s", f.name, f.corrupt, f.example)
		}
		if f.dups > 0 {
			t.Errorf("%s: %d datagrams arrived twice", f.name, f.dups)
		}
		corrupt, dups, sendErrors = corrupt+f.corrupt, dups+f.dups, sendErrors+f.sendErrors
	}

	windows := s.tl.all()
	var resumes []string
	var maxResume time.Duration
	for _, r := range s.restarts {
		w := windows[r.window]
		var in []time.Duration
		for _, at := range restartLoss {
			if at >= w.from-restartEdge && at <= w.to+resumeBound {
				in = append(in, at)
			}
		}
		resume := time.Duration(0)
		desc := fmt.Sprintf("restart at %v (%s): up after %v, no loss", w.from.Round(time.Millisecond), r.variant, r.took.Round(time.Millisecond))
		if len(in) > 0 {
			first, last := slices.Min(in), slices.Max(in)
			resume = max(0, last-w.to)
			desc = fmt.Sprintf("restart at %v (%s): up after %v, %d datagrams lost, sent from %v to %v, the last %v after up",
				w.from.Round(time.Millisecond), r.variant, r.took.Round(time.Millisecond), len(in),
				first.Round(time.Millisecond), last.Round(time.Millisecond), resume.Round(time.Millisecond))
		}
		if resume > resumeBound {
			t.Errorf("traffic through node 2 did not resume within %v of its daemon being up: %s", resumeBound, desc)
		}
		maxResume = max(maxResume, resume)
		resumes = append(resumes, desc)
	}

	var transfers, dialsInRestart int
	tcpFailed := false
	var bytes int64
	var maxTook time.Duration
	for _, f := range s.tcp {
		for _, msg := range f.failures {
			t.Error(msg)
			tcpFailed = true
		}
		if f.serverErr > 0 {
			t.Logf("%s: the server saw %d connections go wrong: %q", f.name, f.serverErr, f.serverLog)
		}
		for _, d := range f.dialFailed {
			if f.via2 && (s.tl.kindAt(d.from, true) == windowRestart || s.tl.kindAt(d.to, true) == windowRestart) {
				dialsInRestart++
				continue
			}
			t.Errorf("%s: a connect failed outside any restart window of the nodes it crosses: %s", f.name, &d)
		}
		if f.transfers == 0 {
			t.Errorf("%s: no transfer completed", f.name)
		}
		transfers += f.transfers
		bytes += f.bytes
		maxTook = max(maxTook, f.maxTook)
	}

	if unexpected > 0 || tcpFailed {
		s.logDrops()
	}

	growth := "not sampled (the soak was shorter than its warm-up)"
	if s.warm[0].rss != 0 {
		var lines []string
		for i, d := range []*daemon{s.ds[0], s.ds[2]} {
			if msg := grewTooMuch(s.warm[i], s.last[i]); msg != "" {
				t.Errorf("podfwd on %s from %v to the end: %s", d.node.Namespace, s.warmAt.Round(time.Second), msg)
			}
			lines = append(lines, fmt.Sprintf("%s: %v -> %v", d.node.Namespace, s.warm[i], s.last[i]))
		}
		growth = fmt.Sprintf("from %v to the end: %s", s.warmAt.Round(time.Second), strings.Join(lines, "; "))
	}

	var downMax, cpMax time.Duration
	hows := map[string]int{}
	for _, o := range s.outages {
		hows[o.how]++
		downMax, cpMax = max(downMax, o.down), max(cpMax, o.resume)
		if o.resume > controlPlaneBound {
			t.Errorf("a Node change took %v to reach every daemon after the apiserver came back", o.resume)
		}
	}
	churn, configs := s.kube[0], s.kube[1]
	var apiErrs []string
	for _, w := range s.kube {
		apiErrs = append(apiErrs, w.errs...)
	}
	load, _ := os.ReadFile("/proc/loadavg")

	var udpLines []string
	for _, kind := range []string{windowQuiet, windowAPIDown, windowRestart} {
		if ty := tallies[kind]; ty != nil {
			udpLines = append(udpLines, fmt.Sprintf("%s: %d sent, %d received, %d lost", kind, ty.sent, ty.received, ty.lost))
		}
	}
	t.Logf(`soak summary
  ran %v of traffic and disturbances (asked %v); load average at the end: %s
  TCP: %d flows, %d transfers, %.1f MiB checked by SHA-256, none corrupt or unfinished unless reported above; longest transfer %v; %d connects refused inside restart windows
  UDP: %d flows at %d/s each; by window: %s; %d corrupted, %d duplicated, %d send errors
  apiserver outages: %d %v, each down at most %v (stop -> ready); a new Node then reached every daemon within %v at most
  node 2 daemon SIGKILL + restart: %d, max resume after up %v
    %s
  Node churn every %v: %v (%d requests failed during outages); real Node config changes: %d
  API requests that failed with the apiserver up (not the daemons' fault, logged only): %d %q
  resources %s`,
		s.tl.now().Round(time.Second), s.dur, strings.TrimSpace(string(load)),
		len(s.tcp), transfers, float64(bytes)/(1<<20), maxTook.Round(time.Millisecond), dialsInRestart,
		len(s.udp), udpRate, strings.Join(udpLines, "; "), corrupt, dups, sendErrors,
		len(s.outages), hows, downMax.Round(time.Millisecond), cpMax.Round(time.Millisecond),
		len(s.restarts), maxResume.Round(time.Millisecond), strings.Join(resumes, "\n    "),
		churnEvery, churn.ops, churn.down, configs.ops["real Node changed"],
		len(apiErrs), apiErrs, growth)
}

// logDrops logs every daemon's non-zero drop counters and the end of its
// log, to say where lost packets went.
func (s *soak) logDrops() {
	for i, n := range s.tp.Nodes {
		m := scrapeMetrics(s.t, n)
		in, inBy := m.drops("ingress")
		eg, egBy := m.drops("egress")
		s.t.Logf("podfwd on %s: ingress drops %d %v, egress drops %d %v; its log ends:\n%s",
			n.Namespace, in, inBy, eg, egBy, lastLines(s.ds[i].log.String(), 15))
	}
}
