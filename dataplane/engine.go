package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
)

// UnderlayKind says what an underlay port carries.
type UnderlayKind uint8

const (
	// UnderlayUDP: the port is a UDP socket; packets are tunnel payloads
	// (VXLAN/Geneve header onwards) and the kernel builds outer IP and UDP.
	UnderlayUDP UnderlayKind = iota
	// UnderlayIP: the port is a raw IP socket for IPIP; received packets
	// start at the outer IP header, sent packets are the inner IP packet and
	// the kernel builds the outer IP header.
	UnderlayIP
	// UnderlayFrame: the port carries whole Ethernet frames (AF_XDP):
	// received packets start at the outer Ethernet header, and the engine
	// writes complete frames — outer Ethernet, IP, UDP and tunnel headers
	// prepended into the packet's headroom — one per packet (no UDP GSO:
	// super-packets are split into one frame per segment).
	UnderlayFrame
)

// Options configure an Engine. Pod is the pod-side port (a TUN device);
// Underlay carries the tunnel. For IPIP, Underlay carries IPv4 inner
// packets (IP protocol 4) and Underlay6, when set, IPv6 inner packets
// (protocol 41).
type Options struct {
	Pod          Port
	Underlay     Port
	Underlay6    Port
	UnderlayKind UnderlayKind

	// Local, when set, carries the packets the engine originates toward
	// the pod side (ICMP errors), so that the egress loop never writes to
	// Pod while the ingress loop does. When nil those packets go to Pod,
	// which must then accept WriteBatch from two goroutines at once.
	Local Port

	// BufSize is the size of each packet buffer including Headroom. It must
	// hold the largest packet a port can return: 64 KiB + headroom when the
	// TUN hands out GSO super-packets or the UDP socket coalesces with GRO.
	BufSize int

	// PodOffloads says the pod port carries virtio-net headers (a TUN with
	// IFF_VNET_HDR): the engine then coalesces received TCP segments into
	// super-packets (GRO) and marks verified checksums DATA_VALID.
	PodOffloads bool

	// PodUDPOffloads says the pod port also takes UDP_L4 GSO packets (a
	// TUN with TUN_F_USO4 and TUN_F_USO6): the engine then coalesces
	// received UDP datagrams of one flow too, one write per run.
	PodUDPOffloads bool

	// Logger receives port errors (rate-limited); nil means slog.Default().
	Logger *slog.Logger

	// PodDirect, when set, reaches some local pods without the kernel
	// (AF_XDP sockets on their host-side veths): the engine reads a second
	// egress stream from it, and delivers a decapsulated packet through it
	// when it Reaches the packet's destination; everything else still goes
	// through Pod. Local must be set with it, because the egress loops
	// would otherwise both write ICMP errors to Pod.
	PodDirect DirectPort

	// UDPGSO sends each GSO super-packet's segments as one UDP GSO
	// datagram train (the port must support Packet.Segments). When false
	// every segment is sent as its own packet.
	UDPGSO bool

	// TunnelGSO, when set, takes the pod side's GSO super-packets whole:
	// each leaves as one frame (outer Ethernet to the port's MAC, outer
	// IPv4 and UDP, tunnel header, the inner super-packet as the pod's
	// kernel built it) described by a UDP-tunnel GSO header, and the
	// kernel segments it where a device needs that, as for its own VXLAN
	// device. Used with UnderlayUDP (VXLAN, Geneve) and an IPv4 underlay;
	// a super-packet it cannot take is split as without it.
	TunnelGSO TunnelGSOPort

	// Reassembly, with UnderlayFrame, are sockets of kind ReassemblyKind
	// (UDP on the tunnel port, or raw IPIP) that receive what the frame
	// port's XDP program leaves to the kernel: tunnel packets that were
	// fragmented on the way, which the kernel reassembles. Without them
	// such packets find no socket and are lost, uncounted by us. They are
	// only read, never written.
	Reassembly     []Port
	ReassemblyKind UnderlayKind

	// Poll, when set and the ports allow it (see Engine.pollable), makes
	// Run serve the pod and underlay ports from one OS thread that spins
	// briefly before it sleeps, instead of one goroutine per direction
	// woken by the netpoller: a round trip then costs no scheduler
	// hand-offs. Run closes it with the ports.
	Poll Poller
}

// TunnelGSOPort takes whole encapsulated frames with a UDP-tunnel GSO
// virtio-net header (Packet.GSO with its tunnel offsets); see
// Options.TunnelGSO. WriteBatch follows Port's contract.
type TunnelGSOPort interface {
	Name() string
	// MAC is the Ethernet address frames are sent to.
	MAC() [6]byte
	WriteBatch(pkts []*Packet) (n int, err error)
	Close() error
}

// DirectPort is a pod-side port that reaches only some local pods. It reads
// and writes bare IP packets, as the TUN does, without virtio-net headers
// (no GSO or GRO: one packet per frame).
type DirectPort interface {
	Port
	// Reaches reports whether WriteBatch can deliver a packet for the pod
	// address dst. It is called by the writer for every packet it may
	// deliver and must not allocate or block.
	Reaches(dst netip.Addr) bool
}

