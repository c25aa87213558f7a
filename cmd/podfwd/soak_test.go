package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/kubetest"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// soakEnv names the soak's length (a Go duration); `make soak` sets it.
const soakEnv = "PODFWD_SOAK"

// soakDefault is the length without soakEnv: the short run inside `make
// test` that keeps the soak from rotting. It still goes through a whole
// cycle of disturbances.
const soakDefault = 15 * time.Second

// TestSoak runs three `podfwd run` daemons (tun io, VXLAN, Kubernetes
// source against a real apiserver) for PODFWD_SOAK with checked TCP and
// UDP traffic between pods of every node pair, IPv4 and IPv6, while Nodes
// churn, real Nodes change, the apiserver goes away and comes back, and
// node 2's daemon is SIGKILLed and started again with another config.
// docs/soak.md says what fails it.
func TestSoak(t *testing.T) {
	testenv.RequireRoot(t)
	dur := soakDuration(t)
	prefix := testenv.RunPrefix() + "sk"
	// Registered first, so it runs last: after the daemons, the
	// namespaces, the apiserver and the temporary directory are gone.
	var tmp string
	t.Cleanup(func() { checkNoLeftovers(t, prefix, tmp) })
	tmp = filepath.Dir(t.TempDir())

	c := kubetest.Start(t)
	// The churn alone writes 10 times a second, over client-go's default
	// limit of 5.
	admin := fastClient(t, c, 100)
	s := &soak{t: t, c: c, admin: admin, dur: dur, prefix: prefix, sock: relayToAPIServer(t, c.Config.Host)}
	s.tp = topo.NewT(t, topo.Config{Prefix: prefix, Nodes: 3, IPv6: true})
	s.startCluster()
	s.startTraffic()
	s.run()
	s.finish()
}

func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv(soakEnv)
	if v == "" {
		return soakDefault
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration such as 10m", soakEnv, v)
	}
	return d
}

// soak is one run's state. Its methods run on the test's goroutine; the
// traffic and the API writers run on their own and hand back their
// results when stopped.
type soak struct {
	t      *testing.T
	c      *kubetest.Cluster
	admin  kubernetes.Interface
	dur    time.Duration
	prefix string
	sock   string
	tp     *topo.Topology
	ds     []*daemon // ds[1], node 2's, is the one restarted
	tl     *timeline

	udp []*udpFlow
	tcp []*tcpFlow

	stopTraffic, stopKube chan struct{}
	traffic, receivers    sync.WaitGroup
	kubeDone              chan [2]*kubeWrites
	stopOnce              sync.Once

	// What the disturbances did.
	restarts   []restartRecord
	outages    []outageRecord
	warm, last [2]daemonUsage // nodes 1 and 3, after the warm-up and at the end
	warmAt     time.Duration
	kube       [2]*kubeWrites // the churn's and the config changes'
}

