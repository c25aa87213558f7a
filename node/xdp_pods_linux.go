package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/xdpport"
	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/xdp"
)

// Pod-side AF_XDP sockets, sized for a node with many pods: 2 KiB frames,
// 1024 of them on the fill ring, because a pod's TCP sends its window in
// one burst faster than the reader wakes (measured by hand, one 3 s iperf3
// stream between two xdp.pods nodes: with 256, 33k of ~270k segments were
// dropped as "fill ring empty"; with 1024, 442 of ~290k), and 256 for
// delivering to the pod: 2.5 MiB of UMEM per pod veth. A frame keeps 256
// bytes of headroom for the kernel and the encapsulation, so a pod's MTU
// may be at most podMaxMTU.
const (
	podFrameSize   = 2048
	podFillFrames  = 1024
	podTXFrames    = 256
	podFrames      = podFillFrames + podTXFrames
	podMaxMTU      = podFrameSize - xdpKernelHeadroom - encap.EthernetLen
	podMaxSockets  = 4096
	podScanEvery   = 500 * time.Millisecond
	podRetryFailed = 30 * time.Second
)

// podDirect serves the local pods it finds through AF_XDP sockets on their
// host-side veths (xdp.pods): a watcher adds a socket and the pod program
// to each pod veth that appears, removes them when the veth goes, and
// keeps the program's destination set (the tunnelled peers' pod CIDRs)
// and the set's routes current.
type podDirect struct {
	log    *slog.Logger
	set    *xdpport.PodSet
	prog   *xdp.PodRedirect
	attach xdp.AttachOptions

	// Owned by the watcher goroutine (and by close after it stopped).
	served map[int]*servedVeth
	failed map[string]time.Time
	dests  []netip.Prefix
	stop   context.CancelFunc
	done   chan struct{} // closed when the watcher ended; nil before start
}

type servedVeth struct {
	podVeth
	sock *xdp.Socket
	att  *xdp.Attachment
}

// openPodDirect loads the pod program and makes the empty set the engine
// reads; nothing is attached until watch finds pods.
func openPodDirect(log *slog.Logger, file *config.File) (*podDirect, error) {
	set, err := xdpport.NewPodSet("xdp:pods", 0)
	if err != nil {
		return nil, err
	}
	prog, err := xdp.NewPodRedirect(podMaxSockets)
	if err != nil {
		set.Close()
		return nil, fmt.Errorf("pod XDP program: %w", err)
	}
	d := &podDirect{log: log, set: set, prog: prog,
		served: map[int]*servedVeth{}, failed: map[string]time.Time{}}
	if file.XDP.Mode == config.XDPModeGeneric {
		d.attach.GenericOnly = true
	}
	return d, nil
}

// port returns the set as the engine's direct port; nil (no direct port,
// not an interface holding a nil set) when d is nil.
func (d *podDirect) port() dataplane.DirectPort {
	if d == nil {
		return nil
	}
	return d.set
}

// collector exports the set's state as metrics.
func (d *podDirect) collector() *podsCollector { return newPodsCollector(d.set) }

// start runs the watcher until ctx ends or close: it rescans every
// podScanEvery. engine gives the config in force (its peers are the
// tunnelled ones: hybrid's natively routed peers stay with the kernel).
func (d *podDirect) start(ctx context.Context, engine *dataplane.Engine) {
	ctx, d.stop = context.WithCancel(ctx)
	d.done = make(chan struct{})
	go d.watch(ctx, engine)
}

