package linuxio

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
)

// Separate datagrams that share a destination and a length leave as
// UDP_SEGMENT trains; the receiver must see exactly the datagrams, in
// order, that one-by-one sends would have delivered: a shorter one ends a
// train, a longer one or another destination starts a new one.
func TestUDPSeparateDatagramsLeaveAsTrains(t *testing.T) {
	ns := newTestNS(t, "train")
	for _, gso := range []bool{true, false} {
		name := "gso"
		if !gso {
			name = "no-gso"
		}
		t.Run(name, func(t *testing.T) {
			a := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{DisableGSO: !gso})
			if a.Offloads().GSO != gso {
				t.Fatalf("offloads %v, want GSO %v", a.Offloads(), gso)
			}
			r1, r2 := plainUDP(t, ns, "127.0.0.1:0"), plainUDP(t, ns, "127.0.0.1:0")
			to1 := r1.LocalAddr().(*net.UDPAddr).AddrPort()
			to2 := r2.LocalAddr().(*net.UDPAddr).AddrPort()
			type dgram struct {
				to   *net.UDPConn
				size int
			}
			// 5 equal, 1 shorter (ends the train), 3 equal, 1 longer, 2 to
			// the other receiver, 70 equal (past the 64-segment limit), 1 empty-sized to r1.
			var plan []dgram
			add := func(c *net.UDPConn, size, n int) {
				for range n {
					plan = append(plan, dgram{c, size})
				}
			}
			add(r1, 100, 5)
			add(r1, 60, 1)
			add(r1, 100, 3)
			add(r1, 150, 1)
			add(r2, 150, 2)
			add(r1, 80, 70)
			add(r1, 1, 1)
			pkts := make([]*dataplane.Packet, len(plan))
			for i, d := range plan {
				p := newPacket(d.size)
				fill(p, pattern(i, d.size))
				p.Addr = to1
				if d.to == r2 {
					p.Addr = to2
				}
				pkts[i] = p
			}
			sent := 0
			for sent < len(pkts) {
				n, err := a.WriteBatch(pkts[sent:min(sent+a.BatchSize(), len(pkts))])
				if err != nil {
					t.Fatalf("WriteBatch: %v", err)
				}
				sent += n
			}
			buf := make([]byte, 65536)
			for _, rx := range []*net.UDPConn{r1, r2} {
				rx.SetReadDeadline(time.Now().Add(5 * time.Second))
				for i, d := range plan {
					if d.to != rx {
						continue
					}
					n, from, err := rx.ReadFromUDPAddrPort(buf)
					if err != nil {
						t.Fatalf("datagram %d: %v", i, err)
					}
					if !bytes.Equal(buf[:n], pattern(i, d.size)) {
						t.Fatalf("datagram %d: got %d bytes, want %d bytes of pattern %d", i, n, d.size, i)
					}
					if from != a.LocalAddr() {
						t.Errorf("datagram %d from %v, want %v", i, from, a.LocalAddr())
					}
				}
			}
		})
	}
}

// Building trains from separate packets allocates nothing.
func TestUDPTrainWriteAllocs(t *testing.T) {
	ns := newTestNS(t, "trainalloc")
	a := listenUDP(t, ns, "127.0.0.1:0", UDPOptions{})
	rx := plainUDP(t, ns, "127.0.0.1:0")
	rx.SetReadBuffer(4 << 20)
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	pkts := make([]*dataplane.Packet, 32)
	for i := range pkts {
		pkts[i] = newPacket(64)
		fill(pkts[i], pattern(i, 64))
		pkts[i].Addr = to
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, err := rx.Read(buf); err != nil {
				return
			}
		}
	}()
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := a.WriteBatch(pkts); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("WriteBatch of a train allocates %.1f times", allocs)
	}
}
