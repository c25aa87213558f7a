package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/podfwd/podfwd/trace"
)

// traceStats returns the trace totals (ended sessions plus the one
// attached) and how many sessions are attached.
func (s *Server) traceStats() (trace.Stats, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.finished
	if s.tracer == nil {
		return st, 0
	}
	cur := s.tracer.Stats()
	st.Matched += cur.Matched
	st.Skipped += cur.Skipped
	st.EventsDropped += cur.EventsDropped
	return st, 1
}

// attach installs t as the engine's tracer unless a session is running.
func (s *Server) attach(t *trace.Tracer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tracer != nil || s.closed.Load() {
		return false
	}
	s.tracer = t
	s.engine.SetTracer(t)
	return true
}

// detach removes t from the engine and adds its counts to the totals.
func (s *Server) detach(t *trace.Tracer) trace.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.engine.SetTracer(nil)
	s.tracer = nil
	st := t.Stats()
	s.finished.Matched += st.Matched
	s.finished.Skipped += st.Skipped
	s.finished.EventsDropped += st.EventsDropped
	return st
}

// handleTrace streams one JSON Record per traced packet until the client
// goes away or the server closes. Query: filter (tcpdump-like), wire=1 to
// include the packet bytes (for pcap), snaplen, ring.
func (s *Server) handleTrace(w http.ResponseWriter, r *http.Request) {
	if s.refuseKernelPath(w) {
		return
	}
	q := r.URL.Query()
	f, err := trace.ParseFilter(q.Get("filter"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	opts := trace.Options{}
	opts.SnapLen, _ = strconv.Atoi(q.Get("snaplen"))
	opts.RingSize, _ = strconv.Atoi(q.Get("ring"))
	if opts.RingSize == 0 && opts.SnapLen > 16<<10 {
		opts.RingSize = (64 << 20) / opts.SnapLen // big packets: fewer of them
	}
	// The ring's copies are allocated up front: bound them (64 MiB).
	if opts.SnapLen > 65535 || opts.RingSize > 1<<16 || max(opts.SnapLen, 2048)*max(opts.RingSize, 4096) > 64<<20 {
		http.Error(w, "snaplen above 65535, ring above 65536, or ring x snaplen above 64 MiB", http.StatusBadRequest)
		return
	}
	withWire := q.Get("wire") == "1"
	cfg := s.engine.Config()
	hint, local := trace.HintFor(cfg), trace.LocalFor(cfg)
	hint.Frames, local.Frames = s.info.Frames, s.info.Frames
	t := trace.NewTracer(f, hint, opts)
	if !s.attach(t) {
		http.Error(w, "another trace session is attached", http.StatusConflict)
		return
	}
	defer func() {
		st := s.detach(t)
		s.log.Info("trace session ended", "filter", f.String(), "matched", st.Matched, "skipped", st.Skipped, "lostStages", st.EventsDropped)
	}()
	s.log.Info("trace session attached", "filter", f.String())
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush() // the client knows it is attached
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-s.stopAll:
			cancel()
		case <-ctx.Done():
		}
	}()
	enc := json.NewEncoder(w)
	err = t.Run(ctx, local, func(rec *trace.Record) error {
		if !withWire {
			rec.Wire = nil
		}
		if err := enc.Encode(rec); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Debug("trace stream ended", "err", err)
	}
}
