package bench

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// iperfUDPSample is the shape of iperf 3.12's UDP JSON (trimmed).
const iperfUDPSample = `{"start":{},"intervals":[],"end":{
 "sum":{"bytes":8430720,"packets":131730,"lost_packets":70418,"sender":true},
 "sum_sent":{"bytes":8430720,"bits_per_second":67053763.7,"packets":131730},
 "sum_received":{"seconds":1.006243,"bytes":3923904,"bits_per_second":31196472.4,"packets":131729,"lost_packets":70418}}}`

const iperfTCPSample = `{"end":{"sum_sent":{"bytes":1000,"bits_per_second":2.5e9,"retransmits":7},
 "sum_received":{"seconds":1,"bytes":900,"bits_per_second":2.4e9}}}`

func TestParseIperf(t *testing.T) {
	tcp, err := parseIperf([]byte(iperfTCPSample))
	if err != nil {
		t.Fatal(err)
	}
	if tcp.gbps != 2.4 || tcp.retransmits != 7 || tcp.bytes != 900 || tcp.pps != 0 {
		t.Errorf("tcp = %+v", tcp)
	}
	udp, err := parseIperf([]byte(iperfUDPSample))
	if err != nil {
		t.Fatal(err)
	}
	if want := (131729.0 - 70418) / 1.006243; math.Abs(udp.pps-want) > 1e-6 {
		t.Errorf("udp pps = %v, want %v (received, not sent)", udp.pps, want)
	}
	if want := 70418.0 / 131729; math.Abs(udp.loss-want) > 1e-9 {
		t.Errorf("udp loss = %v, want %v", udp.loss, want)
	}
	for _, bad := range []string{"", "not json", `{"error":"unable to connect to server"}`} {
		if _, err := parseIperf([]byte(bad)); !errors.Is(err, ErrIperf) {
			t.Errorf("parseIperf(%q) err = %v, want ErrIperf", bad, err)
		}
	}
}

// FuzzParseIperf: an accepted report gives the receiver's rate and bytes
// as a generic JSON decoding of the same bytes reads them, and UDP packet
// rate and loss from the receiver's counts (never negative, never NaN).
func FuzzParseIperf(f *testing.F) {
	f.Add([]byte(iperfUDPSample))
	f.Add([]byte(iperfTCPSample))
	f.Add([]byte(`{"end":{"sum_received":{"seconds":0,"packets":5,"lost_packets":9}}}`))
	f.Add([]byte(`{"end":{"sum_received":{"seconds":2,"packets":5,"lost_packets":9}}}`))
	f.Add([]byte(`{"error":"unable to connect to server"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := parseIperf(b)
		if err != nil {
			return
		}
		var g struct {
			End struct {
				Rx map[string]any `json:"sum_received"`
			} `json:"end"`
		}
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("accepted what a generic decoding refuses: %v", err)
		}
		// encoding/json matches keys without regard to case, and with two
		// spellings of one key the last in the text wins, which a map
		// cannot tell: such input proves nothing either way.
		num := func(k string) float64 {
			var v float64
			for key, val := range g.End.Rx {
				if strings.EqualFold(key, k) {
					v, _ = val.(float64)
				}
			}
			return v
		}
		seen := map[string]bool{}
		for key := range g.End.Rx {
			k := strings.ToLower(key)
			if seen[k] {
				return
			}
			seen[k] = true
		}
		if o.gbps != num("bits_per_second")/1e9 || o.bytes != num("bytes") {
			t.Fatalf("gbps %v bytes %v, the JSON says %v bit/s and %v bytes", o.gbps, o.bytes, num("bits_per_second"), num("bytes"))
		}
		if math.IsNaN(o.pps) || math.IsInf(o.pps, 0) || o.pps < 0 || math.IsNaN(o.loss) || o.loss < 0 {
			t.Fatalf("pps %v loss %v from %q", o.pps, o.loss, b)
		}
		pkts, lost, secs := num("packets"), num("lost_packets"), num("seconds")
		if pkts > 0 && secs > 0 {
			if want := math.Max(pkts-lost, 0) / secs; !near(o.pps, want) || !near(o.loss, lost/pkts) {
				t.Fatalf("pps %v loss %v, want %v and %v from %q", o.pps, o.loss, want, lost/pkts, b)
			}
		} else if o.pps != 0 || o.loss != 0 {
			t.Fatalf("pps %v loss %v with no packets or no time: %q", o.pps, o.loss, b)
		}
	})
}
