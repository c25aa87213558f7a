package topo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
)

// Close kills every process running inside the topology's namespaces
// (commands made with Command that were started, and anything else found
// there, such as their children) and deletes the namespaces, which removes
// every link in them. It is idempotent and safe to call concurrently; later
// calls return the first call's result. Commands' Wait stays the caller's:
// Close does not reap, so a killed command the caller never waits for
// remains a zombie until this process exits. Close reads the tracked
// commands' Process field, so it must not race with their Start.
func (t *Topology) Close() error {
	t.closeOnce.Do(func() { t.closeErr = t.close() })
	return t.closeErr
}

func (t *Topology) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func (t *Topology) close() error {
	t.mu.Lock()
	t.closed = true
	names := slices.Clone(t.namespaces)
	t.mu.Unlock()

	t.killTracked()
	var errs []error
	if err := killIn(names); err != nil {
		errs = append(errs, err)
	}
	// Pods and nodes first, the underlay last: the reverse of creation.
	for i := len(names) - 1; i >= 0; i-- {
		if err := deleteNamespace(names[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// CloseOnSignal closes the topology when SIGINT or SIGTERM arrives, then
// cancels the returned context, so a long-running program (demo, bench)
// sees ctx.Done after the namespaces are gone and can return normally. Only
// the first signal is caught; a second one acts as if never caught (the
// process dies). stop, which the caller must call (defer it), stops
// watching and cancels ctx without closing; so does the end of parent.
func (t *Topology) CloseOnSignal(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		defer cancel()
		defer signal.Stop(sigs)
		select {
		case sig := <-sigs:
			signal.Stop(sigs) // before closing: a second signal must kill
			if err := t.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "topo: on %v: %v\n", sig, err)
			}
		case <-done:
		case <-parent.Done():
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
		})
	}
	return ctx, stop
}
