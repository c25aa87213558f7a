package trace

import (
	"fmt"
	"net/netip"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
)

// decision is the one-line account of a stage, as the text output shows it.
func decision(ev *dataplane.TraceEvent, n int) string {
	switch ev.Stage {
	case dataplane.StageReceive:
		s := fmt.Sprintf("%d bytes on %s", n, ev.Port)
		if ev.Outer.IsValid() {
			s += " from " + ev.Outer.String()
		}
		return s
	case dataplane.StageDecap:
		return fmt.Sprintf("%s%s from peer %s, inner %d bytes", ev.Kind, vni(ev), ev.Peer, n)
	case dataplane.StageParse:
		f := &ev.Flow
		s := fmt.Sprintf("IPv%d %s > %s %s", f.Version, f.Src, f.Dst, protoName(f.Proto))
		if hasPorts(f.Proto) {
			s += fmt.Sprintf(" %d > %d", f.SrcPort, f.DstPort)
		}
		return s + fmt.Sprintf(" ttl %d len %d", f.TTL, f.TotalLen)
	case dataplane.StageRoute:
		switch {
		case !ev.Prefix.IsValid():
			return "no route matches"
		case ev.Local:
			return ev.Prefix.String() + " -> local pods"
		case ev.Peer != "":
			return fmt.Sprintf("%s -> peer %s via %s", ev.Prefix, ev.Peer, endpoint(ev.Outer))
		}
		return ev.Prefix.String() + " -> a peer's pods"
	case dataplane.StageSegment:
		return fmt.Sprintf("GSO super-packet split into %d segments", ev.Segments)
	case dataplane.StageEncap:
		s := fmt.Sprintf("%s%s -> peer %s at %s", ev.Kind, vni(ev), ev.Peer, endpoint(ev.Outer))
		if ev.SrcPort != 0 {
			s += fmt.Sprintf(" udp sport %d", ev.SrcPort)
		}
		if ev.Segments > 1 {
			s += fmt.Sprintf(" (%d segments)", ev.Segments)
		}
		return s
	case dataplane.StageCoalesce:
		return fmt.Sprintf("GRO merged %d segments", ev.Segments)
	case dataplane.StageSend:
		return "to port " + ev.Port
	case dataplane.StageICMP:
		return fmt.Sprintf("answered with ICMP %s (%d bytes) to the sender", icmpName(ev.Reason), n)
	case dataplane.StageDrop:
		return "reason " + ev.Reason.String()
	}
	return ""
}

func protoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmp6"
	case 132:
		return "sctp"
	}
	return fmt.Sprintf("proto %d", p)
}

func icmpName(r dataplane.Reason) string {
	if r == dataplane.ReasonTTLExceeded {
		return "time exceeded"
	}
	return "fragmentation needed / packet too big"
}

// vni is " vni N" for the tunnels that have one.
func vni(ev *dataplane.TraceEvent) string {
	if ev.Kind == encap.KindIPIP {
		return ""
	}
	return fmt.Sprintf(" vni %d", ev.VNI)
}

// endpoint prints an underlay address with its port, or alone for IPIP.
func endpoint(a netip.AddrPort) string {
	if a.Port() == 0 {
		return a.Addr().String()
	}
	return a.String()
}
