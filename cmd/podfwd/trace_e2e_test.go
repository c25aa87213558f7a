package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
	"github.com/podfwd/podfwd/internal/topo"
	"github.com/podfwd/podfwd/trace"
)

// traceCase is one io path and encap podfwd trace is run against.
type traceCase struct {
	io, encap string
	port      int
	layers    string // what tshark sees of an ICMP packet on the wire
}

var traceMatrix = []traceCase{
	{"tun", "vxlan", 8472, "ip:udp:vxlan:eth:ethertype:ip:icmp"},
	{"tun", "geneve", 6081, "ip:udp:geneve:eth:ethertype:ip:icmp"},
	{"tun", "ipip", 0, "ip:ip:icmp"},
	{"udp-process", "vxlan", 8472, "ip:udp:vxlan:eth:ethertype:ip:icmp"},
	{"xdp", "vxlan", 8472, "ip:udp:vxlan:eth:ethertype:ip:icmp"},
}

// podfwd trace against live daemons: two nodes in each io path and encap,
// each daemon with its own admin socket; pods ping while `podfwd trace`
// watches node 1.
func TestTraceEndToEnd(t *testing.T) {
	testenv.RequireRoot(t)
	for _, c := range traceMatrix {
		t.Run(c.io+"-"+c.encap, func(t *testing.T) { traceEndToEnd(t, c) })
	}
}

