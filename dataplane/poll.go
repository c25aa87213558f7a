package dataplane

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// TryReader is a Port whose reads can be tried without waiting:
// TryReadBatch returns 0 and no error when nothing is queued.
type TryReader interface {
	TryReadBatch(pkts []*Packet) (n int, err error)
}

// Poller lets one OS thread serve both directions (Options.Poll): it waits
// until the pod or the underlay port may have packets, and says how long
// the thread may keep trying the ports before it waits.
type Poller interface {
	// Wait blocks until a port may be readable or Wake was called.
	Wait() error
	// Wake makes a Wait in progress, or the next one, return.
	Wake()
	// Spin is how long to keep trying the ports after the last packet
	// before waiting; 0 never spins.
	Spin() time.Duration
	// Yield gives the CPU to any other runnable thread while spinning.
	Yield()
	Close() error
}

// pollable reports whether Run can serve the engine's ports from one
// thread: a poller, and pod and underlay ports (IPIP's second included)
// that are all TryReaders. The direct pod port keeps its goroutines.
func (e *Engine) pollable() (pod TryReader, uls []TryReader, ok bool) {
	if e.opts.Poll == nil || e.opts.PodDirect != nil {
		return nil, nil, false
	}
	pod, ok = e.opts.Pod.(TryReader)
	if !ok {
		return nil, nil, false
	}
	for _, p := range append([]Port{e.opts.Underlay, e.opts.Underlay6}, e.opts.Reassembly...) {
		if p == nil {
			continue
		}
		r, ok := p.(TryReader)
		if !ok {
			return nil, nil, false
		}
		uls = append(uls, r)
	}
	return pod, uls, true
}

// runPolled forwards both directions on this goroutine, locked to its OS
// thread, until ctx ends. A packet that arrives while the thread is busy
// or spinning is picked up with no scheduler wake-up at all; only after
// Spin without traffic does the thread sleep in the poller, and then one
// kernel wake-up (not a netpoller hand-off to a goroutine) resumes it.
// Two directions share one thread, so the engine never spins on two cores.
func (e *Engine) runPolled(ctx context.Context, pod TryReader, uls []TryReader) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	poll := e.opts.Poll
	stop := context.AfterFunc(ctx, poll.Wake)
	defer stop()
	eg := newEgressLoop(e, e.opts.Pod)
	ins := []*ingressLoop{newIngressLoop(e, e.opts.Underlay)}
	if e.opts.Underlay6 != nil {
		ins = append(ins, newIngressLoop(e, e.opts.Underlay6))
	}
	for _, p := range e.opts.Reassembly {
		ins = append(ins, newIngressLoop(e, p))
	}
	// Buffers are reset once here and then only those a read filled: an
	// empty try while spinning touches none of them.
	resetAll(eg.batch)
	for _, in := range ins {
		resetAll(in.batch)
	}
	// The reassembly sockets (io xdp) carry only fragmented tunnel
	// packets, and trying one is a system call where trying the AF_XDP
	// rings is a memory read: they are tried every slowEvery-th round, and
	// when a wake-up from the poller (which watches them too) found the
	// other ports empty — not on every round, nor on every wake-up.
	fast := len(ins) - len(e.opts.Reassembly)
	woke := false
	var round uint32
	tryIngress := func(from, to int) (int, error) {
		m := 0
		for i := from; i < to; i++ {
			in := ins[i]
			k, err := uls[i].TryReadBatch(in.batch)
			if err != nil {
				e.Counters.Ingress.Rx.Errors.Add(1)
				return m, fmt.Errorf("dataplane: read %s: %w", in.port.Name(), err)
			}
			if k > 0 {
				in.forward(in.batch[:k])
				resetAll(in.batch[:k])
			}
			m += k
		}
		return m, nil
	}
	last := time.Now()
	for ctx.Err() == nil {
		n, err := pod.TryReadBatch(eg.batch)
		if err != nil {
			e.Counters.Egress.Rx.Errors.Add(1)
			return fmt.Errorf("dataplane: read %s: %w", e.opts.Pod.Name(), err)
		}
		if n > 0 {
			eg.forward(eg.batch[:n])
			resetAll(eg.batch[:n])
		}
		m, err := tryIngress(0, fast)
		if err != nil {
			return err
		}
		round++
		if fast < len(ins) && (woke && n+m == 0 || round%slowEvery == 0) {
			k, err := tryIngress(fast, len(ins))
			if err != nil {
				return err
			}
			m += k
		}
		woke = false
		if n+m > 0 {
			last = time.Time{}
			continue
		}
		now := time.Now()
		if last.IsZero() {
			last = now
		}
		if now.Sub(last) < poll.Spin() {
			poll.Yield()
			continue
		}
		if err := poll.Wait(); err != nil {
			return fmt.Errorf("dataplane: poll: %w", err)
		}
		last, woke = time.Time{}, true
	}
	return nil
}

// slowEvery is how often (in rounds) the polling thread tries the
// reassembly sockets while it has not waited.
const slowEvery = 64

func resetAll(batch []*Packet) {
	for _, p := range batch {
		p.Reset(Headroom)
	}
}
