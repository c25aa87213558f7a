package encap

// DropReason names why a packet was not encapsulated, decapsulated or
// forwarded. The zero value, DropNone, means success. Values are stable and
// dense (0 .. NumDropReasons-1) so a dataplane can index counter arrays.
type DropReason uint8

// Drop reasons. Add new ones at the end, before NumDropReasons: the names
// are metric labels and must not change.
const (
	DropNone                  DropReason = iota // success
	DropTruncated                               // buffer shorter than a header says
	DropBadVersion                              // IP version (or inner version) not as expected
	DropBadHeaderLength                         // IPv4 IHL < 5 or beyond the buffer
	DropBadIPChecksum                           // outer IPv4 header checksum wrong
	DropBadLength                               // IP total length or UDP length inconsistent with the buffer
	DropOuterFragment                           // outer packet is a fragment; we do not reassemble
	DropNotTunnel                               // wrong IP protocol or UDP port for any accepted tunnel
	DropBadVXLANFlags                           // VXLAN I flag missing or reserved flag bits set
	DropBadVNI                                  // VNI is not the expected one
	DropBadGeneveVersion                        // Geneve version is not 0
	DropBadGeneveOptions                        // Geneve option lengths overrun the header or buffer
	DropUnknownCriticalOption                   // Geneve option we do not understand has its critical bit set
	DropGeneveControl                           // Geneve O (control/OAM) bit set: not data
	DropUnsupportedInner                        // inner packet is neither IPv4 nor IPv6
	DropTTLExceeded                             // inner TTL / hop limit would reach zero
	DropNoHeadroom                              // not enough room in front of the packet to prepend headers
	NumDropReasons                              // number of reasons, for metric registration; not a reason
)

var dropReasonNames = [NumDropReasons]string{
	DropNone:                  "none",
	DropTruncated:             "truncated",
	DropBadVersion:            "bad-version",
	DropBadHeaderLength:       "bad-header-length",
	DropBadIPChecksum:         "bad-ip-checksum",
	DropBadLength:             "bad-length",
	DropOuterFragment:         "outer-fragment",
	DropNotTunnel:             "not-tunnel",
	DropBadVXLANFlags:         "bad-vxlan-flags",
	DropBadVNI:                "bad-vni",
	DropBadGeneveVersion:      "bad-geneve-version",
	DropBadGeneveOptions:      "bad-geneve-options",
	DropUnknownCriticalOption: "unknown-critical-option",
	DropGeneveControl:         "geneve-control",
	DropUnsupportedInner:      "unsupported-inner",
	DropTTLExceeded:           "ttl-exceeded",
	DropNoHeadroom:            "no-headroom",
}

// String returns the reason's stable kebab-case name, used as a metric label;
// an out-of-range value yields "unknown".
func (r DropReason) String() string {
	if r < NumDropReasons {
		return dropReasonNames[r]
	}
	return "unknown"
}