func traceEndToEnd(t *testing.T, c traceCase) {
	tp := topo.NewT(t, topo.Config{Prefix: testenv.RunPrefix() + "t"})
	dir := t.TempDir()
	sockets := map[*topo.Node]string{}
	for _, n := range tp.Nodes {
		sockets[n] = filepath.Join(dir, n.Namespace+".sock")
		cfg := nodeConfig(tp, n, c.io, c.encap, c.port) + fmt.Sprintf("admin:\n  socket: %s\n", sockets[n])
		startDaemon(t, n, cfg)
	}
	outer := func(n *topo.Node) string {
		if c.port == 0 {
			return n.UnderlayIPv4.String()
		}
		return fmt.Sprintf("%s:%d", n.UnderlayIPv4, c.port)
	}
	vni := " vni 1"
	if c.encap == "ipip" {
		vni = ""
	}
	node1, node2 := tp.Nodes[0], tp.Nodes[1]
	from, to := node1.Pods[0], node2.Pods[0]
	sock := sockets[node1]

	// Keep pinging from pod 1 on node 1 to pod 1 on node 2 in the
	// background while traces attach.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pinging := make(chan struct{})
	go func() {
		defer close(pinging)
		for ctx.Err() == nil {
			_ = topo.Ping(ctx, from, to.IPv4, 1, 56, false)
			time.Sleep(100 * time.Millisecond)
		}
	}()
	defer func() { cancel(); <-pinging }()

	t.Run("json", func(t *testing.T) {
		out := runTrace(t, "--socket", sock, "--count", "3", "--json", "icmp and host "+to.IPv4.String())
		var recs []trace.Record
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var r trace.Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("not a JSON record: %q: %v", sc.Text(), err)
			}
			recs = append(recs, r)
		}
		if len(recs) != 3 {
			t.Fatalf("%d records, want 3 (--count 3):\n%s", len(recs), out)
		}
		var egress, ingress int
		for _, r := range recs {
			got := stageList(&r)
			switch {
			case r.Dir == "egress" && strings.HasSuffix(got, "encap") && r.Verdict == "encapsulated to peer "+node2.Namespace:
				egress++
				if e := r.Stages[len(r.Stages)-1]; e.Encap != c.encap || e.Outer != outer(node2) {
					t.Errorf("encap stage %+v", e)
				}
				if p := r.Stages[1]; p.Src != from.IPv4.String() || p.Dst != to.IPv4.String() || p.Proto != 1 {
					t.Errorf("parse stage %+v", p)
				}
			case r.Dir == "ingress" && got == "receive,decap,parse,route,send" && strings.HasPrefix(r.Verdict, "delivered to "):
				ingress++
				if d := r.Stages[1]; d.Peer != node2.Namespace || d.Encap != c.encap {
					t.Errorf("decap stage %+v", d)
				}
			default:
				t.Errorf("unexpected path %s %s: %s", r.Dir, got, r.Verdict)
			}
		}
		if egress == 0 || ingress == 0 {
			t.Errorf("want echo requests out (egress) and replies in (ingress); got %d and %d", egress, ingress)
		}
	})

	t.Run("text-and-pcap", func(t *testing.T) {
		pcap := filepath.Join(t.TempDir(), "icmp.pcapng")
		out := runTrace(t, "--socket", sock, "--count", "4", "--pcap", pcap, "icmp and net 10.244.0.0/16")
		if strings.Count(out, "  route     ") != 4 || !strings.Contains(out, "  encap     "+c.encap+vni+" -> peer "+node2.Namespace) {
			t.Errorf("text output lacks the stages:\n%s", out)
		}
		tshark := testenv.RequireTools(t, "tshark")[0]
		fields, err := exec.Command(tshark, "-r", pcap, "-d", "udp.port==8472,vxlan", "-T", "fields", "-E", "separator=|",
			"-e", "frame.protocols", "-e", "frame.comment").Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(string(fields)), "\n")
		if len(lines) != 4 {
			t.Fatalf("tshark shows %d packets, want 4:\n%s", len(lines), fields)
		}
		for _, l := range lines {
			protos, comment, _ := strings.Cut(l, "|")
			if !strings.Contains(protos, c.layers) || !strings.Contains(comment, "route: ") {
				t.Errorf("packet %q", l)
			}
		}
	})

	t.Run("simulate", func(t *testing.T) {
		out := runTrace(t, "--socket", sock, "--simulate", fmt.Sprintf("src %s dst %s tcp dport 80", from.IPv4, to.IPv4))
		for _, want := range []string{"(simulated): encapsulated to peer " + node2.Namespace, c.encap + vni + " -> peer " + node2.Namespace + " at " + outer(node2)} {
			if !strings.Contains(out, want) {
				t.Errorf("simulation lacks %q:\n%s", want, out)
			}
		}
		out = runTrace(t, "--socket", sock, "--simulate", fmt.Sprintf("src %s dst 10.250.0.1", from.IPv4))
		if !strings.Contains(out, "dropped: no-route") {
			t.Errorf("simulation of an unroutable packet:\n%s", out)
		}
		out = runTrace(t, "--socket", sock, "--simulate", fmt.Sprintf("src %s dst %s udp dport 53", to.IPv4, from.IPv4))
		if !strings.Contains(out, "ingress") || !strings.Contains(out, "delivered to ") {
			t.Errorf("simulation of a packet from node 2:\n%s", out)
		}
	})

	t.Run("duration", func(t *testing.T) {
		start := time.Now()
		out := runTrace(t, "--socket", sock, "--duration", "500ms", "host 192.0.2.99")
		if out != "" || time.Since(start) < 500*time.Millisecond {
			t.Errorf("--duration 500ms with a filter matching nothing: returned after %v with %q", time.Since(start), out)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		body, _ := httpGetIn(t, node1, "/metrics")
		_, ready := httpGetIn(t, node1, "/readyz")
		if ready != 200 {
			t.Errorf("readyz %d, want 200", ready)
		}
		if c.io == "xdp" && !strings.Contains(body, `podfwd_xdp_info{attach_mode=`) {
			t.Errorf("io xdp exports no podfwd_xdp_info:\n%s", body)
		}
		if c.io == "xdp" && !strings.Contains(body, `podfwd_xdp_socket_events_total{counter="rx_dropped",queue="0"}`) {
			t.Error("io xdp exports no AF_XDP socket statistics")
		}
		for _, series := range []string{`podfwd_packets_total{direction="rx",port="pod"}`, `podfwd_tunnel_packets_total{encap="` + c.encap + `",op="encap"}`,
			`podfwd_tunnel_packets_total{encap="` + c.encap + `",op="decap"}`, `podfwd_trace_matched_packets_total`} {
			m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
			if m == nil {
				t.Errorf("no %s in node 1's metrics", series)
				continue
			}
			if v, _ := strconv.ParseFloat(m[1], 64); v <= 0 {
				t.Errorf("%s = %s; traffic flowed", series, m[1])
			}
		}
	})
}

// httpGetIn GETs path from the metrics listener of node's namespace. The
// connection is dialled inside the namespace (http.Transport would dial on
// another goroutine, outside it) and the request written by hand.
func httpGetIn(t *testing.T, node *topo.Node, path string) (string, int) {
	t.Helper()
	var conn net.Conn
	if err := node.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp", "127.0.0.1:9810", 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp.StatusCode
}

// runTrace runs `podfwd trace args...` and returns its stdout.
func runTrace(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, podfwdBin, append([]string{"trace"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("podfwd trace %v: %v\nstderr: %s\nstdout: %s", args, err, stderr.String(), out)
	}
	return string(out)
}

func stageList(r *trace.Record) string {
	var s []string
	for _, st := range r.Stages {
		s = append(s, st.Stage)
	}
	return strings.Join(s, ",")
}
