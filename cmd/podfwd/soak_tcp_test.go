package main

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
	"golang.org/x/sys/unix"
)

// A TCP flow of the soak: transfer after transfer from a pod to a server
// in a pod on another node. Each transfer starts with its number and size;
// the server hashes exactly that many bytes and answers with that header
// and their SHA-256, which the sender compares with what it sent. A
// transfer that fails, stalls past tcpTransferTimeout or comes back with
// another sum fails the soak. Only connecting may fail, and only while
// the daemon of a node the flow crosses restarts.

const (
	tcpBasePort        = 6100
	tcpMinSize         = 64 << 10
	tcpMaxSize         = 2 << 20
	tcpTransferTimeout = 30 * time.Second
	// tcpPacing caps each sender (SO_MAX_PACING_RATE, bytes a second), so
	// that TCP never fills the queues the UDP flows share: a UDP datagram
	// lost to a full queue would be the test's own doing.
	tcpPacing = 4 << 20
	tcpPause  = 100 * time.Millisecond
)

type tcpFlow struct {
	name string
	id   uint32
	via2 bool
	from *topo.Pod
	dst  netip.AddrPort
	ln   net.Listener

	// The sender's alone until run returns.
	transfers  int
	bytes      int64
	maxTook    time.Duration
	failures   []string
	dialFailed []dialError

	served sync.WaitGroup

	mu        sync.Mutex
	serverLog []string // what the server saw go wrong, the first few
	serverErr int
}

// serverError records what the server saw go wrong. It fails nothing by
// itself (a connect the sender gave up on may end so): it explains the
// sender's failures.
func (f *tcpFlow) serverError(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.serverErr++
	if len(f.serverLog) < 5 {
		f.serverLog = append(f.serverLog, fmt.Sprintf(format, args...))
	}
}

// newTCPFlow listens in to (on the family v6 says) and returns the flow;
// the listener and every served connection end with t.
func newTCPFlow(t *testing.T, id uint32, from, to *topo.Pod, v6, via2 bool) *tcpFlow {
	t.Helper()
	dst, family := to.IPv4, "v4"
	if v6 {
		dst, family = to.IPv6, "v6"
	}
	f := &tcpFlow{name: fmt.Sprintf("tcp %s %s -> %s", family, from.Namespace, to.Namespace), id: id, via2: via2,
		from: from, dst: netip.AddrPortFrom(dst, tcpBasePort+uint16(id))}
	if err := to.Do(func() (err error) {
		f.ln, err = net.Listen("tcp", f.dst.String())
		return err
	}); err != nil {
		t.Fatalf("%s: listen: %v", f.name, err)
	}
	t.Cleanup(func() { f.ln.Close(); f.served.Wait() })
	go f.serve()
	return f
}

// serve answers every connection with the SHA-256 of the bytes its header
// announced.
func (f *tcpFlow) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.served.Add(1)
		go func() {
			defer f.served.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(tcpTransferTimeout))
			var head [16]byte
			if _, err := io.ReadFull(c, head[:]); err != nil {
				if err != io.EOF {
					f.serverError("reading a header from %v: %v", c.RemoteAddr(), err)
				}
				return // else a connect the sender gave up on
			}
			n, size := binary.BigEndian.Uint64(head[:]), int64(binary.BigEndian.Uint64(head[8:]))
			if size < tcpMinSize || size > tcpMaxSize {
				f.serverError("transfer %d from %v announces %d bytes, out of range: a corrupted header", n, c.RemoteAddr(), size)
				return
			}
			h := sha256.New()
			if got, err := io.CopyN(h, c, size); err != nil {
				f.serverError("transfer %d from %v: %v after %d of %d bytes", n, c.RemoteAddr(), err, got, size)
				return // the sender sees no sum and reports it
			}
			// The header comes back with the sum: the sender checks both.
			_, _ = c.Write(h.Sum(head[:]))
		}()
	}
}

// run makes transfers until stop is closed.
func (f *tcpFlow) run(tl *timeline, stop <-chan struct{}) {
	r := rand.New(rand.NewPCG(uint64(f.id), 0x50a4))
	for n := uint64(0); ; n++ {
		select {
		case <-stop:
			return
		case <-time.After(tcpPause):
		}
		size := tcpMinSize + r.Int64N(tcpMaxSize-tcpMinSize+1)
		start := time.Now()
		err := f.transfer(tl, n, size)
		var dial *dialError
		switch {
		case errors.As(err, &dial):
			f.dialFailed = append(f.dialFailed, *dial)
		case err != nil:
			f.failures = append(f.failures, fmt.Sprintf("%s: transfer %d (%d bytes) at %v: %v", f.name, n, size, tl.now().Round(time.Millisecond), err))
		default:
			f.transfers++
			f.bytes += size
			f.maxTook = max(f.maxTook, time.Since(start))
		}
	}
}

// dialError is a transfer that never connected: it tried from from to to.
type dialError struct {
	from, to time.Duration
	err      error
}

func (e *dialError) Error() string {
	return fmt.Sprintf("connect from %v to %v: %v", e.from.Round(time.Millisecond), e.to.Round(time.Millisecond), e.err)
}

// transfer sends transfer n of size pseudo-random bytes and checks the
// server's sum.
func (f *tcpFlow) transfer(tl *timeline, n uint64, size int64) error {
	var c net.Conn
	at := tl.now()
	d := net.Dialer{Timeout: 3 * time.Second, Control: pace}
	if err := f.from.Do(func() (err error) {
		c, err = d.Dial("tcp", f.dst.String())
		return err
	}); err != nil {
		return &dialError{from: at, to: tl.now(), err: err}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(tcpTransferTimeout))
	var head [16]byte
	binary.BigEndian.PutUint64(head[:], n)
	binary.BigEndian.PutUint64(head[8:], uint64(size))
	if _, err := c.Write(head[:]); err != nil {
		return err
	}
	var seed [32]byte
	binary.BigEndian.PutUint32(seed[:], f.id)
	binary.BigEndian.PutUint64(seed[4:], n)
	h := sha256.New()
	if sent, err := io.Copy(io.MultiWriter(c, h), io.LimitReader(rand.NewChaCha8(seed), size)); err != nil {
		return fmt.Errorf("sending: %w after %d bytes", err, sent)
	}
	var answer [16 + sha256.Size]byte
	if _, err := io.ReadFull(c, answer[:]); err != nil {
		return fmt.Errorf("no SHA-256 from the receiver: %w", err)
	}
	if want := h.Sum(head[:]); [len(answer)]byte(want) != answer {
		return fmt.Errorf("corrupted: the receiver answers header and SHA-256 %x, sent %x", answer, want)
	}
	return nil
}

// pace caps the socket's sending rate at tcpPacing.
func pace(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MAX_PACING_RATE, tcpPacing)
	}); err != nil {
		return err
	}
	return serr
}
