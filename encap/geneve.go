package encap

import "encoding/binary"

// Geneve header (RFC 8926 section 3.4):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|        Virtual Network Identifier (VNI)       |    Reserved   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	~                    Variable-Length Options                    ~
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Opt Len counts 4-byte words of options. O marks a control (OAM) packet; C
// says at least one option has its critical bit set.
const (
	geneveVerOptLen = 0
	geneveFlags     = 1
	geneveProtocol  = 2
	geneveVNI       = 4
	GeneveMinLen    = 8 // Geneve header without options

	geneveFlagO = 0x80
	geneveFlagC = 0x40
)

// Geneve option TLV (RFC 8926 section 3.5):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Option Class         |C|    Type     |R|R|R| Length  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	~                  Variable-Length Option Data                  ~
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Length counts 4-byte words of data, not including the 4-byte option header.
const (
	geneveOptClass    = 0
	geneveOptType     = 2
	geneveOptLen      = 3
	GeneveOptHdrLen   = 4    // option TLV header length
	GeneveOptCritical = 0x80 // critical bit in the option's Type byte
)

// Geneve is a view of a Geneve header, options and payload. Call Check
// before the other accessors.
type Geneve []byte

// Check validates the version, that the options fit in b and that every
// option's length stays inside the options area.
func (b Geneve) Check() DropReason {
	if len(b) < GeneveMinLen {
		return DropTruncated
	}
	if b.Version() != 0 {
		return DropBadGeneveVersion
	}
	if b.HeaderLen() > len(b) {
		return DropBadGeneveOptions
	}
	it := b.Options()
	for {
		if _, ok := it.Next(); !ok {
			break
		}
	}
	return it.Err()
}

// Version returns the 2-bit version.
func (b Geneve) Version() uint8 { return b[geneveVerOptLen] >> 6 }

// OptionsLen returns the length of the options in bytes.
func (b Geneve) OptionsLen() int { return int(b[geneveVerOptLen]&0x3f) * 4 }

// HeaderLen returns the header length including options.
func (b Geneve) HeaderLen() int { return GeneveMinLen + b.OptionsLen() }

// Control reports whether the O (OAM/control) bit is set.
func (b Geneve) Control() bool { return b[geneveFlags]&geneveFlagO != 0 }

// CriticalPresent reports whether the C bit is set.
func (b Geneve) CriticalPresent() bool { return b[geneveFlags]&geneveFlagC != 0 }

// Protocol returns the protocol type of the payload (an EtherType).
func (b Geneve) Protocol() uint16 { return binary.BigEndian.Uint16(b[geneveProtocol:]) }

// VNI returns the 24-bit virtual network identifier.
func (b Geneve) VNI() uint32 { return binary.BigEndian.Uint32(b[geneveVNI:]) >> 8 }

// Options returns an iterator over the option TLVs; b must hold HeaderLen bytes.
func (b Geneve) Options() GeneveOptionIter {
	return GeneveOptionIter{rest: b[GeneveMinLen:b.HeaderLen()]}
}

// Payload returns the bytes after the options.
func (b Geneve) Payload() []byte { return b[b.HeaderLen():] }

// Encode writes the header followed by opts (already-encoded TLVs, len a
// multiple of 4, at most 252). The C bit is set when any option is critical.
func (b Geneve) Encode(vni uint32, protocol uint16, opts []byte, critical bool) {
	_ = b[GeneveMinLen+len(opts)-1]
	b[geneveVerOptLen] = byte(len(opts) / 4)
	b[geneveFlags] = 0
	if critical {
		b[geneveFlags] = geneveFlagC
	}
	binary.BigEndian.PutUint16(b[geneveProtocol:], protocol)
	binary.BigEndian.PutUint32(b[geneveVNI:], vni<<8)
	copy(b[GeneveMinLen:], opts)
}

// GeneveOption is a view of one option TLV, header and data.
type GeneveOption []byte

// Class returns the option class.
func (o GeneveOption) Class() uint16 { return binary.BigEndian.Uint16(o[geneveOptClass:]) }

// Type returns the type byte, critical bit included.
func (o GeneveOption) Type() uint8 { return o[geneveOptType] }

// Critical reports whether the option's critical bit is set: a receiver
// that does not understand it must drop the packet.
func (o GeneveOption) Critical() bool { return o[geneveOptType]&GeneveOptCritical != 0 }

// Data returns the option data (after the 4-byte option header).
func (o GeneveOption) Data() []byte { return o[GeneveOptHdrLen:] }

// GeneveOptionIter walks option TLVs without allocating. Next returns false
// at the end or on a malformed option; Err then tells which.
type GeneveOptionIter struct {
	rest []byte
	err  DropReason
}

// NewGeneveOptionIter iterates over pre-encoded options (for example
// Params.GeneveOptions).
func NewGeneveOptionIter(opts []byte) GeneveOptionIter { return GeneveOptionIter{rest: opts} }

// Next returns the next option, or false when none is left or the next one
// overruns the options area (Err returns DropBadGeneveOptions).
func (it *GeneveOptionIter) Next() (GeneveOption, bool) {
	if len(it.rest) == 0 || it.err != DropNone {
		return nil, false
	}
	if len(it.rest) < GeneveOptHdrLen {
		it.err = DropBadGeneveOptions
		return nil, false
	}
	n := GeneveOptHdrLen + int(it.rest[geneveOptLen]&0x1f)*4
	if n > len(it.rest) {
		it.err = DropBadGeneveOptions
		return nil, false
	}
	o := GeneveOption(it.rest[:n:n])
	it.rest = it.rest[n:]
	return o, true
}

// Err returns DropNone after a clean walk, else DropBadGeneveOptions.
func (it *GeneveOptionIter) Err() DropReason { return it.err }
