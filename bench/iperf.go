package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// ErrIperf is wrapped by every iperf3 failure.
var ErrIperf = errors.New("iperf3 failed")

// iperfReport is the part of `iperf3 -J` output we read (iperf 3.12 and
// later: UDP runs carry sum_received too).
type iperfReport struct {
	End struct {
		SumSent struct {
			Bytes         float64 `json:"bytes"`
			BitsPerSecond float64 `json:"bits_per_second"`
			Retransmits   int     `json:"retransmits"`
			Packets       int64   `json:"packets"`
		} `json:"sum_sent"`
		SumReceived struct {
			Seconds       float64 `json:"seconds"`
			Bytes         float64 `json:"bytes"`
			BitsPerSecond float64 `json:"bits_per_second"`
			Packets       int64   `json:"packets"`
			LostPackets   int64   `json:"lost_packets"`
		} `json:"sum_received"`
	} `json:"end"`
	Error string `json:"error"`
}

// iperfOut is what one iperf3 run measured.
type iperfOut struct {
	gbps        float64 // receiver's rate
	bytes       float64 // received
	retransmits int     // TCP, sender side
	pps         float64 // UDP, datagrams received per second
	loss        float64 // UDP, lost fraction
}

// parseIperf reads `iperf3 -J` output.
func parseIperf(out []byte) (iperfOut, error) {
	var r iperfReport
	if err := json.Unmarshal(out, &r); err != nil {
		return iperfOut{}, fmt.Errorf("%w: output is not iperf3 JSON: %w", ErrIperf, err)
	}
	if r.Error != "" {
		return iperfOut{}, fmt.Errorf("%w: %s", ErrIperf, r.Error)
	}
	rx := r.End.SumReceived
	o := iperfOut{gbps: rx.BitsPerSecond / 1e9, bytes: rx.Bytes, retransmits: r.End.SumSent.Retransmits}
	if rx.Packets > 0 && rx.Seconds > 0 {
		got := rx.Packets - rx.LostPackets
		o.pps = float64(max(got, 0)) / rx.Seconds
		o.loss = float64(rx.LostPackets) / float64(rx.Packets)
	}
	return o, nil
}

// iperfTCP runs an iperf3 server in pod `to` and `streams` TCP streams from
// pod `from` for d.
func iperfTCP(ctx context.Context, from, to *topo.Pod, d time.Duration, streams int) (iperfOut, error) {
	return iperf(ctx, from, to, d, "-P", strconv.Itoa(streams))
}

// iperfUDP64 runs iperf3's UDP test with 64-byte payloads at unlimited
// rate: the cross-check of our own generator.
func iperfUDP64(ctx context.Context, from, to *topo.Pod, d time.Duration) (iperfOut, error) {
	return iperf(ctx, from, to, d, "-u", "-l", "64", "-b", "0")
}

func iperf(ctx context.Context, from, to *topo.Pod, d time.Duration, args ...string) (iperfOut, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	srv := to.Command(ctx, "iperf3", "-s", "-1", "--forceflush", "-B", to.IPv4.String())
	srvOut := &LogBuffer{}
	srv.Stdout, srv.Stderr = srvOut, srvOut
	if err := srv.Start(); err != nil {
		return iperfOut{}, fmt.Errorf("%w: server: %w", ErrIperf, err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	for start := time.Now(); !strings.Contains(srvOut.String(), "listening"); {
		if time.Since(start) > 10*time.Second {
			return iperfOut{}, fmt.Errorf("%w: server in %s not listening after 10s: %s", ErrIperf, to.Namespace, srvOut)
		}
		time.Sleep(20 * time.Millisecond)
	}
	secs := strconv.Itoa(max(1, int((d+time.Second/2)/time.Second)))
	client := append([]string{"-c", to.IPv4.String(), "-t", secs, "-J"}, args...)
	var out []byte
	var err error
	for try := 0; try < 20; try++ { // the server needs a moment to listen
		out, err = from.Command(ctx, "iperf3", client...).Output()
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	o, perr := parseIperf(out)
	if perr != nil {
		return o, fmt.Errorf("%w (client exit: %v; server: %s)", perr, err, strings.TrimSpace(srvOut.String()))
	}
	return o, nil
}
