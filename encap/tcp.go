package encap

import "encoding/binary"

// TCP header (RFC 9293):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	|                        Sequence Number                        |
//	|                    Acknowledgment Number                      |
//	|  Data |       |C|E|U|A|P|R|S|F|                               |
//	| Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//	|           Checksum            |         Urgent Pointer        |
//	|                           [Options]                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Only the packet offload code reads TCP; the tunnel path needs just the
// ports, which sit where UDP's do.
const (
	TCPSrcPortOffset  = 0
	TCPDstPortOffset  = 2
	TCPSeqOffset      = 4
	TCPAckOffset      = 8
	TCPDataOffOffset  = 12 // data offset (header length in 32-bit words) in the high nibble
	TCPFlagsOffset    = 13
	TCPWindowOffset   = 14
	TCPChecksumOffset = 16
	TCPUrgentOffset   = 18
	TCPMinLen         = 20 // TCP header without options

	// Bits of the byte at TCPFlagsOffset.
	TCPFlagFIN = 0x01
	TCPFlagSYN = 0x02
	TCPFlagRST = 0x04
	TCPFlagPSH = 0x08
	TCPFlagACK = 0x10
	TCPFlagURG = 0x20
	TCPFlagECE = 0x40
	TCPFlagCWR = 0x80
)

// TCP is a view of a TCP header and its payload; check len(b) >= TCPMinLen
// before calling accessors.
type TCP []byte

// SrcPort returns the source port.
func (b TCP) SrcPort() uint16 { return binary.BigEndian.Uint16(b[TCPSrcPortOffset:]) }

// DstPort returns the destination port.
func (b TCP) DstPort() uint16 { return binary.BigEndian.Uint16(b[TCPDstPortOffset:]) }

// Seq returns the sequence number.
func (b TCP) Seq() uint32 { return binary.BigEndian.Uint32(b[TCPSeqOffset:]) }

// Ack returns the acknowledgment number.
func (b TCP) Ack() uint32 { return binary.BigEndian.Uint32(b[TCPAckOffset:]) }

// HeaderLen returns the header length in bytes, options included, from the
// data offset field (not checked against len(b)).
func (b TCP) HeaderLen() int { return int(b[TCPDataOffOffset]>>4) * 4 }

// Flags returns the flag byte (TCPFlagFIN ... TCPFlagCWR).
func (b TCP) Flags() uint8 { return b[TCPFlagsOffset] }

// Window returns the receive window field.
func (b TCP) Window() uint16 { return binary.BigEndian.Uint16(b[TCPWindowOffset:]) }

// Checksum returns the checksum field.
func (b TCP) Checksum() uint16 { return binary.BigEndian.Uint16(b[TCPChecksumOffset:]) }
