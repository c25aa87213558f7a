package dataplane

import (
	"net/netip"

	"github.com/podfwd/podfwd/encap"
)

// Direction says which way a packet travels through the engine.
type Direction uint8

const (
	Egress  Direction = iota // pod side -> underlay (encapsulate)
	Ingress                  // underlay -> pod side (decapsulate)
)

func (d Direction) String() string {
	if d == Egress {
		return "egress"
	}
	return "ingress"
}

// Stage names one step of a packet's path, as a trace shows it.
type Stage uint8

const (
	StageReceive  Stage = iota // read from a port
	StageDecap                 // tunnel headers validated and stripped
	StageParse                 // inner IP header parsed
	StageRoute                 // LPM lookup done
	StageSegment               // GSO super-packet split into segments
	StageEncap                 // tunnel headers prepended
	StageCoalesce              // segments merged by GRO
	StageSend                  // handed to the egress port
	StageICMP                  // an ICMP error was sent back
	StageDrop                  // dropped; Reason says why
)

var stageNames = [...]string{"receive", "decap", "parse", "route", "segment", "encap", "coalesce", "send", "icmp", "drop"}

func (s Stage) String() string {
	if int(s) < len(stageNames) {
		return stageNames[s]
	}
	return "unknown"
}

// TraceEvent is one stage of one traced packet. Only the fields that the
// stage sets are meaningful. Packet is borrowed: it is valid only during the
// Record call; a tracer that keeps bytes must copy them.
type TraceEvent struct {
	Dir        Direction
	Stage      Stage
	Port       string
	Generation uint64
	Packet     []byte

	Reason Reason // StageDrop, StageICMP

	Flow encap.Flow // StageParse

	Prefix  netip.Prefix // StageRoute: matched prefix
	Local   bool         // StageRoute: destination is a local pod
	Peer    string       // StageRoute / StageEncap / StageDecap: peer name
	Outer   netip.AddrPort
	Kind    encap.Kind
	VNI     uint32
	SrcPort uint16 // StageEncap: outer UDP source port when we choose it

	Segments int // StageSegment, StageCoalesce, StageEncap; StageSend of a simulation: datagrams written
}

// Tracer observes packets. The engine loads the tracer once per batch; when
// none is installed that is the whole cost. Match is called for each packet
// when it enters the pipeline (pkt is the bytes as received: an inner IP
// packet on egress, a tunnel payload or outer IP packet on ingress), except
// for the egress packets that the gate of a Tracer implementing Gater
// refuses (see TraceGate); Record
// is called for every stage of a matched packet. Both run on the forwarding
// goroutines and must not block: a slow tracer must drop records, never make
// forwarding wait.
type Tracer interface {
	Match(dir Direction, pkt []byte) bool
	Record(ev *TraceEvent)
}

// tracerBox is the installed tracer and its egress gate (a gate passing
// everything when the tracer has none).
type tracerBox struct {
	t    Tracer
	gate TraceGate
}

// SetTracer installs t (nil removes the tracer). Safe to call at any time.
func (e *Engine) SetTracer(t Tracer) {
	if t == nil {
		e.tracer.Store(nil)
		return
	}
	b := &tracerBox{t: t, gate: GateAll()}
	if g, ok := t.(Gater); ok {
		b.gate = g.EgressGate()
	}
	e.tracer.Store(b)
}
