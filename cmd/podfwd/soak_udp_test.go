package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// A UDP flow of the soak: a sender in one pod sends udpRate datagrams a
// second to a receiver in a pod on another node. Each datagram carries its
// flow id and sequence number, random bytes of a random length, and the
// SHA-256 of all that: the receiver finds corruption (a wrong sum),
// duplication (a sequence number seen twice) and, at the end, loss (a
// sequence number never seen). Reordering is allowed.

const (
	udpRate     = 100 // datagrams a second per flow
	udpHead     = 12  // flow id (4) + sequence number (8)
	udpMinSize  = udpHead + sha256.Size
	udpMaxSize  = 1300 // fits the pods' IPv6 MTU (1430) with room to spare
	udpBasePort = 7100
)

type udpFlow struct {
	name string
	id   uint32
	via2 bool // through the node whose daemon the soak restarts
	dst  netip.AddrPort
	tx   *net.UDPConn
	rx   *net.UDPConn

	// sentAt[seq] is when datagram seq left, or -1 if the send failed;
	// the sender's alone until send returns.
	sentAt     []time.Duration
	sendErrors int

	mu       sync.Mutex
	seen     []bool
	received int
	dups     int
	corrupt  int
	example  string // the first corruption, described
}

// newUDPFlow opens the receiver in to (on dst's family) and the sender in
// from; both close at the end of t.
func newUDPFlow(t *testing.T, id uint32, from, to *topo.Pod, v6, via2 bool) *udpFlow {
	t.Helper()
	src, dst, family := from.IPv4, to.IPv4, "v4"
	if v6 {
		src, dst, family = from.IPv6, to.IPv6, "v6"
	}
	f := &udpFlow{name: fmt.Sprintf("udp %s %s -> %s", family, from.Namespace, to.Namespace), id: id, via2: via2,
		dst: netip.AddrPortFrom(dst, udpBasePort+uint16(id))}
	if err := to.Do(func() (err error) {
		f.rx, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(f.dst))
		return err
	}); err != nil {
		t.Fatalf("%s: listen: %v", f.name, err)
	}
	t.Cleanup(func() { f.rx.Close() })
	// A deep buffer: a receiver the loaded machine schedules late must not
	// be what loses datagrams.
	_ = f.rx.SetReadBuffer(4 << 20)
	if err := from.Do(func() (err error) {
		f.tx, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
		return err
	}); err != nil {
		t.Fatalf("%s: sender socket: %v", f.name, err)
	}
	t.Cleanup(func() { f.tx.Close() })
	return f
}

// datagram fills b with datagram seq of flow id and returns its length.
func datagram(b []byte, id uint32, seq uint64) int {
	r := rand.New(rand.NewPCG(uint64(id), seq))
	n := udpMinSize + r.IntN(udpMaxSize-udpMinSize+1)
	binary.BigEndian.PutUint32(b, id)
	binary.BigEndian.PutUint64(b[4:], seq)
	for i := udpHead; i < n-sha256.Size; i++ {
		b[i] = byte(r.Uint32())
	}
	sum := sha256.Sum256(b[:n-sha256.Size])
	copy(b[n-sha256.Size:n], sum[:])
	return n
}

// send sends until stop is closed, udpRate a second.
func (f *udpFlow) send(tl *timeline, stop <-chan struct{}) {
	buf := make([]byte, udpMaxSize)
	tick := time.NewTicker(time.Second / udpRate)
	defer tick.Stop()
	for seq := uint64(0); ; seq++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		n := datagram(buf, f.id, seq)
		at := tl.now()
		if _, err := f.tx.WriteToUDPAddrPort(buf[:n], f.dst); err != nil {
			at = -1
			f.sendErrors++
		}
		f.sentAt = append(f.sentAt, at)
	}
}

// receive checks every datagram until the socket is closed.
func (f *udpFlow) receive() {
	buf := make([]byte, 2048)
	for {
		n, err := f.rx.Read(buf)
		if err != nil {
			return
		}
		f.check(buf[:n])
	}
}

func (f *udpFlow) check(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	bad := func(format string, args ...any) {
		f.corrupt++
		if f.example == "" {
			f.example = fmt.Sprintf(format, args...)
		}
	}
	if len(b) < udpMinSize {
		bad("%d-byte datagram, shorter than any sent", len(b))
		return
	}
	if sum := sha256.Sum256(b[:len(b)-sha256.Size]); [sha256.Size]byte(b[len(b)-sha256.Size:]) != sum {
		bad("%d-byte datagram with a wrong SHA-256 (header %x)", len(b), b[:udpHead])
		return
	}
	id, seq := binary.BigEndian.Uint32(b), binary.BigEndian.Uint64(b[4:])
	if id != f.id || seq > 1<<32 {
		bad("datagram of flow %d seq %d arrived on flow %d", id, seq, f.id)
		return
	}
	for uint64(len(f.seen)) <= seq {
		f.seen = append(f.seen, false)
	}
	if f.seen[seq] {
		f.dups++
		return
	}
	f.seen[seq] = true
	f.received++
}

// count is how many distinct datagrams arrived so far.
func (f *udpFlow) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.received
}

// udpTally counts one kind of window's datagrams.
type udpTally struct{ sent, received, lost int }

// account adds the flow's datagrams to tallies by the window they were
// sent in, and returns a description of each loss the soak does not allow
// (outside a restart window of the node the flow crosses), at most a few.
// Call it after send returned and the receiver drained.
func (f *udpFlow) account(tl *timeline, tallies map[string]*udpTally) (bad []string, lostInRestart []time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	unexpected := 0
	for seq, at := range f.sentAt {
		if at < 0 {
			continue
		}
		kind := tl.kindAt(at, f.via2)
		ty := tallies[kind]
		if ty == nil {
			ty = &udpTally{}
			tallies[kind] = ty
		}
		ty.sent++
		if seq < len(f.seen) && f.seen[seq] {
			ty.received++
			continue
		}
		ty.lost++
		if kind == windowRestart {
			lostInRestart = append(lostInRestart, at)
			continue
		}
		unexpected++
		if unexpected <= 3 {
			bad = append(bad, fmt.Sprintf("%s: datagram %d sent at %v (%s) lost", f.name, seq, at.Round(time.Millisecond), kind))
		}
	}
	if unexpected > 3 {
		bad = append(bad, fmt.Sprintf("%s: %d datagrams lost outside restart windows in all", f.name, unexpected))
	}
	return bad, lostInRestart
}
