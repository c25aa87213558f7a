package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/trace"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Info describes the node a Server reports on.
type Info struct {
	Node string `json:"node"`
	IO   string `json:"io"`
	// Frames says the engine's underlay carries whole Ethernet frames
	// (xdp io), so traces look past an outer Ethernet header.
	Frames bool `json:"frames,omitempty"`
	// KernelForwards says the kernel carries the pod traffic and podfwd
	// only programs it (encap none, io kernel): the engine sees no packet,
	// so /trace and /simulate answer 501 with that reason instead of a
	// trace that stays silent.
	KernelForwards bool `json:"kernelForwards,omitempty"`
}

// errKernelForwards is the answer to /trace and /simulate when podfwd
// forwards nothing itself.
const errKernelForwards = "this node's pod traffic is forwarded by the kernel (encap none or io kernel): podfwd sees no packets to trace; use tcpdump on the node"

// refuseKernelPath answers 501 when the kernel forwards; it reports
// whether it did.
func (s *Server) refuseKernelPath(w http.ResponseWriter) bool {
	if !s.info.KernelForwards {
		return false
	}
	http.Error(w, errKernelForwards, http.StatusNotImplemented)
	return true
}

// Server serves the admin API and the metrics of one engine. Its handlers
// are safe for concurrent use; at most one trace session runs at a time
// (the engine has one tracer slot).
type Server struct {
	engine  *dataplane.Engine
	log     *slog.Logger
	info    Info
	started time.Time

	// Ready, when set, is an extra readiness check beyond "a config is
	// installed": it returns why the node is not ready, or nil.
	Ready func() error

	mu       sync.Mutex
	tracer   *trace.Tracer // the attached session's tracer, or nil
	finished trace.Stats   // totals of ended sessions
	closed   atomic.Bool
	stopAll  chan struct{}

	registry *prometheus.Registry
}

// NewServer returns a server for engine (which must not be nil); log may
// be nil.
func NewServer(engine *dataplane.Engine, log *slog.Logger, info Info) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{engine: engine, log: log, info: info, started: time.Now(), stopAll: make(chan struct{})}
	s.registry = prometheus.NewRegistry()
	s.registry.MustRegister(newCollector(s), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s
}

// Close ends any trace session (removing its tracer from the engine); the
// handlers then refuse new sessions. The listeners are the caller's.
func (s *Server) Close() {
	if s.closed.CompareAndSwap(false, true) {
		close(s.stopAll)
	}
}

// AdminHandler is the API served on the unix socket: /trace, /simulate,
// /status, /healthz, /readyz.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /trace", s.handleTrace)
	mux.HandleFunc("GET /simulate", s.handleSimulate)
	mux.HandleFunc("GET /status", s.handleStatus)
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	return mux
}

// MetricsHandler is what the metrics listener serves: /metrics in the
// Prometheus text format, /healthz and /readyz.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	return mux
}

// Registry is the Prometheus registry the metrics come from, for tests
// and for callers adding their own collectors.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// handleHealthz says the process is alive and serving.
func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	if s.closed.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// ErrNotReady wraps every reason /readyz gives for not being ready.
var ErrNotReady = errors.New("not ready")

// ReadyErr returns nil when the node forwards: not shutting down, a config
// installed, and the Ready check (if any) passing.
func (s *Server) ReadyErr() error {
	switch {
	case s.closed.Load():
		return fmt.Errorf("%w: shutting down", ErrNotReady)
	case s.engine.Config() == nil:
		return fmt.Errorf("%w: no forwarding config installed", ErrNotReady)
	}
	if s.Ready != nil {
		if err := s.Ready(); err != nil {
			return fmt.Errorf("%w: %w", ErrNotReady, err)
		}
	}
	return nil
}

func (s *Server) handleReadyz(w http.ResponseWriter, _ *http.Request) {
	if err := s.ReadyErr(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// Status is what /status returns.
type Status struct {
	Info
	Ready      bool          `json:"ready"`
	NotReady   string        `json:"notReady,omitempty"`
	Uptime     string        `json:"uptime"`
	Generation uint64        `json:"generation"`
	Encap      string        `json:"encap,omitempty"`
	VNI        uint32        `json:"vni,omitempty"`
	Underlay   string        `json:"underlay,omitempty"`
	Peers      []string      `json:"peers,omitempty"`
	Tracing    bool          `json:"tracing"`
	Counters   StatusCounter `json:"counters"`
}

// StatusCounter is a short summary of the engine's counters.
type StatusCounter struct {
	EgressRx, EgressTx, IngressRx, IngressTx uint64
	Drops                                    map[string]uint64 `json:",omitempty"`
}

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	st := Status{Info: s.info, Uptime: time.Since(s.started).Round(time.Second).String()}
	if err := s.ReadyErr(); err != nil {
		st.NotReady = err.Error()
	} else {
		st.Ready = true
	}
	if cfg := s.engine.Config(); cfg != nil {
		st.Generation, st.Encap, st.VNI, st.Underlay = cfg.Generation, cfg.Encap.String(), cfg.VNI, cfg.LocalUnderlay.String()
		for _, p := range cfg.Peers {
			st.Peers = append(st.Peers, fmt.Sprintf("%s %s %v", p.Name, p.Underlay, p.PodCIDRs))
		}
	}
	_, active := s.traceStats()
	st.Tracing = active > 0
	c := &s.engine.Counters
	st.Counters = StatusCounter{EgressRx: c.Egress.Rx.Packets.Load(), EgressTx: c.Egress.Tx.Packets.Load(),
		IngressRx: c.Ingress.Rx.Packets.Load(), IngressTx: c.Ingress.Tx.Packets.Load(), Drops: map[string]uint64{}}
	for r := 1; r < dataplane.NumReasons; r++ {
		if n := c.Drops(dataplane.Reason(r)); n > 0 {
			st.Counters.Drops[dataplane.Reason(r).String()] = n
		}
	}
	writeJSON(w, &st)
}

func (s *Server) handleSimulate(w http.ResponseWriter, r *http.Request) {
	if s.refuseKernelPath(w) {
		return
	}
	sp, err := trace.ParseSpec(r.URL.Query().Get("packet"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cfg := s.engine.Config()
	dir, pkt, err := trace.Build(cfg, sp)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, trace.ErrNoConfig) {
			code = http.StatusServiceUnavailable
		}
		http.Error(w, err.Error(), code)
		return
	}
	c := trace.NewCollector(trace.LocalFor(cfg))
	s.engine.Simulate(dir, pkt, c)
	rec := c.Result()
	rec.Simulated = true
	writeJSON(w, rec)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
