package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/trace"
)

func testConfig() *dataplane.Config {
	return &dataplane.Config{
		Generation: 5, Encap: encap.KindVXLAN, VNI: 1,
		LocalUnderlay: netip.MustParseAddr("10.99.0.1"), UnderlayMTU: 1500,
		LocalPodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")},
		Peers: []dataplane.Peer{{Name: "node2", Underlay: netip.MustParseAddr("10.99.0.2"),
			PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24")}}},
	}
}

// rig is a running engine over memory ports with an admin server on a
// unix socket in a temporary directory.
type rig struct {
	e      *dataplane.Engine
	pod    *dataplane.MemPort
	ul     *dataplane.MemPort
	srv    *Server
	socket string
	client *Client
}

func newRig(t *testing.T, withConfig bool) *rig {
	t.Helper()
	r := &rig{pod: dataplane.NewMemPort("pod0", 32), ul: dataplane.NewMemPort("ul0", 32)}
	r.ul.Discard = true
	e, err := dataplane.New(dataplane.Options{Pod: r.pod, Underlay: r.ul})
	if err != nil {
		t.Fatal(err)
	}
	if withConfig {
		if err := e.SetConfig(testConfig()); err != nil {
			t.Fatal(err)
		}
	}
	r.e = e
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	r.srv = NewServer(e, nil, Info{Node: "node1", IO: "mem"})
	r.socket = filepath.Join(t.TempDir(), "podfwd.sock")
	l, err := ListenUnix(r.socket)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: r.srv.AdminHandler()}
	go func() { _ = hs.Serve(l) }()
	r.client = NewClient(r.socket)
	t.Cleanup(func() { r.srv.Close(); hs.Close(); cancel(); <-done })
	return r
}

func (r *rig) send(t *testing.T, spec string) {
	t.Helper()
	sp, err := trace.ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	_, pkt, err := trace.Build(testConfig(), sp)
	if err != nil {
		t.Fatal(err)
	}
	r.pod.Inject(pkt, netip.AddrPort{})
}

// A trace session over the socket sees only the packets its filter
// matches, stage by stage; a second session is refused while it runs; the
// tracer is removed when the client goes away.
func TestTraceOverSocket(t *testing.T) {
	r := newRig(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	attached := make(chan struct{})
	recs := make(chan *trace.Record, 16)
	errc := make(chan error, 1)
	go func() {
		errc <- r.client.Trace(ctx, TraceOptions{Filter: "udp and dst port 53", WithWire: true}, func() { close(attached) },
			func(rec *trace.Record) error {
				recs <- rec
				if len(recs) == 2 {
					return io.EOF
				}
				return nil
			})
	}()
	select {
	case <-attached:
	case err := <-errc:
		t.Fatal(err)
	}
	if err := r.client.Trace(ctx, TraceOptions{}, nil, func(*trace.Record) error { return nil }); !errors.Is(err, ErrBusy) {
		t.Errorf("second session: %v, want ErrBusy", err)
	}
	r.send(t, "src 10.244.1.5 dst 10.244.2.7 tcp dport 80") // not matched
	r.send(t, "src 10.244.1.5 dst 10.244.2.7 udp dport 53")
	r.send(t, "src 10.244.1.5 dst 10.250.0.1 udp dport 53")
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	first, second := <-recs, <-recs
	if first.Verdict != "encapsulated to peer node2" || first.Stages[1].DstPort != 53 || len(first.Wire) == 0 {
		t.Errorf("first record:\n%s", first.Text())
	}
	if second.Verdict != "dropped: no-route" {
		t.Errorf("second record:\n%s", second.Text())
	}
	// The session ended with the client: a new one is accepted.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := r.client.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Tracing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("trace session still attached 5s after the client left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSimulateOverSocket(t *testing.T) {
	r := newRig(t, true)
	ctx := context.Background()
	rec, err := r.client.Simulate(ctx, "src 10.244.1.5 dst 10.244.2.7 tcp dport 80")
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Simulated || rec.Verdict != "encapsulated to peer node2, sent on ul0" {
		t.Errorf("simulated:\n%s", rec.Text())
	}
	rec, err = r.client.Simulate(ctx, "src 10.244.1.5 dst 192.0.2.1")
	if err != nil || rec.Verdict != "dropped: no-route" {
		t.Errorf("no-route simulation: %v\n%v", err, rec)
	}
	if _, err := r.client.Simulate(ctx, "src nonsense"); !errors.Is(err, ErrBadRequest) {
		t.Errorf("bad spec: %v, want ErrBadRequest", err)
	}
	if n := r.ul.WrittenCount; n != 0 {
		t.Errorf("simulation sent %d packets", n)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

func metric(t *testing.T, text, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no series %s in the scrape", series)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Metrics are scraped from the counters, and move with traffic.
func TestMetricsMove(t *testing.T) {
	r := newRig(t, true)
	hs := httptest.NewServer(r.srv.MetricsHandler())
	defer hs.Close()
	before := scrape(t, hs.URL+"/metrics")
	if g := metric(t, before, "podfwd_config_generation"); g != 5 {
		t.Errorf("generation %v, want 5", g)
	}
	if p := metric(t, before, "podfwd_peers"); p != 1 {
		t.Errorf("peers %v, want 1", p)
	}
	rx := `podfwd_packets_total{direction="rx",port="pod"}`
	tx := `podfwd_packets_total{direction="tx",port="underlay"}`
	noRoute := `podfwd_drops_total{path="egress",reason="no-route"}`
	encapped := `podfwd_tunnel_packets_total{encap="vxlan",op="encap"}`
	for i := 0; i < 3; i++ {
		r.send(t, "src 10.244.1.5 dst 10.244.2.7 udp dport 9")
	}
	r.send(t, "src 10.244.1.5 dst 10.250.0.1 udp dport 9")
	// Wait for every series, not just rx: tx and the encap count move
	// after rx, on the forwarding goroutine.
	var after string
	testenv.WaitFor(t, 5*time.Second, "the four packets counted in every series", func() error {
		after = scrape(t, hs.URL+"/metrics")
		var wrong []string
		for series, want := range map[string]float64{rx: 4, tx: 3, noRoute: 1, encapped: 3} {
			if got := metric(t, after, series) - metric(t, before, series); got != want {
				wrong = append(wrong, fmt.Sprintf("%s moved by %v, want %v", series, got, want))
			}
		}
		if len(wrong) > 0 {
			return errors.New(strings.Join(wrong, "; "))
		}
		return nil
	})
	if !strings.Contains(after, `reason="bad-vni"`) || !strings.Contains(after, "go_goroutines") {
		t.Error("every drop reason and the Go runtime should be exported")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	get := func(h http.Handler, path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code
	}
	unconfigured := newRig(t, false)
	h := unconfigured.srv.MetricsHandler()
	if get(h, "/healthz") != 200 || get(h, "/readyz") != 503 {
		t.Error("without a config: want healthz 200, readyz 503")
	}
	r := newRig(t, true)
	h = r.srv.MetricsHandler()
	if get(h, "/readyz") != 200 {
		t.Error("with a config: want readyz 200")
	}
	r.srv.Ready = func() error { return errors.New("tun podfwd0 is down") }
	if get(h, "/readyz") != 503 {
		t.Error("failing Ready check: want readyz 503")
	}
	r.srv.Close()
	if get(h, "/healthz") != 503 || get(h, "/readyz") != 503 {
		t.Error("closed server: want 503s")
	}
}

// A second daemon cannot steal a live socket; a stale one is replaced.
func TestListenUnixInUse(t *testing.T) {
	r := newRig(t, true)
	if _, err := ListenUnix(r.socket); !errors.Is(err, ErrSocketInUse) {
		t.Fatalf("second listener: %v, want ErrSocketInUse", err)
	}
	stale := filepath.Join(t.TempDir(), "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	l2, err := ListenUnix(stale)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l2.Close()
}

// Where the kernel forwards (encap none, io kernel) a trace would stay
// silent forever: /trace and /simulate say why instead; health, readiness
// and status still answer.
func TestKernelForwardingRefusesTraces(t *testing.T) {
	e, err := dataplane.New(dataplane.Options{Pod: dataplane.NewMemPort("none", 1), Underlay: dataplane.NewMemPort("none", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetConfig(testConfig()); err != nil {
		t.Fatal(err)
	}
	srv := NewServer(e, nil, Info{Node: "n1", IO: "kernel", KernelForwards: true})
	defer srv.Close()
	for path, want := range map[string]int{
		"/trace": http.StatusNotImplemented,
		"/simulate?packet=src+10.244.1.2+dst+10.244.2.2+udp+dport+53": http.StatusNotImplemented,
		"/status": http.StatusOK,
		"/readyz": http.StatusOK,
	} {
		rec := httptest.NewRecorder()
		srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("%s: %d %q, want %d", path, rec.Code, rec.Body.String(), want)
		}
		if want == http.StatusNotImplemented && !strings.Contains(rec.Body.String(), "forwarded by the kernel") {
			t.Errorf("%s: %q does not say why", path, rec.Body.String())
		}
	}
}
