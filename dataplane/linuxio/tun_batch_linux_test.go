package linuxio

import (
	"net"
	"net/netip"
	"testing"
)

// TestTUNBatchAndAllocs sends datagrams through the TUN from a connected
// socket, reads them back in batches, and writes packets into the TUN for
// a local socket: the TUN's ReadBatch and WriteBatch allocate nothing.
func TestTUNBatchAndAllocs(t *testing.T) {
	ns := newTestNS(t, "tunalloc")
	tun := openTestTUN(t, ns, TUNOptions{Offloads: true, BatchSize: 8})
	var out *net.UDPConn
	var err error
	ns.do(t, func() {
		out, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tunLocal, 0)),
			net.UDPAddrFromAddrPort(netip.AddrPortFrom(tunPeer, 9999)))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sink := plainUDP(t, ns, "10.77.0.1:6000")
	sink.SetReadBuffer(1 << 20)

	payload := pattern(1, 100)
	in := newPackets(8, MaxTUNPacketSize)
	back := newPackets(4, 256)
	for i, p := range back {
		fill(p, ipv4UDP(netip.AddrPortFrom(tunPeer, 7000), netip.AddrPortFrom(tunLocal, 6000), pattern(i, 64)))
	}
	const k = 4
	var batches [8]int
	round := func() {
		for range k {
			if _, err := out.Write(payload); err != nil {
				t.Fatal(err)
			}
		}
		got := 0
		for got < k {
			n, err := tun.ReadBatch(in)
			if err != nil {
				t.Fatal(err)
			}
			batches[n-1]++
			got += n
		}
		if n, err := tun.WriteBatch(back); n != len(back) || err != nil {
			t.Fatalf("WriteBatch = %d, %v", n, err)
		}
	}
	round()
	if batches[k-1] != 1 {
		// The sends return after the kernel queued each packet on the
		// TUN, so one read sees all of them.
		t.Errorf("first round read its %d packets in batches of sizes %v (count per size 1..8)", k, batches)
	}
	for range 5 {
		round()
	}
	if allocs := testing.AllocsPerRun(100, round); allocs != 0 {
		t.Errorf("%.1f allocations per send+ReadBatch+WriteBatch round, want 0", allocs)
	}
	t.Logf("read batch sizes over all rounds (count per size 1..8): %v", batches)
}
