package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// iperfResult is the part of `iperf3 -J` output we read.
type iperfResult struct {
	End struct {
		SumSent struct {
			BitsPerSecond float64 `json:"bits_per_second"`
			Retransmits   int     `json:"retransmits"`
		} `json:"sum_sent"`
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
	Error string `json:"error"`
}

// iperfTCP runs an iperf3 server in pod `to` and one TCP stream from pod
// `from` for d, returning the receiver's rate in Gbit/s and the sender's
// retransmits.
func iperfTCP(ctx context.Context, from, to *topo.Pod, d time.Duration) (float64, int, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	srv := to.Command(ctx, "iperf3", "-s", "-1", "--forceflush", "-B", to.IPv4.String())
	srvOut := &lockedBuffer{}
	srv.Stdout, srv.Stderr = srvOut, srvOut
	if err := srv.Start(); err != nil {
		return 0, 0, fmt.Errorf("iperf3 server: %w", err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	for start := time.Now(); !strings.Contains(srvOut.String(), "listening"); {
		if time.Since(start) > 10*time.Second {
			return 0, 0, fmt.Errorf("iperf3 server in %s not listening after 10s: %s", to.Namespace, srvOut)
		}
		time.Sleep(20 * time.Millisecond)
	}
	secs := strconv.Itoa(max(1, int(d/time.Second)))
	var out []byte
	var err error
	for try := 0; try < 20; try++ { // the server needs a moment to listen
		out, err = from.Command(ctx, "iperf3", "-c", to.IPv4.String(), "-t", secs, "-J").Output()
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var r iperfResult
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		return 0, 0, fmt.Errorf("iperf3 client: %v (%v): %s", err, jerr, out)
	}
	if r.Error != "" {
		return 0, 0, fmt.Errorf("iperf3: %s (server: %s)", r.Error, srvOut)
	}
	return r.End.SumReceived.BitsPerSecond / 1e9, r.End.SumSent.Retransmits, nil
}
