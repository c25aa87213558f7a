package main

import (
	"encoding/binary"
	"net/netip"

	"github.com/podfwd/podfwd/encap"
)

// hostileRig is what a hostile case builds from: the known peer's wire
// toward the node under attack, and the pods involved.
type hostileRig struct {
	peer, stranger wire
	// victim is the attacked node's pod, peerPod the sending peer's, third
	// a pod of a node that is neither.
	victim, peerPod, third netip.Addr
	victim6, peerPod6      netip.Addr
	kind                   encap.Kind
	udpKind                bool // VXLAN or Geneve: the tunnel rides in UDP
	// underlayXDP: io xdp, where the XDP program hands podfwd whole frames
	// before the kernel's IP and UDP checks.
	underlayXDP bool
	// strictPartial: the daemon runs with underlay.partialChecksums: drop.
	strictPartial bool
}

// Outcomes a case expects (and the test observes) at the attacked daemon:
//
//	fwd              podfwd forwarded it and it reached the pod
//	fwd-undelivered  podfwd forwarded it to the node's kernel, which
//	                 refused it (TTL, IP header checksum), as the kernel's
//	                 own tunnel device would
//	kernel           the node's kernel dropped it before podfwd saw it
//	drop:<reason>    podfwd counted it dropped under that reason
const (
	fwd            = "fwd"
	fwdUndelivered = "fwd-undelivered"
	kernelDropped  = "kernel"
)

func dropped(reason string) string { return "drop:" + reason }

// hostileCase is one malformed or forged input. build returns the frames
// to send (mark is the unique bytes the inner payload carries, for the
// pod's capture); want the outcome, or "" when the case does not apply.
type hostileCase struct {
	name  string
	build func(r *hostileRig, mark []byte) [][]byte
	want  func(r *hostileRig) string
}

// one returns a single frame from the known peer carrying inner.
func (r *hostileRig) one(inner []byte) [][]byte {
	return [][]byte{r.peer.frame(r.peer.tunnel(inner))}
}

// good is a well-formed inner packet from the peer's pod to the victim.
func (r *hostileRig) good(mark []byte) []byte {
	return innerIPv4(r.peerPod, r.victim, encap.ProtoUDP, 64, mark)
}

// innerOff is where the inner IP packet starts in a frame from r.peer.
func (r *hostileRig) innerOff() int {
	switch r.kind {
	case encap.KindVXLAN:
		return udpPayOff + encap.VXLANLen + encap.EthernetLen
	case encap.KindGeneve:
		return udpPayOff + encap.GeneveMinLen + encap.EthernetLen
	}
	return outerL4Off
}

// tunOff is where the tunnel header starts (the UDP payload).
const tunOff = udpPayOff

// mutate returns a case that builds a good frame and changes it.
func mutate(f func(r *hostileRig, b []byte) []byte) func(r *hostileRig, mark []byte) [][]byte {
	return func(r *hostileRig, mark []byte) [][]byte {
		b := r.one(r.good(mark))[0]
		return [][]byte{f(r, b)}
	}
}

// innerMutate changes the inner packet (then fixes the outer lengths and
// checksums, which cover it for UDP tunnels).
func innerMutate(f func(inner []byte) []byte) func(r *hostileRig, mark []byte) [][]byte {
	return func(r *hostileRig, mark []byte) [][]byte {
		return r.one(f(r.good(mark)))
	}
}

func always(s string) func(*hostileRig) string { return func(*hostileRig) string { return s } }

// byUnderlay is the outcome with a kernel socket underlay (tun io) and
// with XDP, where podfwd sees the frame before the kernel's checks.
func byUnderlay(socket, xdp string) func(*hostileRig) string {
	return func(r *hostileRig) string {
		if r.underlayXDP {
			return xdp
		}
		return socket
	}
}

