package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/podfwd/podfwd/internal/topo"
)

// rrMessage is the request and the response size of the ping-pong.
const rrMessage = 64

// rrMaxSamples bounds the samples of one run (and the memory they take).
const rrMaxSamples = 1 << 20

// rrOut is what one ping-pong run measured.
type rrOut struct {
	trips              int
	seconds            float64
	p50, p99, p999, mx time.Duration
}

// pingPong opens a TCP connection from pod `from` to a server in pod `to`
// and sends a 64-byte request, waiting for its 64-byte echo, over and over
// for d (at most rrMaxSamples times): one round trip's latency per sample.
func pingPong(from, to *topo.Pod, d time.Duration) (rrOut, error) {
	var ln net.Listener
	err := to.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(to.IPv4, 0).String())
		return err
	})
	if err != nil {
		return rrOut{}, fmt.Errorf("rr listen: %w", err)
	}
	defer ln.Close()
	go echo(ln)
	var conn net.Conn
	err = from.Do(func() error {
		var err error
		conn, err = net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
		return err
	})
	if err != nil {
		return rrOut{}, fmt.Errorf("rr dial: %w", err)
	}
	defer conn.Close()
	req := make([]byte, rrMessage)
	resp := make([]byte, rrMessage)
	samples := make([]time.Duration, 0, 4096)
	start := time.Now()
	until := start.Add(d)
	_ = conn.SetDeadline(until.Add(5 * time.Second)) // a stalled path ends the run
	for t := start; t.Before(until) && len(samples) < rrMaxSamples; {
		if _, err := conn.Write(req); err != nil {
			return rrOut{}, fmt.Errorf("rr write: %w", err)
		}
		if _, err := io.ReadFull(conn, resp); err != nil {
			return rrOut{}, fmt.Errorf("rr read: %w", err)
		}
		now := time.Now()
		samples = append(samples, now.Sub(t))
		t = now
	}
	if len(samples) == 0 {
		return rrOut{}, errors.New("rr: no round trip completed")
	}
	slices.Sort(samples)
	return rrOut{
		trips:   len(samples),
		seconds: time.Since(start).Seconds(),
		p50:     percentile(samples, 0.50),
		p99:     percentile(samples, 0.99),
		p999:    percentile(samples, 0.999),
		mx:      samples[len(samples)-1],
	}, nil
}

// percentile returns the q-quantile (nearest rank) of sorted samples.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// echo answers every message of every connection until ln is closed.
func echo(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, rrMessage)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
	}
}
