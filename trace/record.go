package trace

import (
	"net/netip"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
)

// Record is the trace of one packet: where it came in and every stage it
// passed with its decision, ending in a verdict. It is what the admin API
// streams as a JSON line and what the CLI prints.
type Record struct {
	ID         uint64    `json:"id"`
	Time       time.Time `json:"time"`
	Dir        string    `json:"dir"`
	Port       string    `json:"port,omitempty"`
	Generation uint64    `json:"generation"`
	Stages     []Step    `json:"stages"`
	Verdict    string    `json:"verdict"`
	// Incomplete says stages were lost because the ring was full.
	Incomplete bool `json:"incomplete,omitempty"`
	// Simulated says the engine only simulated this packet (what-if).
	Simulated bool `json:"simulated,omitempty"`

	// Wire is the packet as an IP packet on the underlay or the pod side,
	// for pcap: outer headers the io path leaves to the kernel (UDP
	// socket, raw socket) are synthesized (WireSynthesized) from the
	// peer's and our underlay address. At most the snap length is kept;
	// WireLen is the whole length.
	Wire            []byte `json:"wire,omitempty"`
	WireLen         int    `json:"wireLen,omitempty"`
	WireSynthesized bool   `json:"wireSynthesized,omitempty"`
}

// Step is one stage of a Record. Only the fields of its stage are set.
type Step struct {
	Stage    string    `json:"stage"`
	Time     time.Time `json:"time"`
	Decision string    `json:"decision"`
	Reason   string    `json:"reason,omitempty"`
	Port     string    `json:"port,omitempty"`
	Bytes    int       `json:"bytes,omitempty"`

	Src     string `json:"src,omitempty"`
	Dst     string `json:"dst,omitempty"`
	Proto   uint8  `json:"proto,omitempty"`
	SrcPort uint16 `json:"srcPort,omitempty"`
	DstPort uint16 `json:"dstPort,omitempty"`
	TTL     uint8  `json:"ttl,omitempty"`

	Prefix   string `json:"prefix,omitempty"`
	Local    bool   `json:"local,omitempty"`
	Peer     string `json:"peer,omitempty"`
	Outer    string `json:"outer,omitempty"`
	Encap    string `json:"encap,omitempty"`
	VNI      uint32 `json:"vni,omitempty"`
	UDPSrc   uint16 `json:"udpSrcPort,omitempty"`
	Segments int    `json:"segments,omitempty"`
}

// Local is what the record builder needs to know about this node to
// synthesize outer headers for pcap.
type Local struct {
	Underlay netip.Addr
	Kind     encap.Kind
	Port     uint16 // tunnel UDP port, the format's default when 0
	// Frames says the underlay carries whole Ethernet frames (xdp io):
	// received and encapsulated packets start at the outer Ethernet
	// header, which the capture drops (it is LINKTYPE_RAW).
	Frames bool
}

// LocalFor returns the Local of a dataplane config (nil gives zero).
func LocalFor(cfg *dataplane.Config) Local {
	if cfg == nil {
		return Local{}
	}
	return Local{Underlay: cfg.LocalUnderlay, Kind: cfg.Encap, Port: cfg.Port}
}

// stepOf converts one copied trace event into a Step.
func stepOf(s *slot) Step {
	ev := &s.ev
	st := Step{Stage: ev.Stage.String(), Time: time.Unix(0, s.when).UTC(), Port: ev.Port}
	switch ev.Stage {
	case dataplane.StageReceive, dataplane.StageEncap, dataplane.StageICMP:
		st.Bytes = s.origLen
	}
	if ev.Stage == dataplane.StageDrop || ev.Stage == dataplane.StageICMP {
		st.Reason = ev.Reason.String()
	}
	if ev.Stage == dataplane.StageParse {
		f := &ev.Flow
		st.Src, st.Dst, st.Proto, st.SrcPort, st.DstPort, st.TTL = f.Src.String(), f.Dst.String(), f.Proto, f.SrcPort, f.DstPort, f.TTL
		st.Bytes = f.TotalLen
	}
	if ev.Prefix.IsValid() {
		st.Prefix = ev.Prefix.String()
	}
	st.Local, st.Peer, st.Segments = ev.Local, ev.Peer, ev.Segments
	if ev.Outer.IsValid() {
		st.Outer = endpoint(ev.Outer)
	}
	if ev.Stage == dataplane.StageEncap || ev.Stage == dataplane.StageDecap {
		st.Encap, st.VNI, st.UDPSrc = ev.Kind.String(), ev.VNI, ev.SrcPort
		if ev.Kind == encap.KindIPIP {
			st.VNI = 0 // IPIP has none; the engine reports the config's
		}
	}
	st.Decision = decision(ev, s.origLen)
	return st
}

// terminal says whether stage ev is certainly the last of its packet. An
// egress drop for TTL or size may still be followed by the ICMP answer.
func terminal(ev *dataplane.TraceEvent) bool {
	switch ev.Stage {
	case dataplane.StageSend, dataplane.StageICMP:
		return true
	case dataplane.StageEncap:
		return ev.Dir == dataplane.Egress
	case dataplane.StageDrop:
		return ev.Dir == dataplane.Ingress || (ev.Reason != dataplane.ReasonTTLExceeded && ev.Reason != dataplane.ReasonTooBig)
	}
	return false
}

// verdict sums up a record's stages in a few words.
func verdict(r *Record) string {
	var dropped, answered bool
	var reason, peer, sent string
	for _, s := range r.Stages {
		switch s.Stage {
		case "drop":
			dropped, reason = true, s.Reason
		case "icmp":
			answered = true
		case "encap":
			peer = s.Peer
		case "send":
			sent = s.Port
		}
	}
	switch {
	case dropped && answered:
		return "dropped: " + reason + ", answered with ICMP"
	case dropped:
		return "dropped: " + reason
	case r.Dir == "ingress" && sent != "":
		return "delivered to " + sent
	case peer != "" && sent != "":
		return "encapsulated to peer " + peer + ", sent on " + sent
	case peer != "":
		return "encapsulated to peer " + peer
	}
	return "unfinished"
}
