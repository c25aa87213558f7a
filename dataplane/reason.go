package dataplane

import "github.com/podfwd/podfwd/encap"

// Reason names why the pipeline dropped (or answered) a packet. The wire
// format reasons come from encap unchanged (values below encapReasons); the
// pipeline's own decisions follow. Names are stable: they are metric labels.
type Reason uint8

// Pipeline reasons, numbered after encap's.
const (
	ReasonNoRoute             Reason = Reason(encap.NumDropReasons) + iota // destination matches no route
	ReasonUnknownPeer                                                      // tunnel packet from an underlay address that is not a peer
	ReasonSpoofedSource                                                    // inner source outside the sending peer's pod CIDRs
	ReasonNotLocal                                                         // decapsulated packet not for a local pod (no third-node forwarding)
	ReasonLocalLoop                                                        // packet from the pod side routed back to the pod side
	ReasonTooBig                                                           // inner packet larger than the tunnel MTU (answered with ICMP when allowed)
	ReasonSegmentFailed                                                    // a GSO super-packet could not be segmented
	ReasonSendFailed                                                       // the egress port refused the packet
	ReasonNoConfig                                                         // no forwarding config installed yet
	ReasonBadInnerChecksum                                                 // decapsulated TCP/UDP packet with a wrong checksum
	ReasonOversizeInner                                                    // decapsulated packet above the tunnel MTU that cannot be resegmented
	ReasonNotIP                                                            // underlay frame that is neither IPv4 nor IPv6
	ReasonNeighbourUnresolved                                              // whole frame to a peer whose next hop has no Ethernet address yet
	ReasonEmpty                                                            // zero-length datagram from the underlay
	ReasonPathTooBig                                                       // inner packet within the tunnel MTU but above the path MTU learned toward the peer (answered with ICMP when allowed)
	numReasons
)

// Reasons shared with encap under the pipeline's names.
const (
	ReasonNone        = Reason(encap.DropNone)        // not a drop: the packet goes on
	ReasonTTLExceeded = Reason(encap.DropTTLExceeded) // TTL/hop limit <= 1 (answered with ICMP time-exceeded)
	ReasonNoHeadroom  = Reason(encap.DropNoHeadroom)  // no room to prepend tunnel headers
)

// NumReasons is the number of distinct reasons, for sizing counter arrays.
const NumReasons = int(numReasons)

var pipelineReasonNames = [...]string{
	ReasonNoRoute - ReasonNoRoute:             "no-route",
	ReasonUnknownPeer - ReasonNoRoute:         "unknown-peer",
	ReasonSpoofedSource - ReasonNoRoute:       "spoofed-source",
	ReasonNotLocal - ReasonNoRoute:            "not-local-destination",
	ReasonLocalLoop - ReasonNoRoute:           "local-loop",
	ReasonTooBig - ReasonNoRoute:              "too-big",
	ReasonSegmentFailed - ReasonNoRoute:       "segment-failed",
	ReasonSendFailed - ReasonNoRoute:          "send-failed",
	ReasonNoConfig - ReasonNoRoute:            "no-config",
	ReasonBadInnerChecksum - ReasonNoRoute:    "bad-inner-checksum",
	ReasonOversizeInner - ReasonNoRoute:       "oversize-inner",
	ReasonNotIP - ReasonNoRoute:               "not-ip",
	ReasonNeighbourUnresolved - ReasonNoRoute: "neighbour-unresolved",
	ReasonEmpty - ReasonNoRoute:               "empty",
	ReasonPathTooBig - ReasonNoRoute:          "path-too-big",
}

// FromEncap converts a wire-format drop reason into a pipeline reason.
func FromEncap(r encap.DropReason) Reason { return Reason(r) }

// String returns the reason's stable kebab-case name.
func (r Reason) String() string {
	if r < ReasonNoRoute {
		return encap.DropReason(r).String()
	}
	if i := int(r - ReasonNoRoute); i < len(pipelineReasonNames) {
		return pipelineReasonNames[i]
	}
	return "unknown"
}