func (d *podDirect) watch(ctx context.Context, engine *dataplane.Engine) {
	defer close(d.done)
	t := time.NewTicker(podScanEvery)
	defer t.Stop()
	for {
		if err := d.sync(engine.Config()); err != nil {
			d.log.Warn("direct pods", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sync brings sockets, routes and destinations in line with the node.
func (d *podDirect) sync(cfg *dataplane.Config) error {
	if cfg == nil {
		return nil
	}
	var dests []netip.Prefix
	for _, p := range cfg.Peers {
		dests = append(dests, p.PodCIDRs...)
	}
	if !slices.Equal(dests, d.dests) {
		if err := d.prog.SetDestinations(dests); err != nil {
			return fmt.Errorf("pod program destinations: %w", err)
		}
		d.dests = dests
	}
	scan, err := discoverPods(cfg.LocalPodCIDRs)
	if err != nil {
		return err
	}
	for idx, v := range d.served {
		if name, ok := scan.alive[idx]; !ok || name != v.name {
			d.drop(v, "veth gone")
		}
	}
	for idx, v := range scan.veths {
		if _, ok := d.served[idx]; !ok {
			d.serve(v)
		}
	}
	var routes []xdpport.PodRoute
	for _, r := range scan.routes {
		if _, ok := d.served[r.Ifindex]; ok {
			routes = append(routes, r)
		}
	}
	return d.set.SetRoutes(routes)
}

// serve puts a socket and the program on v; a veth that cannot be served
// is logged and retried after podRetryFailed, its pods keep the TUN path.
func (d *podDirect) serve(v podVeth) {
	if at, ok := d.failed[v.name]; ok && time.Since(at) < podRetryFailed {
		return
	}
	if err := d.open(v); err != nil {
		d.failed[v.name] = time.Now()
		d.log.Warn("pod veth stays on the kernel path", "veth", v.name, "err", err)
		return
	}
	delete(d.failed, v.name)
}

func (d *podDirect) open(v podVeth) (err error) {
	if v.mtu > podMaxMTU {
		return fmt.Errorf("MTU %d above %d (AF_XDP frame %d bytes)", v.mtu, podMaxMTU, podFrameSize)
	}
	sv := &servedVeth{podVeth: v}
	defer func() {
		if err != nil {
			sv.close(d.prog)
		}
	}()
	if sv.sock, err = xdp.Open(v.ifindex, 0, xdp.SocketConfig{
		FrameSize: podFrameSize, NumFrames: podFrames,
		FillSize: podFillFrames, RxSize: podFillFrames, TxSize: podTXFrames, CompletionSize: podTXFrames,
	}); err != nil {
		return err
	}
	if err = d.prog.Register(sv.sock); err != nil {
		return err
	}
	if sv.att, err = d.prog.Attach(v.ifindex, d.attach); err != nil {
		return err
	}
	if err = d.set.AddSocket(v.ifindex, v.name, sv.sock); err != nil {
		return err
	}
	d.served[v.ifindex] = sv
	d.log.Info("pod veth served by AF_XDP", "veth", v.name, "attach", sv.att.Mode().String(), "zeroCopy", sv.sock.ZeroCopy())
	return nil
}

// drop stops serving v: the program leaves first, so the kernel path
// takes over before the socket goes.
func (d *podDirect) drop(v *servedVeth, why string) {
	if v.att != nil {
		_ = v.att.Close()
		v.att = nil
	}
	_ = d.prog.Unregister(v.sock)
	d.set.RemoveSocket(v.ifindex) // the set closes the socket when unused
	delete(d.served, v.ifindex)
	d.log.Info("pod veth no longer served", "veth", v.name, "why", why)
}

// close stops the watcher, detaches the program from every veth and
// closes the set (the engine, when it ran, closed it already).
func (d *podDirect) close() error {
	if d.done != nil {
		d.stop()
		<-d.done
	}
	var errs []error
	for _, v := range d.served {
		if v.att != nil {
			if err := v.att.Close(); err != nil {
				errs = append(errs, fmt.Errorf("detach from %s: %w", v.name, err))
			}
		}
	}
	d.served = nil
	errs = append(errs, d.prog.Close(), d.set.Close())
	return errors.Join(errs...)
}

// close undoes a partly done open.
func (sv *servedVeth) close(prog *xdp.PodRedirect) {
	if sv.att != nil {
		_ = sv.att.Close()
	}
	if sv.sock != nil {
		_ = prog.Unregister(sv.sock)
		_ = sv.sock.Close()
	}
}
