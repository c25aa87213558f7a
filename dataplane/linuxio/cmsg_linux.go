package linuxio

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Layout of struct cmsghdr on 64-bit Linux: len (size_t), level (int),
// type (int), then data, each message padded to 8 bytes.
const (
	cmsgLevelOff = 8
	cmsgTypeOff  = 12
	cmsgDataOff  = unix.SizeofCmsghdr
	cmsgAlign    = 8
)

// groCmsgSpace is the control room a receive needs for the UDP_GRO
// message (an int with the segment size).
var groCmsgSpace = unix.CmsgSpace(4)

// segmentCmsgSpace is the control room of a UDP_SEGMENT message (a uint16).
var segmentCmsgSpace = unix.CmsgSpace(2)

// parseGROSize walks the control messages in ctrl and returns the segment
// size from a SOL_UDP/UDP_GRO message. It reports false when there is none
// or the buffer is malformed; it never reads past ctrl.
func parseGROSize(ctrl []byte) (int, bool) {
	for len(ctrl) >= cmsgDataOff {
		l := binary.NativeEndian.Uint64(ctrl)
		if l < cmsgDataOff || l > uint64(len(ctrl)) {
			return 0, false
		}
		level := int32(binary.NativeEndian.Uint32(ctrl[cmsgLevelOff:]))
		typ := int32(binary.NativeEndian.Uint32(ctrl[cmsgTypeOff:]))
		data := ctrl[cmsgDataOff:l]
		if level == unix.SOL_UDP && typ == unix.UDP_GRO && len(data) >= 4 {
			size := int32(binary.NativeEndian.Uint32(data))
			if size <= 0 {
				return 0, false
			}
			return int(size), true
		}
		next := (l + cmsgAlign - 1) &^ (cmsgAlign - 1)
		if next >= uint64(len(ctrl)) {
			break
		}
		ctrl = ctrl[next:]
	}
	return 0, false
}

// putSegmentCmsg writes a SOL_UDP/UDP_SEGMENT control message asking the
// kernel to cut the datagram into size-byte segments, and returns its
// length; b must hold segmentCmsgSpace bytes.
func putSegmentCmsg(b []byte, size uint16) int {
	b = b[:segmentCmsgSpace]
	clear(b)
	binary.NativeEndian.PutUint64(b, uint64(unix.CmsgLen(2)))
	binary.NativeEndian.PutUint32(b[cmsgLevelOff:], uint32(unix.SOL_UDP))
	binary.NativeEndian.PutUint32(b[cmsgTypeOff:], uint32(unix.UDP_SEGMENT))
	binary.NativeEndian.PutUint16(b[cmsgDataOff:], size)
	return segmentCmsgSpace
}