// udpOnly restricts a case to the UDP tunnels.
func udpOnly(f func(*hostileRig) string) func(*hostileRig) string {
	return func(r *hostileRig) string {
		if !r.udpKind {
			return ""
		}
		return f(r)
	}
}

func only(kind encap.Kind, f func(*hostileRig) string) func(*hostileRig) string {
	return func(r *hostileRig) string {
		if r.kind != kind {
			return ""
		}
		return f(r)
	}
}

// truncatedTo cuts the tunnel payload to n bytes (outer lengths fixed).
func truncatedTo(n func(r *hostileRig) int) func(r *hostileRig, mark []byte) [][]byte {
	return func(r *hostileRig, mark []byte) [][]byte {
		b := r.one(r.good(mark))[0]
		hdr := udpPayOff
		if !r.udpKind {
			hdr = outerL4Off
		}
		return [][]byte{r.peer.fixOuter(b[:hdr+n(r)])}
	}
}

// tunnelHdrLen is the tunnel header and inner Ethernet in front of the
// inner IP packet.
func (r *hostileRig) tunnelHdrLen() int {
	if !r.udpKind {
		return 0
	}
	return r.innerOff() - udpPayOff
}

// partialInnerL4 is an IPv4 TCP or UDP packet whose checksum field holds
// only the pseudo-header sum, as a sender's kernel leaves it for an
// offload, over a payload that sum says nothing about.
func partialInnerL4(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	in := innerIPv4(src, dst, proto, 64, payload)
	l4 := len(in) - encap.IPv4(in).HeaderLen()
	pseudo := encap.PseudoHeader4(src.As4(), dst.As4(), proto, l4)
	return setInnerL4Checksum(in, uint16(encap.Fold(pseudo)))
}

// byPartialPolicy is the outcome under underlay.partialChecksums accept
// (the default) and drop.
func byPartialPolicy(accept, drop string) func(*hostileRig) string {
	return func(r *hostileRig) string {
		if r.strictPartial {
			return drop
		}
		return accept
	}
}

func setInnerL4Checksum(inner []byte, v uint16) []byte {
	off := encap.IPv4(inner).HeaderLen()
	cs := 6 // UDP
	if inner[encap.IPv4ProtocolOffset] == encap.ProtoTCP {
		cs = 16
	}
	binary.BigEndian.PutUint16(inner[off+cs:], v)
	return inner
}

