package dataplane

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/encap"
)

// Simulate runs beside live forwarding, a config change and other
// simulations on the same engine, and still answers as the loops do: run
// with -race, this shows the simulators share nothing mutable with the
// live loops or with each other.
func TestSimulateConcurrentWithForwarding(t *testing.T) {
	e, pod, ul := newTestEngine(t, encap.KindVXLAN)
	cfg := testConfig(encap.KindVXLAN)
	pod.Discard, ul.Discard = true, true
	out := udpPacket(t, localPod, remotePod, 64, true, 100)
	payload := tunnelPayload(t, cfg, cfg.Peers[0], udpPacket(t, remotePod, localPod, 64, true, 100), 42)
	pod.Replay([][]byte{out}, netipPeer())
	ul.Replay([][]byte{payload}, netipPeer())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()

	outer := outer4(t, peerUnderlay, layers.IPProtocolUDP, 4789, payload)
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				eg, in := &eventLog{}, &eventLog{}
				e.Simulate(Egress, out, eg)
				e.Simulate(Ingress, outer, in)
				if got := stageList(eg.evs); got != "receive,parse,route,encap,send" {
					errs <- "egress " + got
				}
				if got := stageList(in.evs); got != "receive,decap,parse,route,send" {
					errs <- "ingress " + got
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // config changes under the simulations
		defer wg.Done()
		for i := 0; i < 20; i++ {
			c := testConfig(encap.KindVXLAN)
			c.Generation = uint64(100 + i)
			if err := e.SetConfig(c); err != nil {
				errs <- err.Error()
			}
		}
	}()
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Error(s)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.Counters.Egress.Tx.Packets.Load() == 0 || e.Counters.Ingress.Tx.Packets.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the live loops forwarded nothing: the simulations ran beside nothing")
		}
		time.Sleep(time.Millisecond)
	}
}
