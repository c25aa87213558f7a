package kube

import (
	"context"
	"sync"
	"time"

	"k8s.io/client-go/tools/cache"
)

// SyncState is what the control plane knows about its link to the API
// server, for metrics and status: whether the Node cache is synced, when
// the last config was produced, and the last watch error.
type SyncState struct {
	Synced        bool
	LastConfig    time.Time // zero until the first config
	WatchErrors   uint64
	LastError     string
	LastErrorTime time.Time
}

// syncTracker records a Source's SyncState; safe for concurrent use.
type syncTracker struct {
	mu    sync.Mutex
	state SyncState
}

func (t *syncTracker) get() SyncState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

func (t *syncTracker) configSent(now time.Time) {
	t.mu.Lock()
	t.state.LastConfig = now
	t.mu.Unlock()
}

// watchError records a dropped list/watch, then lets client-go do what it
// always does (log it; the reflector backs off and retries).
func (t *syncTracker) watchError(ctx context.Context, r *cache.Reflector, err error) {
	t.mu.Lock()
	t.state.WatchErrors++
	t.state.LastError = err.Error()
	t.state.LastErrorTime = time.Now()
	t.mu.Unlock()
	cache.DefaultWatchErrorHandler(ctx, r, err)
}

// State returns the source's link state: synced is the informer's own
// HasSynced, which stays true through an outage (the cache is kept and
// forwarding continues on it); the watch error counters show the outage.
func (s *Source) State() SyncState {
	st := s.sync.get()
	st.Synced = s.informer.HasSynced()
	return st
}