// hostileCorpus is the table of hostile inputs. Each case names the
// outcome a correct datapath gives; the kernel's VXLAN device gives the
// same for every case it can judge (see kernelCannotJudge).
//
// Outer fragments (outer-fragments, jumbo-*) reach io xdp's reassembly
// socket: the XDP program passes fragments to the kernel, which
// reassembles them. A bad outer UDP checksum is not asserted with io xdp:
// podfwd does not verify the outer UDP checksum the kernel's device
// checks (the inner checksum it does verify covers what reaches a pod).
// An 8000-byte inner UDP datagram without DF (the kernel's device
// fragments it toward the pod; podfwd drops it as oversize-inner) is left
// out everywhere.
var hostileCorpus = []hostileCase{
	{"good", func(r *hostileRig, m []byte) [][]byte { return r.one(r.good(m)) }, always(fwd)},
	{"good-ipv6", func(r *hostileRig, m []byte) [][]byte {
		return r.one(innerIPv6(r.peerPod6, r.victim6, 64, m))
	}, always(fwd)},

	// Zero length and truncation at every header boundary.
	{"zero-length-udp", truncatedTo(func(*hostileRig) int { return 0 }), udpOnly(byUnderlay(dropped("empty"), dropped("truncated")))},
	{"zero-length-ipip", truncatedTo(func(*hostileRig) int { return 0 }), only(encap.KindIPIP, always(dropped("truncated")))},
	{"trunc-tunnel-1", truncatedTo(func(*hostileRig) int { return 1 }), udpOnly(always(dropped("truncated")))},
	{"trunc-tunnel-hdr-minus-1", truncatedTo(func(*hostileRig) int { return 7 }), udpOnly(always(dropped("truncated")))},
	{"trunc-tunnel-hdr-only", truncatedTo(func(*hostileRig) int { return 8 }), udpOnly(always(dropped("truncated")))},
	{"trunc-inner-eth", truncatedTo(func(r *hostileRig) int { return r.tunnelHdrLen() - 1 }), udpOnly(always(dropped("truncated")))},
	{"trunc-inner-ip-1", truncatedTo(func(r *hostileRig) int { return r.tunnelHdrLen() + 1 }), always(dropped("truncated"))},
	{"trunc-inner-ip-19", truncatedTo(func(r *hostileRig) int { return r.tunnelHdrLen() + 19 }), always(dropped("truncated"))},
	{"trunc-inner-ip-20", truncatedTo(func(r *hostileRig) int { return r.tunnelHdrLen() + 20 }), always(dropped("bad-length"))},
	{"trunc-inner-udp", truncatedTo(func(r *hostileRig) int { return r.tunnelHdrLen() + 27 }), always(dropped("bad-length"))},

	// Bad lengths and versions.
	{"inner-total-len-long", innerMutate(func(b []byte) []byte {
		binary.BigEndian.PutUint16(b[encap.IPv4TotalLenOffset:], uint16(len(b)+100))
		ipChecksum(b)
		return b
	}), always(dropped("bad-length"))},
	{"inner-total-len-short", innerMutate(func(b []byte) []byte {
		binary.BigEndian.PutUint16(b[encap.IPv4TotalLenOffset:], 12)
		ipChecksum(b)
		return b
	}), always(dropped("bad-length"))},
	{"inner-ihl-4", innerMutate(func(b []byte) []byte { b[0] = 0x44; return b }), always(dropped("bad-header-length"))},
	{"inner-ihl-15", innerMutate(func(b []byte) []byte { b[0] = 0x4f; return b[:40] }), always(dropped("truncated"))},
	{"inner-version-5", innerMutate(func(b []byte) []byte { b[0] = 0x55; return b }), always(dropped("bad-version"))},
	{"inner-version-0", innerMutate(func(b []byte) []byte { b[0] = 0x05; return b }), always(dropped("bad-version"))},
	{"outer-udp-len-long", mutate(func(r *hostileRig, b []byte) []byte {
		binary.BigEndian.PutUint16(b[outerL4Off+encap.UDPLengthOffset:], uint16(len(b)-outerL4Off+8))
		return b
	}), udpOnly(byUnderlay(kernelDropped, dropped("bad-length")))},
	{"outer-udp-len-7", mutate(func(r *hostileRig, b []byte) []byte {
		binary.BigEndian.PutUint16(b[outerL4Off+encap.UDPLengthOffset:], 7)
		return b
	}), udpOnly(byUnderlay(kernelDropped, dropped("bad-length")))},
	{"outer-ip-total-len-long", mutate(func(r *hostileRig, b []byte) []byte {
		binary.BigEndian.PutUint16(b[outerIPOff+encap.IPv4TotalLenOffset:], uint16(len(b)-outerIPOff+40))
		ipChecksum(b[outerIPOff:])
		return b
	}), byUnderlay(kernelDropped, dropped("bad-length"))},
	{"outer-trailing-padding", mutate(func(r *hostileRig, b []byte) []byte {
		return append(b, make([]byte, 40)...) // total length stays: the padding is not the datagram's
	}), always(fwd)},

	// VXLAN header abuse.
	{"vxlan-no-i-flag", mutate(func(r *hostileRig, b []byte) []byte { b[tunOff] = 0; return r.peer.fixOuter(b) }), only(encap.KindVXLAN, always(dropped("bad-vxlan-flags")))},
	{"vxlan-reserved-flags", mutate(func(r *hostileRig, b []byte) []byte { b[tunOff] |= 0x80; return r.peer.fixOuter(b) }), only(encap.KindVXLAN, always(dropped("bad-vxlan-flags")))},
	{"vxlan-wrong-vni", mutate(func(r *hostileRig, b []byte) []byte { b[tunOff+6] ^= 0x10; return r.peer.fixOuter(b) }), only(encap.KindVXLAN, always(dropped("bad-vni")))},
	{"inner-ethertype-arp", mutate(func(r *hostileRig, b []byte) []byte {
		binary.BigEndian.PutUint16(b[r.innerOff()-2:], 0x0806)
		return r.peer.fixOuter(b)
	}), udpOnly(always(dropped("unsupported-inner")))},

	// Geneve header and option abuse.
	{"geneve-version-1", mutate(func(r *hostileRig, b []byte) []byte { b[tunOff] |= 0x40; return r.peer.fixOuter(b) }), only(encap.KindGeneve, always(dropped("bad-geneve-version")))},
	{"geneve-wrong-vni", mutate(func(r *hostileRig, b []byte) []byte { b[tunOff+6] ^= 0x10; return r.peer.fixOuter(b) }), only(encap.KindGeneve, always(dropped("bad-vni")))},
	{"geneve-oam", mutate(func(r *hostileRig, b []byte) []byte { b[tunOff+1] |= 0x80; return r.peer.fixOuter(b) }), only(encap.KindGeneve, always(dropped("geneve-control")))},
	{"geneve-protocol-unknown", mutate(func(r *hostileRig, b []byte) []byte {
		binary.BigEndian.PutUint16(b[tunOff+2:], 0x88b5)
		return r.peer.fixOuter(b)
	}), only(encap.KindGeneve, always(dropped("unsupported-inner")))},
	{"geneve-optlen-overrun", mutate(func(r *hostileRig, b []byte) []byte { b[tunOff] |= 0x3f; return r.peer.fixOuter(b[:udpPayOff+40]) }), only(encap.KindGeneve, always(dropped("bad-geneve-options")))},
	{"geneve-option-noncritical", genevePlusOption(0x01, 1), only(encap.KindGeneve, always(fwd))},
	{"geneve-option-critical", genevePlusOption(0x81, 1), only(encap.KindGeneve, always(dropped("unknown-critical-option")))},
	{"geneve-option-len-overrun", genevePlusOption(0x01, 5), only(encap.KindGeneve, always(dropped("bad-geneve-options")))},

	// Forged senders and destinations.
	{"unknown-peer", func(r *hostileRig, m []byte) [][]byte {
		return [][]byte{r.stranger.frame(r.stranger.tunnel(r.good(m)))}
	}, always(dropped("unknown-peer"))},
	{"spoofed-inner-source-third-node", func(r *hostileRig, m []byte) [][]byte {
		return r.one(innerIPv4(r.third, r.victim, encap.ProtoUDP, 64, m))
	}, always(dropped("spoofed-source"))},
	{"spoofed-inner-source-victim-node", func(r *hostileRig, m []byte) [][]byte {
		return r.one(innerIPv4(r.victim.Next(), r.victim, encap.ProtoUDP, 64, m))
	}, always(dropped("spoofed-source"))},
	{"spoofed-inner-source-ipv6", func(r *hostileRig, m []byte) [][]byte {
		return r.one(innerIPv6(netip.MustParseAddr("fd00:244:77::5"), r.victim6, 64, m))
	}, always(dropped("spoofed-source"))},
	{"third-node-destination", func(r *hostileRig, m []byte) [][]byte {
		return r.one(innerIPv4(r.peerPod, r.third, encap.ProtoUDP, 64, m))
	}, always(dropped("not-local-destination"))},
	{"back-to-sender-destination", func(r *hostileRig, m []byte) [][]byte {
		return r.one(innerIPv4(r.peerPod, r.peerPod.Next(), encap.ProtoUDP, 64, m))
	}, always(dropped("not-local-destination"))},
	{"unrouted-destination", func(r *hostileRig, m []byte) [][]byte {
		return r.one(innerIPv4(r.peerPod, netip.MustParseAddr("192.0.2.1"), encap.ProtoUDP, 64, m))
	}, always(dropped("not-local-destination"))},

	// Fragments and options.
	{"outer-fragments", func(r *hostileRig, m []byte) [][]byte {
		return fragments(r.one(r.good(append(m, make([]byte, 600)...)))[0], 256)
	}, always(fwd)},
	// A lone first fragment is forwarded, and the node (whose conntrack
	// reassembles before forwarding) keeps it waiting for the rest, as it
	// would behind its own tunnel device; both fragments reach the pod.
	{"inner-first-fragment-alone", innerMutate(func(b []byte) []byte {
		binary.BigEndian.PutUint16(b[encap.IPv4FlagsFragOffset:], 0x2000)
		ipChecksum(b)
		return b
	}), always(fwdUndelivered)},
	{"inner-fragments", func(r *hostileRig, m []byte) [][]byte {
		var out [][]byte
		b := r.good(append(m, make([]byte, 64)...))
		b[encap.IPv4IDOffset] = 0x42 // not the lone fragment's datagram, which the node still holds
		ipChecksum(b)
		for _, f := range ipFragments(b, 48) { // the first carries the whole mark
			out = append(out, r.one(f)...)
		}
		return out
	}, always(fwd)},
	{"outer-ip-options", mutate(func(r *hostileRig, b []byte) []byte {
		out := append([]byte(nil), b[:outerL4Off]...)
		out = append(out, 1, 1, 1, 0) // NOP NOP NOP EOL
		out = append(out, b[outerL4Off:]...)
		out[outerIPOff] = 0x46
		binary.BigEndian.PutUint16(out[outerIPOff+encap.IPv4TotalLenOffset:], uint16(len(out)-outerIPOff))
		ipChecksum(out[outerIPOff:])
		return out
	}), always(fwd)},
	{"inner-ip-options", innerMutate(func(b []byte) []byte {
		out := append([]byte(nil), b[:20]...)
		out = append(out, 1, 1, 1, 0)
		out = append(out, b[20:]...)
		out[0] = 0x46
		binary.BigEndian.PutUint16(out[encap.IPv4TotalLenOffset:], uint16(len(out)))
		ipChecksum(out)
		innerL4(out, 24, encap.ProtoUDP)
		copy(out[32:], b[28:])
		innerL4(out, 24, encap.ProtoUDP)
		return out
	}), always(fwd)},

	// TTL and hop limit at the edge: forwarded to the node's kernel, which
	// answers time-exceeded as for any routed packet.
	{"inner-ttl-0", func(r *hostileRig, m []byte) [][]byte {
		return r.one(innerIPv4(r.peerPod, r.victim, encap.ProtoUDP, 0, m))
	}, always(fwdUndelivered)},
	{"inner-ttl-1", func(r *hostileRig, m []byte) [][]byte {
		return r.one(innerIPv4(r.peerPod, r.victim, encap.ProtoUDP, 1, m))
	}, always(fwdUndelivered)},
	{"inner-hop-limit-0", func(r *hostileRig, m []byte) [][]byte {
		return r.one(innerIPv6(r.peerPod6, r.victim6, 0, m))
	}, always(fwdUndelivered)},
	{"inner-hop-limit-1", func(r *hostileRig, m []byte) [][]byte {
		return r.one(innerIPv6(r.peerPod6, r.victim6, 1, m))
	}, always(fwdUndelivered)},

	// Non-IP, on the underlay and inside.
	{"underlay-not-ip", func(r *hostileRig, m []byte) [][]byte {
		b := r.one(r.good(m))[0]
		binary.BigEndian.PutUint16(b[12:], 0x88b5)
		return [][]byte{b}
	}, always(kernelDropped)},

	// Checksums at every layer.
	{"bad-outer-ip-checksum", mutate(func(r *hostileRig, b []byte) []byte { b[outerIPOff+encap.IPv4ChecksumOffset] ^= 0x5a; return b }),
		byUnderlay(kernelDropped, dropped("bad-ip-checksum"))},
	{"bad-outer-udp-checksum", mutate(func(r *hostileRig, b []byte) []byte { b[outerL4Off+6] ^= 0x5a; return b }),
		udpOnly(byUnderlay(kernelDropped, ""))},
	{"zero-outer-udp-checksum", mutate(func(r *hostileRig, b []byte) []byte { b[outerL4Off+6], b[outerL4Off+7] = 0, 0; return b }),
		udpOnly(always(fwd))},
	{"bad-inner-ip-checksum", innerMutate(func(b []byte) []byte { b[encap.IPv4ChecksumOffset] ^= 0x5a; return b }), always(fwdUndelivered)},
	{"bad-inner-udp-checksum", innerMutate(func(b []byte) []byte { return setInnerL4Checksum(b, 0x1234) }), always(dropped("bad-inner-checksum"))},
	{"zero-inner-udp-checksum", innerMutate(func(b []byte) []byte { return setInnerL4Checksum(b, 0) }), always(fwd)},
	// A partial checksum is what nodes sharing a host send; from a wire it
	// cannot be told apart (see README: the trust rule's one exception).
	{"partial-inner-udp-checksum", func(r *hostileRig, m []byte) [][]byte {
		return r.one(partialInnerL4(r.peerPod, r.victim, encap.ProtoUDP, m))
	}, byPartialPolicy(fwd, dropped("bad-inner-checksum"))},
	{"partial-inner-tcp-checksum", func(r *hostileRig, m []byte) [][]byte {
		return r.one(partialInnerL4(r.peerPod, r.victim, encap.ProtoTCP, m))
	}, byPartialPolicy(fwd, dropped("bad-inner-checksum"))},
	{"bad-inner-tcp-checksum", func(r *hostileRig, m []byte) [][]byte {
		return r.one(setInnerL4Checksum(innerIPv4(r.peerPod, r.victim, encap.ProtoTCP, 64, m), 0x1234))
	}, always(dropped("bad-inner-checksum"))},

	// Jumbo datagrams: an inner packet far above the tunnel MTU, carried
	// in outer IP fragments that a kernel socket reassembles.

	{"jumbo-tcp", func(r *hostileRig, m []byte) [][]byte {
		return fragments(r.one(innerIPv4(r.peerPod, r.victim, encap.ProtoTCP, 64, append(m, make([]byte, 8000)...)))[0], 1472)
	}, always(fwd)},
	{"jumbo-tcp-bad-checksum", func(r *hostileRig, m []byte) [][]byte {
		in := innerIPv4(r.peerPod, r.victim, encap.ProtoTCP, 64, append(m, make([]byte, 8000)...))
		in[len(in)-1] ^= 0x01 // a flipped bit the checksum no longer matches
		return fragments(r.one(in)[0], 1472)
	}, always(dropped("bad-inner-checksum"))},
}

// genevePlusOption inserts one 4-byte Geneve option (type typ, length
// field optLen words) in front of a good packet's inner Ethernet.
func genevePlusOption(typ, optLen byte) func(r *hostileRig, mark []byte) [][]byte {
	return mutate(func(r *hostileRig, b []byte) []byte {
		opt := []byte{0x01, 0x02, typ, optLen, 0xde, 0xad, 0xbe, 0xef}
		at := tunOff + encap.GeneveMinLen
		out := append([]byte(nil), b[:at]...)
		out = append(out, opt...)
		out = append(out, b[at:]...)
		out[tunOff] = out[tunOff]&0xc0 | byte(len(opt)/4)
		if typ&0x80 != 0 {
			out[tunOff+1] |= 0x40 // C: a critical option is present
		}
		return r.peer.fixOuter(out)
	})
}
