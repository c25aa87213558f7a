package encap

// Kind is a tunnel wire format.
type Kind uint8

// Tunnel kinds. The zero value is not a valid kind, so a forgotten field is
// caught by Params.Validate.
const (
	KindVXLAN  Kind = iota + 1 // RFC 7348: Ethernet in UDP
	KindGeneve                 // RFC 8926: Ethernet or IP in UDP, with TLV options
	KindIPIP                   // IPv4/IPv6 directly in IPv4/IPv6 (protocol 4 / 41)
)

// String returns "vxlan", "geneve" or "ipip" ("unknown" otherwise).
func (k Kind) String() string {
	switch k {
	case KindVXLAN:
		return "vxlan"
	case KindGeneve:
		return "geneve"
	case KindIPIP:
		return "ipip"
	}
	return "unknown"
}

// Default UDP destination ports and the kernel's default ephemeral source
// port range (net.ipv4.ip_local_port_range) that the kernel's own tunnels
// hash flows into.
const (
	DefaultVXLANPort   = 4789 // IANA; flannel uses 8472 (the old Linux default)
	DefaultGenevePort  = 6081 // IANA
	DefaultSrcPortMin  = 32768
	DefaultSrcPortMax  = 60999
	DefaultTTL         = 64
	MaxGeneveOptionLen = 252 // 6-bit option length in 4-byte words
)

// DFPolicy says how the outer IPv4 Don't Fragment bit is set.
type DFPolicy uint8

// DF policies. Inherit copies DF from an inner IPv4 packet and sets it for an
// inner IPv6 packet (IPv6 is never fragmented by routers), as Linux's
// "df inherit" does.
const (
	DFInherit DFPolicy = iota
	DFSet
	DFClear
)

// String returns "inherit", "set" or "clear" ("unknown" otherwise).
func (d DFPolicy) String() string {
	switch d {
	case DFInherit:
		return "inherit"
	case DFSet:
		return "set"
	case DFClear:
		return "clear"
	}
	return "unknown"
}

// Overhead returns the bytes a tunnel of kind adds in front of an inner IP
// packet, outer IP header included (not the outer Ethernet): VXLAN 50,
// Geneve 50 plus options (Ethernet payload), IPIP 20; 20 more with an IPv6
// outer. For Geneve carrying IP directly use Params.Overhead.
func Overhead(kind Kind, outerIPv6 bool, geneveOptLen int) int {
	n := IPv4MinLen
	if outerIPv6 {
		n = IPv6Len
	}
	switch kind {
	case KindVXLAN:
		n += UDPLen + VXLANLen + EthernetLen
	case KindGeneve:
		n += UDPLen + GeneveMinLen + geneveOptLen + EthernetLen
	}
	return n
}

// Overhead returns the bytes these parameters add in front of an inner IP
// packet, outer IP header included.
func (p *Params) Overhead(outerIPv6 bool) int {
	n := Overhead(p.Kind, outerIPv6, len(p.GeneveOptions))
	if p.Kind == KindGeneve && p.GeneveIP {
		n -= EthernetLen
	}
	return n
}
