package trace

import (
	"encoding/binary"
	"io"
	"time"
)

// pcapng block types and options (draft-ietf-opsawg-pcapng).
const (
	blockSHB       = 0x0A0D0D0A
	blockIDB       = 0x00000001
	blockEPB       = 0x00000006
	byteOrderMagic = 0x1A2B3C4D
	optEnd         = 0
	optComment     = 1
	optIfName      = 2
	optIfTSResol   = 9
	optSHBUserAppl = 4

	// LinkTypeRaw is LINKTYPE_RAW: packets start at an IPv4 or IPv6 header.
	LinkTypeRaw = 101
	// LinkTypeEthernet is LINKTYPE_ETHERNET.
	LinkTypeEthernet = 1
)

// PcapWriter writes a pcapng file: one section, one interface, and an
// Enhanced Packet Block per packet, each with an optional comment. It is not
// safe for concurrent use.
type PcapWriter struct {
	w   io.Writer
	buf []byte
}

// NewPcapWriter writes the section header and one interface description of
// the given link type and snap length to w, and returns the writer.
func NewPcapWriter(w io.Writer, linkType uint16, snapLen uint32) (*PcapWriter, error) {
	p := &PcapWriter{w: w}
	// Section Header Block.
	body := le32(nil, byteOrderMagic)[:4]
	body = binary.LittleEndian.AppendUint16(body, 1) // major
	body = binary.LittleEndian.AppendUint16(body, 0) // minor
	body = binary.LittleEndian.AppendUint64(body, ^uint64(0))
	body = appendOption(body, optSHBUserAppl, []byte("podfwd trace"))
	body = appendOption(body, optEnd, nil)
	if err := p.block(blockSHB, body); err != nil {
		return nil, err
	}
	// Interface Description Block, nanosecond timestamps.
	body = binary.LittleEndian.AppendUint16(nil, linkType)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint32(body, snapLen)
	body = appendOption(body, optIfName, []byte("podfwd"))
	body = appendOption(body, optIfTSResol, []byte{9})
	body = appendOption(body, optEnd, nil)
	if err := p.block(blockIDB, body); err != nil {
		return nil, err
	}
	return p, nil
}

// WritePacket writes one packet of origLen bytes of which data was
// captured, stamped with ts, with comment as its opt_comment (none when
// empty).
func (p *PcapWriter) WritePacket(ts time.Time, data []byte, origLen int, comment string) error {
	if origLen < len(data) {
		origLen = len(data)
	}
	ns := uint64(ts.UnixNano())
	body := binary.LittleEndian.AppendUint32(p.buf[:0], 0) // interface 0
	body = binary.LittleEndian.AppendUint32(body, uint32(ns>>32))
	body = binary.LittleEndian.AppendUint32(body, uint32(ns))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(data)))
	body = binary.LittleEndian.AppendUint32(body, uint32(origLen))
	body = append(body, data...)
	body = pad4(body)
	if comment != "" {
		body = appendOption(body, optComment, []byte(comment))
		body = appendOption(body, optEnd, nil)
	}
	p.buf = body
	return p.block(blockEPB, body)
}

// block writes type, total length, body (a multiple of 4) and the length
// again.
func (p *PcapWriter) block(typ uint32, body []byte) error {
	total := uint32(12 + len(body))
	hdr := le32(le32(make([]byte, 0, 8), typ), total)
	if _, err := p.w.Write(hdr); err != nil {
		return err
	}
	if _, err := p.w.Write(body); err != nil {
		return err
	}
	_, err := p.w.Write(le32(nil, total))
	return err
}

// appendOption appends a TLV option padded to 4 bytes; values longer than
// an option can hold are cut.
func appendOption(b []byte, code uint16, val []byte) []byte {
	if len(val) > 0xfff0 {
		val = val[:0xfff0]
	}
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	return pad4(b)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func le32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
