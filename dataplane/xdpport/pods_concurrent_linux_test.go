package xdpport

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
)

// The reader, the writer and the control side (routes replaced, a socket
// removed) run at once, as the engine's two loops and the daemon's pod
// watcher do; run with -race. Nothing may panic or race, and the set must
// close cleanly afterwards.
func TestConcurrentPodSetReaderWriterControl(t *testing.T) {
	ps, pods, routes := newPodSetOver(t, 2)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var read, written atomic.Uint64

	wg.Add(1)
	go func() { // reader
		defer wg.Done()
		pkts := newPackets(16)
		for {
			n, err := ps.ReadBatch(pkts)
			if err != nil {
				return
			}
			read.Add(uint64(n))
		}
	}()
	wg.Add(1)
	go func() { // writer
		defer wg.Done()
		var batch []*dataplane.Packet
		for _, p := range pods {
			batch = append(batch, toPod(t, p, 9, []byte("to the pod")))
		}
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, _ := ps.WriteBatch(batch)
			written.Add(uint64(n))
			time.Sleep(100 * time.Microsecond)
		}
	}()
	senders := make([]func(), len(pods))
	for i, p := range pods {
		c := p.udpOn(t, true, uint16(41000+i))
		dst := netip.AddrPortFrom(p.AddrB, 4789)
		senders[i] = func() { _, _ = c.WriteToUDPAddrPort([]byte("from the pod"), dst) }
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		for _, send := range senders {
			send()
		}
		switch i % 50 {
		case 10:
			_ = ps.SetRoutes(routes[:1])
		case 20:
			_ = ps.SetRoutes(routes)
		}
		if i == 200 {
			ps.RemoveSocket(podKey(1))
		}
		time.Sleep(200 * time.Microsecond)
	}
	close(stop)
	time.Sleep(20 * time.Millisecond)
	if err := ps.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if read.Load() == 0 || written.Load() == 0 {
		t.Fatalf("read %d, written %d: the test exercised nothing", read.Load(), written.Load())
	}
	t.Logf("read %d, written %d, undelivered %d", read.Load(), written.Load(), ps.Undelivered())
}
