package linuxio

import "log/slog"

// MaxGROSize is the room after Start every receive buffer needs when UDP
// GRO is on: the kernel may hand over up to 64 KiB of coalesced datagrams
// in one buffer, and a smaller buffer would truncate them.
const MaxGROSize = 65535

// MaxTUNPacketSize is the room after Start every packet handed to a TUN's
// ReadBatch needs when offloads are on: a TSO/USO super-packet is an IP
// packet of up to 64 KiB.
const MaxTUNPacketSize = 65535

// DefaultBatchSize is the number of messages per recvmmsg/sendmmsg call
// when the options leave it zero.
const DefaultBatchSize = 64

// Protocol numbers a RawIPPort typically carries.
const (
	ProtoIPIP    = 4  // IPv4 in IPv4
	ProtoIPv6in4 = 41 // IPv6 in IPv4
)

// UDPOptions tunes a UDPPort; the zero value gives batches of
// DefaultBatchSize with UDP GSO and GRO on where the kernel has them.
type UDPOptions struct {
	BatchSize    int          // messages per recvmmsg/sendmmsg; 0 means DefaultBatchSize
	DisableGSO   bool         // never send with UDP_SEGMENT; trains are split in userspace
	DisableGRO   bool         // do not ask the kernel to coalesce received datagrams
	SocketBuffer int          // SO_RCVBUF and SO_SNDBUF in bytes; 0 means DefaultSocketBuffer, < 0 leaves the kernel's
	Logger       *slog.Logger // where the GSO fallback is logged; nil means slog.Default()
	// Raw keeps the socket out of Go's netpoller, as TUNOptions.Raw.
	Raw bool
}

// UDPOffloads says which UDP offloads a port uses right now.
type UDPOffloads struct {
	GSO bool // sends trains with UDP_SEGMENT (false after an EIO fallback)
	GRO bool // receives coalesced datagrams with UDP_GRO
}

// String renders the offloads for logs, e.g. "udp-gso=on udp-gro=off".
func (o UDPOffloads) String() string {
	return "udp-gso=" + onOff(o.GSO) + " udp-gro=" + onOff(o.GRO)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// TUNOptions chooses how a TUN device is opened.
type TUNOptions struct {
	// Offloads opens the device with IFF_VNET_HDR and asks for checksum and
	// TSO offload (and UDP segmentation offload where the kernel has it),
	// so reads may return GSO super-packets and writes may carry them.
	Offloads bool
	// DisableUSO leaves UDP segmentation offload off even when the kernel
	// accepts it (then only TCP super-packets arrive).
	DisableUSO bool
	// BatchSize bounds how many packets one ReadBatch returns; 0 means
	// DefaultBatchSize.
	BatchSize int
	// Raw keeps the device out of Go's netpoller (see rawConn): for a
	// port served by the dataplane's polling thread. A blocked ReadBatch
	// then holds its OS thread and notices Close only within 100 ms.
	Raw bool
}

// TUNOffloads says which offloads a TUN device has in effect.
type TUNOffloads struct {
	VnetHdr bool // packets carry a 10-byte virtio_net_hdr
	Csum    bool // TUN_F_CSUM: partial checksums allowed
	TSO4    bool
	TSO6    bool
	USO4    bool
	USO6    bool
}

// String renders the offloads for logs, e.g. "vnet-hdr=on csum=on tso4=on ...".
func (o TUNOffloads) String() string {
	return "vnet-hdr=" + onOff(o.VnetHdr) + " csum=" + onOff(o.Csum) +
		" tso4=" + onOff(o.TSO4) + " tso6=" + onOff(o.TSO6) +
		" uso4=" + onOff(o.USO4) + " uso6=" + onOff(o.USO6)
}
