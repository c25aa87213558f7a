package topo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
)

// BenchmarkNewClose measures building and removing a 2×2 dual-stack
// topology: the fixed cost every e2e test and bench run pays.
func BenchmarkNewClose(b *testing.B) {
	testenv.RequireRoot(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		topo, err := New(ctx, Config{Prefix: fmt.Sprintf("%sb%d", testenv.RunPrefix(), i), IPv6: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := topo.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKernelReference measures the kernel's own answer, pod to pod
// across nodes, with one iperf3 TCP stream per iteration (2 s each); run
// with -benchtime 1x. It reports Gbit/s; ns/op is meaningless here.
func BenchmarkKernelReference(b *testing.B) {
	testenv.RequireRoot(b)
	testenv.RequireTools(b, "iperf3")
	for _, mode := range []Mode{KernelNative, KernelVXLAN} {
		b.Run(mode.String(), func(b *testing.B) {
			topo := NewT(b, Config{Prefix: testenv.RunPrefix() + "r", PodsPerNode: 1, Mode: mode})
			a, c := topo.Nodes[0].Pods[0], topo.Nodes[1].Pods[0]
			var sum float64
			for b.Loop() {
				sum += iperfGbps(b, a, c, c.IPv4)
			}
			b.ReportMetric(sum/float64(b.N), "Gbit/s")
		})
	}
}

// iperfGbps runs one iperf3 server in to's pod and a 2 s client in from.
func iperfGbps(b *testing.B, from, to *Pod, addr netip.Addr) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := to.Command(ctx, "iperf3", "-s", "-1", "-B", addr.String())
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	// Retry until the server listens; bounded by ctx.
	for {
		// iperf3 3.12 exits 0 even when it could not connect; its JSON
		// "error" field tells.
		out, err := from.Command(ctx, "iperf3", "-c", addr.String(), "-t", "2", "-J").Output()
		var r struct {
			Error string `json:"error"`
			End   struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if err == nil {
			err = json.Unmarshal(out, &r)
		}
		if err == nil && r.Error == "" {
			return r.End.SumReceived.BitsPerSecond / 1e9
		}
		if ctx.Err() != nil {
			b.Fatalf("iperf3 client: %v %s\n%s", err, r.Error, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