// startCluster creates the three real Nodes, starts a daemon on each and
// waits until every daemon routes every peer's pod CIDRs.
func (s *soak) startCluster() {
	t := s.t
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, n := range s.tp.Nodes {
		if _, err := s.admin.CoreV1().Nodes().Create(ctx, dualStackNode(n), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range s.tp.Nodes {
		s.ds = append(s.ds, startDaemon(t, n, s.nodeConfig(n)))
	}
	s.waitRealRoutes(30 * time.Second)
}

// waitRealRoutes waits until every daemon owns exactly the routes to the
// other real nodes' pod CIDRs, both families: no peer missing, no fake one
// left.
func (s *soak) waitRealRoutes(within time.Duration) {
	for _, n := range s.tp.Nodes {
		var want []string
		for _, peer := range s.tp.Nodes {
			if peer != n {
				want = append(want, peer.PodCIDRv4.String(), peer.PodCIDRv6.String())
			}
		}
		slices.Sort(want)
		testenv.WaitFor(s.t, within, "the routes of "+n.Namespace, func() error {
			if got := ownedPrefixes(s.t, n); !slices.Equal(got, want) {
				return fmt.Errorf("podfwd routes to %v, want %v", got, want)
			}
			return nil
		})
	}
}

// ownedPrefixes lists the destinations of podfwd's routes in n, both
// families, sorted.
func ownedPrefixes(t *testing.T, n *topo.Node) []string {
	var dsts []string
	for _, family := range []string{"-4", "-6"} {
		out, err := n.Command(context.Background(), "ip", family, "route", "show", "proto", "157").CombinedOutput()
		if err != nil {
			t.Fatalf("ip route in %s: %v: %s", n.Namespace, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				dsts = append(dsts, f[0])
			}
		}
	}
	slices.Sort(dsts)
	return dsts
}

// startTraffic opens the flows and starts them, with the Node churn and
// the config changes. A cleanup stops them all should the test end early.
func (s *soak) startTraffic() {
	t := s.t
	nodes := s.tp.Nodes
	id := uint32(0)
	for a, from := range nodes {
		for b, to := range nodes {
			if a == b {
				continue
			}
			via2 := a == 1 || b == 1
			s.udp = append(s.udp, newUDPFlow(t, id, from.Pods[0], to.Pods[1], false, via2),
				newUDPFlow(t, id+1, from.Pods[1], to.Pods[0], true, via2))
			id += 2
		}
	}
	for i, p := range []struct {
		from, to int
		v6       bool
	}{{0, 1, false}, {1, 2, true}, {2, 0, false}, {0, 2, true}} {
		s.tcp = append(s.tcp, newTCPFlow(t, uint32(i), nodes[p.from].Pods[i%2], nodes[p.to].Pods[1-i%2], p.v6, p.from == 1 || p.to == 1))
	}

	s.tl = newTimeline()
	s.stopTraffic, s.stopKube = make(chan struct{}), make(chan struct{})
	s.kubeDone = make(chan [2]*kubeWrites, 1)
	for _, f := range s.udp {
		s.receivers.Add(1)
		go func() { defer s.receivers.Done(); f.receive() }()
		s.traffic.Add(1)
		go func() { defer s.traffic.Done(); f.send(s.tl, s.stopTraffic) }()
	}
	for _, f := range s.tcp {
		s.traffic.Add(1)
		go func() { defer s.traffic.Done(); f.run(s.tl, s.stopTraffic) }()
	}
	go func() {
		var w [2]*kubeWrites
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); w[0] = churn(s.admin, s.prefix, s.tl, s.stopKube) }()
		go func() { defer wg.Done(); w[1] = changeConfigs(s.admin, s.tp.Nodes, s.configEvery(), s.tl, s.stopKube) }()
		wg.Wait()
		s.kubeDone <- w
	}()
	t.Cleanup(s.stop)
}

// stop ends the traffic and the API writers (once) and waits for them.
func (s *soak) stop() {
	s.stopOnce.Do(func() {
		close(s.stopKube)
		close(s.stopTraffic)
		s.traffic.Wait()
	})
}

// configEvery is how often a real Node changes.
func (s *soak) configEvery() time.Duration {
	if s.dur < 2*time.Minute {
		return time.Second
	}
	return 3 * time.Second
}

// finish stops everything, checks what the soak promises and logs the
// summary.
func (s *soak) finish() {
	t := s.t
	s.last = [2]daemonUsage{sampleUsage(t, s.ds[0]), sampleUsage(t, s.ds[2])}
	s.stopOnce.Do(func() {
		close(s.stopKube)
		kw := <-s.kubeDone
		close(s.stopTraffic)
		s.traffic.Wait()
		s.kube = kw
	})
	s.drainUDP()
	for _, f := range s.udp {
		f.rx.Close()
	}
	s.receivers.Wait()
	if err := deleteFakeNodes(s.admin, s.prefix); err != nil {
		t.Errorf("deleting the fake Nodes: %v", err)
	}
	s.waitRealRoutes(30 * time.Second)
	for _, d := range s.ds {
		select {
		case <-d.done:
			t.Errorf("podfwd on %s exited during the soak (%v):\n%s", d.node.Namespace, d.err, lastLines(d.log.String(), 30))
		default:
		}
	}
	for _, n := range s.tp.Nodes {
		checkConservation(t, n)
	}
	s.judge()
}

// drainUDP waits until no datagram has arrived for 300 ms (at most 5 s):
// what is still in flight is not lost.
func (s *soak) drainUDP() {
	total := func() (n int) {
		for _, f := range s.udp {
			n += f.count()
		}
		return n
	}
	prev, deadline := -1, time.Now().Add(5*time.Second)
	for n := total(); n != prev && time.Now().Before(deadline); n = total() {
		prev = n
		time.Sleep(300 * time.Millisecond)
	}
}
