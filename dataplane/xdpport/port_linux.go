package xdpport

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/podfwd/podfwd/xdp"
)

// DefaultBatchSize is how many packets one ReadBatch returns at most when
// Options.BatchSize is 0.
const DefaultBatchSize = 64

// ErrNotDriverMode is wrapped by Open when Options.RequireDriver is set and
// the XDP program could only be attached in generic (SKB) mode.
var ErrNotDriverMode = errors.New("xdpport: XDP program not attached in driver (native) mode")

// ErrStillInUse is returned by Close when a reader or writer did not leave
// the port within closeWait; the socket is then left open (the process's
// exit frees it) rather than unmapped under a running goroutine.
var ErrStillInUse = errors.New("xdpport: reader or writer still inside the port")

// closeWait bounds how long Close waits for calls in progress to return.
const closeWait = 5 * time.Second

// Options configure Open. The zero value of each field means its default.
type Options struct {
	// Name is the port's name in logs and counters (default "xdp").
	Name string
	// BatchSize bounds one ReadBatch and one TX chunk (default 64); it is
	// capped at half the fill ring.
	BatchSize int
	// Socket sizes the UMEM and rings and selects zero-copy or copy.
	Socket xdp.SocketConfig
	// Redirect says which packets the XDP program hands to the socket:
	// tunnel traffic to the node's addresses; the rest passes to the kernel.
	Redirect xdp.RedirectConfig
	// Attach tunes the program's attachment (generic only, replacing a
	// foreign program).
	Attach xdp.AttachOptions
	// RequireDriver makes Open fail with ErrNotDriverMode instead of
	// running with the program in generic mode.
	RequireDriver bool
}

// Frame states in Port.lent: whether the reader has lent a frame to the
// caller and whether the writer has since taken it to send in place.
const (
	frameIdle uint32 = iota
	frameLent
	frameSent
)

// Port is an AF_XDP socket on one queue of the underlay interface together
// with the XDP program that feeds it, as a dataplane.Port carrying whole
// Ethernet frames (dataplane.UnderlayFrame). ReadBatch and WriteBatch may
// run on one goroutine each at the same time; Close may run concurrently
// with both.
type Port struct {
	name  string
	batch int
	sock  *xdp.Socket
	redir *xdp.Redirect
	att   *xdp.Attachment
	// ownsProgram says Close detaches att and closes redir: true for Open;
	// a Group's members share the Group's, which the Group closes.
	ownsProgram bool

	// received and sent count frames read and queued, for per-queue
	// statistics; each is written by one side, once per batch.
	received atomic.Uint64
	sent     atomic.Uint64

	// The UMEM as addresses, to recognise a packet that already lives in
	// one of its frames; lent holds one frame state per frame.
	frameSize uint64
	umemBase  uintptr
	umemLen   uintptr
	lent      []atomic.Uint32

	// Reader side: the RX descriptors of the batch lent out, scratch for
	// those to release.
	rx      []xdp.Desc
	held    []xdp.Desc
	release []xdp.Desc

	// Writer side: descriptors of one TX chunk.
	tx []xdp.Desc

	// closed refuses new calls; calls counts calls in progress; holding
	// says the reader lent out a batch it has not given back yet.
	closed  atomic.Bool
	calls   atomic.Int32
	holding atomic.Bool
	closeMu sync.Mutex
	freed   bool
}

// Open opens an AF_XDP socket on queue of the interface ifindex (in the
// network namespace of the calling thread), loads the redirect program,
// registers the socket in its XSKMAP and attaches the program (driver mode,
// else generic). On error nothing stays attached or open. OpenQueues does
// the same for several queues at once.
func Open(ifindex, queue int, opts Options) (_ *Port, err error) {
	p, err := openSocket(ifindex, queue, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.closeAll()
		}
	}()
	p.ownsProgram = true
	if p.redir, err = xdp.NewRedirect(opts.Redirect, queue+1); err != nil {
		return nil, err
	}
	if err = p.redir.Register(p.sock); err != nil {
		return nil, err
	}
	if p.att, err = attach(p.redir, ifindex, opts); err != nil {
		return nil, err
	}
	return p, nil
}

// attach attaches the program of redir to ifindex and enforces
// Options.RequireDriver; on error nothing stays attached.
func attach(redir *xdp.Redirect, ifindex int, opts Options) (*xdp.Attachment, error) {
	att, err := redir.Attach(ifindex, opts.Attach)
	if err != nil {
		return nil, err
	}
	if opts.RequireDriver && att.Mode() != xdp.AttachDriver {
		mode := att.Mode()
		_ = att.Close()
		return nil, fmt.Errorf("%w: ifindex %d runs it in %s mode", ErrNotDriverMode, ifindex, mode)
	}
	return att, nil
}

