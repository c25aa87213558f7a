package main

import (
	"context"
	"strings"
	"syscall"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The soak's disturbances, in a cycle until the soak's time is up: quiet,
// node 2's daemon SIGKILLed and started with the next config variant,
// quiet, the apiserver stopped and started again (the slow one last, so
// that even the short run does both). The Node churn and
// the config changes of the real Nodes run all along.

// restartVariant is a config node 2's daemon is started again with (a
// config file is only read at start): edit turns the soak's config into it.
type restartVariant struct {
	name string
	edit func(cfg string) string
}

var restartVariants = []restartVariant{
	{"tunnelGSO off", appendConfig("offloads:\n  tunnelGSO: false\n")},
	// AF_XDP on the underlay beside tun io peers; the next restart
	// goes back to tun io over the interface this one left.
	{"io xdp", func(cfg string) string { return strings.Replace(cfg, "io: tun\n", "io: xdp\n", 1) }},
	{"poll.spin off", appendConfig("poll:\n  spin: \"off\"\n")},
	{"defaults", appendConfig("")},
}

func appendConfig(extra string) func(string) string {
	return func(cfg string) string { return cfg + extra }
}

// restartRecord is one SIGKILL and restart of node 2's daemon.
type restartRecord struct {
	variant string
	window  int           // index in the timeline
	took    time.Duration // SIGKILL -> the new daemon up
}

// outageRecord is one apiserver stop and start.
type outageRecord struct {
	how    string        // the signal that stopped it
	down   time.Duration // stop -> ready again
	resume time.Duration // ready -> a new Node's route on every daemon
}

// Probe Node: created after each outage to time the control plane's
// return; its address is held by no one.
const (
	probeCIDR = "10.251.0.0/24"
	probeIP   = "10.99.0.250"
	// controlPlaneBound is how long after an outage a Node change may take
	// to reach every daemon: client-go's reflector, which the daemon uses
	// with its defaults, backs off its retries to an interval in [30 s,
	// 60 s) while outages come less than 2 minutes apart (21.6 s seen in
	// a loaded 3-minute run).
	controlPlaneBound = 75 * time.Second
)

// gap is the quiet time between disturbances.
func (s *soak) gap() time.Duration {
	if s.dur < 2*time.Minute {
		return 2 * time.Second
	}
	return 5 * time.Second
}

// outageHold is how long the apiserver stays stopped.
func (s *soak) outageHold() time.Duration {
	if s.dur < 2*time.Minute {
		return 2 * time.Second
	}
	return 5 * time.Second
}

// run disturbs until the soak's time is up (a short soak: one cycle, then
// traffic until its time is up). The resource sample the end
// is compared with is taken after a whole cycle when at least a quarter of
// the soak remains, else (short runs) before the first disturbance.
func (s *soak) run() {
	until := time.Now().Add(s.dur)
	if !pause(s.gap(), until) {
		return
	}
	s.sampleWarm()
	for cycle := 1; time.Now().Before(until); cycle++ {
		s.restartNode2()
		if !pause(s.gap(), until) {
			return
		}
		s.apiserverOutage()
		if !pause(s.gap(), until) {
			return
		}
		if s.dur < 2*time.Minute {
			// The short run: one cycle, so that `make test` stays short.
			pause(time.Until(until), until)
			return
		}
		if cycle == 1 && time.Until(until) > s.dur/4 {
			s.sampleWarm()
		}
	}
}

// pause sleeps d, or until until if that comes first, and reports whether
// time remains.
func pause(d time.Duration, until time.Time) bool {
	time.Sleep(min(d, time.Until(until)))
	return time.Now().Before(until)
}

func (s *soak) sampleWarm() {
	s.warm = [2]daemonUsage{sampleUsage(s.t, s.ds[0]), sampleUsage(s.t, s.ds[2])}
	s.warmAt = s.tl.now()
}

// apiserverOutage kills or stops the apiserver, starts it again, and
// times how long a new Node then takes to reach every daemon.
func (s *soak) apiserverOutage() {
	t := s.t
	// Crashes and orderly stops take turns, a crash first: an orderly
	// stop drains the watches for up to 10 s, which the short run has no
	// time for.
	rec := outageRecord{how: "SIGKILL"}
	stop := s.c.Kill
	if len(s.outages)%2 == 1 {
		rec.how, stop = "SIGTERM", s.c.Stop
	}
	w := s.tl.open(windowAPIDown, rec.how)
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(s.outageHold())
	if err := s.c.Restart(); err != nil {
		t.Fatal(err)
	}
	s.tl.close(w)
	rec.down = time.Since(start)
	ready := time.Now()

	ctx, cancel := context.WithTimeout(context.Background(), controlPlaneBound)
	defer cancel()
	probe := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: s.prefix + "-probe", Labels: map[string]string{soakLabel: "probe"}},
		Spec:       corev1.NodeSpec{PodCIDR: probeCIDR, PodCIDRs: []string{probeCIDR}},
		Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: probeIP}}},
	}
	if _, err := s.admin.CoreV1().Nodes().Create(ctx, probe, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the probe Node after the apiserver came back: %v", err)
	}
	for _, n := range s.tp.Nodes {
		waitRoute(t, n, probeCIDR, true, controlPlaneBound-time.Since(ready))
	}
	rec.resume = time.Since(ready)
	if err := s.admin.CoreV1().Nodes().Delete(ctx, probe.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the probe Node: %v", err)
	}
	for _, n := range s.tp.Nodes {
		waitRoute(t, n, probeCIDR, false, controlPlaneBound)
	}
	s.outages = append(s.outages, rec)
}

// restartNode2 SIGKILLs node 2's daemon and starts it again with the next
// config variant; traffic through node 2 may be lost meanwhile.
func (s *soak) restartNode2() {
	t := s.t
	d := s.ds[1]
	select {
	case <-d.done:
		t.Fatalf("podfwd on %s exited by itself (%v):\n%s", d.node.Namespace, d.err, lastLines(d.log.String(), 30))
	default:
	}
	v := restartVariants[len(s.restarts)%len(restartVariants)]
	w := s.tl.open(windowRestart, v.name)
	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.done
	s.ds[1] = startDaemon(t, d.node, v.edit(s.nodeConfig(d.node)))
	s.tl.close(w)
	s.restarts = append(s.restarts, restartRecord{variant: v.name, window: w, took: time.Since(start)})
}

func (s *soak) nodeConfig(n *topo.Node) string {
	return kubeNodeConfig(n, "vxlan", s.c.Kubeconfig, s.sock)
}