// Engine forwards packets between the pod side and the underlay using the
// installed Config. Its configuration can be replaced at any time with
// SetConfig; readers never lock.
type Engine struct {
	opts   Options
	errLog errorLog
	// podWriteMu serializes the pod ports' writers when two ingress loops
	// run (IPIP with Underlay6): a Port takes one writer at a time, and a
	// TUN's write state is per port. Unused (never locked) otherwise.
	podWriteMu     sync.Mutex
	podWriteShared bool
	// underlayWriteMu does the same for the underlay ports when two egress
	// loops run (the TUN's and the direct pod port's).
	underlayWriteMu     sync.Mutex
	underlayWriteShared bool
	// tunnelGSOOff is set when the TunnelGSO port refused a frame: from
	// then on super-packets are split (logged once).
	tunnelGSOOff atomic.Bool
	// split6 says IPIP packets with an IPv6 inner leave through Underlay6
	// (see underlay6); fixed at New.
	split6 bool
	// sims holds idle simulators for Simulate (shadow loops over
	// stand-in ports).
	sims     sync.Pool
	fib      atomic.Pointer[fib]
	tracer   atomic.Pointer[tracerBox]
	Counters Counters
}

// ErrNoPorts is returned by New when a required port is missing.
var ErrNoPorts = errors.New("dataplane: engine needs a pod port and an underlay port")

// New returns an engine over the given ports. It forwards nothing until a
// Config is installed.
func New(opts Options) (*Engine, error) {
	if opts.Pod == nil || opts.Underlay == nil {
		return nil, ErrNoPorts
	}
	if opts.PodDirect != nil && opts.Local == nil {
		return nil, errors.New("dataplane: a direct pod port needs a Local port for the ICMP errors of its egress loop")
	}
	if opts.BufSize == 0 {
		opts.BufSize = Headroom + 65536 + 512
	}
	if opts.BufSize < Headroom+1500 {
		return nil, fmt.Errorf("dataplane: BufSize %d is below headroom %d + 1500", opts.BufSize, Headroom)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if len(opts.Reassembly) > 0 && (opts.UnderlayKind != UnderlayFrame || opts.ReassemblyKind == UnderlayFrame) {
		return nil, errors.New("dataplane: reassembly sockets serve a frame underlay and must be sockets")
	}
	e := &Engine{opts: opts, podWriteShared: opts.Underlay6 != nil || len(opts.Reassembly) > 0, underlayWriteShared: opts.PodDirect != nil,
		split6: opts.UnderlayKind == UnderlayIP && opts.Underlay6 != nil}
	e.errLog.log = opts.Logger
	return e, nil
}

// SetConfig validates cfg, compiles it and installs it atomically: packets
// in flight finish with the old config, the next batch sees the new one.
func (e *Engine) SetConfig(cfg *Config) error {
	f, err := compile(cfg)
	if err != nil {
		return err
	}
	e.fib.Store(f)
	return nil
}

// TunnelGSOActive reports whether egress super-packets leave whole
// through Options.TunnelGSO (false without one, or after it refused).
func (e *Engine) TunnelGSOActive() bool {
	return e.opts.TunnelGSO != nil && !e.tunnelGSOOff.Load()
}

// Config returns the installed config, or nil.
func (e *Engine) Config() *Config {
	if f := e.fib.Load(); f != nil {
		return f.cfg
	}
	return nil
}

// Run forwards in both directions until ctx ends or a port fails, then
// closes the ports (which unblocks their readers) and returns once every
// loop has stopped.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4+len(e.opts.Reassembly))
	start := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errs <- err
				cancel()
			}
		}()
	}
	pod, uls, polled := e.pollable()
	if polled {
		// One thread writes every pod-side port: nothing to serialize.
		e.podWriteShared = false
		start(func(ctx context.Context) error { return e.runPolled(ctx, pod, uls) })
	} else {
		start(newEgressLoop(e, e.opts.Pod).run)
		start(newIngressLoop(e, e.opts.Underlay).run)
		if e.opts.Underlay6 != nil {
			start(newIngressLoop(e, e.opts.Underlay6).run)
		}
		for _, p := range e.opts.Reassembly {
			start(newIngressLoop(e, p).run)
		}
	}
	if e.opts.PodDirect != nil {
		start(newEgressLoop(e, e.opts.PodDirect).run)
	}
	<-ctx.Done()
	if polled {
		// The polling thread never blocks in a port read, so it must stop
		// before the ports close under it.
		e.opts.Poll.Wake()
		wg.Wait()
	}
	e.opts.Pod.Close()
	if e.opts.PodDirect != nil {
		e.opts.PodDirect.Close()
	}
	e.opts.Underlay.Close()
	if e.opts.Underlay6 != nil {
		e.opts.Underlay6.Close()
	}
	for _, p := range e.opts.Reassembly {
		p.Close()
	}
	wg.Wait()
	// Written only by the loops, never read: closed once they are gone.
	if e.opts.TunnelGSO != nil {
		e.opts.TunnelGSO.Close()
	}
	if e.opts.Poll != nil {
		e.opts.Poll.Close()
	}
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// write hands pkts to port, holding mu while it writes when shared (two
// loops write that port: see Engine.podWriteMu), and returns how many the
// port took, clamped to the batch: a port's count is never trusted to
// index with.
func write(port Port, pkts []*Packet, mu *sync.Mutex, shared bool) (int, error) {
	if shared {
		mu.Lock()
	}
	n, err := port.WriteBatch(pkts)
	if shared {
		mu.Unlock()
	}
	return min(max(n, 0), len(pkts)), err
}

// newBatch takes n packets of size bufSize from a pool of exactly n, so a
// loop's buffers are made once at start and reused for every batch.
func newBatch(n, bufSize int) []*Packet {
	pool := NewPool(n, bufSize)
	pkts := make([]*Packet, n)
	for i := range pkts {
		pkts[i] = pool.Get()
	}
	return pkts
}