// openSocket opens the socket of one queue with its UMEM and sizes the
// port's batches, without any program: the caller registers and attaches.
func openSocket(ifindex, queue int, opts Options) (_ *Port, err error) {
	if opts.Name == "" {
		opts.Name = "xdp"
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	p := &Port{name: opts.Name, batch: opts.BatchSize}
	if p.sock, err = xdp.Open(ifindex, queue, opts.Socket); err != nil {
		return nil, err
	}
	if err = p.mapUMEM(); err != nil {
		_ = p.sock.Close()
		return nil, err
	}
	// A lent batch keeps its frames off the fill ring until the next
	// ReadBatch; capped at half the ring, it can never starve the kernel.
	if fill := p.sock.Frames().Fill; p.batch > fill/2 {
		p.batch = max(1, fill/2)
	}
	p.rx = make([]xdp.Desc, p.batch)
	p.held = make([]xdp.Desc, 0, p.batch)
	p.release = make([]xdp.Desc, 0, p.batch)
	p.tx = make([]xdp.Desc, 0, p.batch)
	return p, nil
}

// mapUMEM records where the UMEM lies in memory: frame 0's address and the
// frame count (the four FrameCounts always add up to it).
func (p *Port) mapUMEM() error {
	frame0, _ := p.sock.WholeFrame(xdp.Desc{Addr: 0, Len: 1})
	if len(frame0) == 0 {
		return errors.New("xdpport: UMEM has no frame 0")
	}
	c := p.sock.Frames()
	frames := c.Free + c.Fill + c.TX + c.Held
	p.frameSize = uint64(p.sock.FrameSize())
	p.umemBase = uintptr(unsafe.Pointer(unsafe.SliceData(frame0)))
	p.umemLen = uintptr(frames) * uintptr(p.frameSize)
	if last, _ := p.sock.WholeFrame(xdp.Desc{Addr: uint64(frames-1) * p.frameSize, Len: 1}); len(last) == 0 {
		return fmt.Errorf("xdpport: UMEM frame count %d does not match the socket", frames)
	}
	p.lent = make([]atomic.Uint32, frames)
	return nil
}

// Name returns the name given in Options.
func (p *Port) Name() string { return p.name }

// BatchSize returns the most packets one ReadBatch returns.
func (p *Port) BatchSize() int { return p.batch }

// AttachMode reports where the XDP program runs (driver or generic).
func (p *Port) AttachMode() xdp.AttachMode { return p.att.Mode() }

// ReplacedProgram names a stale program of an earlier run that Open
// detached from the interface, or "".
func (p *Port) ReplacedProgram() string { return p.att.Replaced() }

// ZeroCopy reports whether the socket is bound in zero-copy mode.
func (p *Port) ZeroCopy() bool { return p.sock.ZeroCopy() }

// Queue returns the receive queue the socket is bound to.
func (p *Port) Queue() int { return p.sock.Queue() }

// Stats reads the socket's kernel counters (XDP_STATISTICS). It must not
// race with Close.
func (p *Port) Stats() (xdp.Stats, error) { return p.sock.Stats() }

// Received returns how many frames ReadBatch (or a Group's) has lent out
// from this socket, for per-queue statistics. Safe anytime.
func (p *Port) Received() uint64 { return p.received.Load() }

// Sent returns how many frames WriteBatch has queued on this socket's TX
// ring. Safe anytime.
func (p *Port) Sent() uint64 { return p.sent.Load() }

// Frames returns where the UMEM's frames are; exact only while neither
// ReadBatch nor WriteBatch runs (tests use it to prove that none leaked).
func (p *Port) Frames() xdp.FrameCounts { return p.sock.Frames() }

// isFreed reports whether Close has unmapped the socket.
func (p *Port) isFreed() bool {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	return p.freed
}

// Close detaches the XDP program (tunnel traffic passes to the kernel
// again), makes ReadBatch and WriteBatch return dataplane.ErrPortClosed,
// wakes a blocked reader and waits for calls in progress to return. It
// then unmaps the UMEM, unless the reader still holds a batch it was lent:
// that batch stays valid until the reader's next ReadBatch, which frees
// the socket, or until Free. Close is idempotent.
func (p *Port) Close() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.freed {
		return nil
	}
	var errs []error
	if !p.closed.Swap(true) {
		errs = append(errs, p.sock.Wake())
		if p.ownsProgram {
			errs = append(errs, p.att.Close())
		}
		if p.redir != nil {
			errs = append(errs, p.redir.Unregister(p.sock.Queue()))
		}
		if p.ownsProgram {
			errs = append(errs, p.redir.Close())
		}
	}
	if err := waitIdle(&p.calls, p.sock.Wake); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if !p.holding.Load() {
		p.freed = true
		errs = append(errs, p.sock.Close())
	}
	return errors.Join(errs...)
}

// Free closes the port and unmaps the UMEM even if the reader stopped
// while it held a batch (an engine whose context ended reads no more). The
// caller promises that nobody touches that batch any longer.
func (p *Port) Free() error {
	err := p.Close()
	p.holding.Store(false)
	return errors.Join(err, p.Close())
}

// waitIdle waits, bounded by closeWait, until calls (the calls in
// progress) drops to 0, calling wake in between so that a reader blocked
// in a poll comes out.
func waitIdle(calls *atomic.Int32, wake func() error) error {
	deadline := time.Now().Add(closeWait)
	for calls.Load() != 0 {
		if time.Now().After(deadline) {
			return ErrStillInUse
		}
		_ = wake()
		time.Sleep(time.Millisecond)
	}
	return nil
}

// closeAll undoes a partly done Open.
func (p *Port) closeAll() {
	if p.att != nil && p.ownsProgram {
		_ = p.att.Close()
	}
	if p.redir != nil && p.ownsProgram {
		_ = p.redir.Close()
	}
	if p.sock != nil {
		_ = p.sock.Close()
	}
}
