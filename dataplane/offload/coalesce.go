package offload

import "github.com/podfwd/podfwd/encap"

// Coalescer merges TCP segments of a batch into super-packets (GRO) for a
// TUN opened with IFF_VNET_HDR. It keeps its bookkeeping between calls so that
// Coalesce allocates nothing; one Coalescer must not be used by two
// goroutines at once.
type Coalescer struct {
	maxBatch int
	udp      bool      // also merge UDP datagrams (MergeUDP)
	segs     []segInfo // per input packet
	next     []int     // next[i]: the member after pkts[i] in its run, or -1
	runs     []run
	result   []Output
}

// Output is one packet to write to the TUN, in the order Coalesce returns
// them. Exactly one of In and Out is >= 0.
type Output struct {
	// In, when >= 0, is the index in pkts of a packet left alone: write a
	// zero virtio_net_hdr followed by pkts[In], unchanged.
	In int
	// Out, when >= 0, is the index in outs of a merged super-packet: write
	// outs[Out][:Len], which starts with its virtio_net_hdr.
	Out int
	// Len is the number of bytes of outs[Out] to write (0 when In is used).
	Len int
	// Segments is how many input packets this output carries.
	Segments int
	// Verified says the coalescer already verified this passed-through
	// packet's TCP (or UDP) checksum (and found it valid), so the caller need not
	// check it again before telling the kernel it is valid.
	Verified bool

	head int // first input packet of the output; tests walk the run from it
}

// run is a chain of input packets that continue each other.
type run struct {
	head, tail int // indices into pkts
	count      int
	nextSeq    uint32 // sequence number the next segment must carry
	gsoSize    int    // payload size of the head; later members are <= it
	ipLen      int    // IP length of the merged packet so far
	closed     bool   // PSH, a short segment or an unmergeable packet ended it
	hash       uint32
}

// NewCoalescer returns a Coalescer for batches of at most maxBatch packets.
func NewCoalescer(maxBatch int) *Coalescer {
	maxBatch = max(maxBatch, 1)
	return &Coalescer{
		maxBatch: maxBatch,
		segs:     make([]segInfo, maxBatch),
		next:     make([]int, maxBatch),
		runs:     make([]run, 0, maxBatch),
		result:   make([]Output, 0, maxBatch),
	}
}

// maxUDPSegments bounds the datagrams of one merged UDP packet: the kernel
// refuses UDP GSO packets of more segments (UDP_MAX_SEGMENTS on older
// kernels), and its own GRO stops at the same count.
const maxUDPSegments = 64

// MergeUDP makes c also merge UDP datagrams of one flow into UDP_L4 GSO
// packets, for a TUN that accepts them (TUN_F_USO4 and TUN_F_USO6): a run
// of datagrams with the same addresses, ports and IP header fields,
// payloads equal to the first's except a smaller last, each with a valid
// checksum (never a zero one), at most maxUDPSegments. The kernel splits
// such a packet back into exactly those datagrams before any socket sees
// them, so a flood costs one TUN write per run instead of one per datagram.
func (c *Coalescer) MergeUDP() { c.udp = true }

// Coalesce merges the TCP segments in pkts (IP packets, no virtio_net_hdr)
// that continue each other: same addresses, ports and ACK number, consecutive
// sequence numbers, equal IP header fields apart from length, ID and
// checksum (IPv4 without options and not a fragment; IPv6 without extension
// headers), equal TCP options and window, flags ACK or ACK|PSH only, a valid
// TCP (and IPv4 header) checksum, payloads equal in size to the first
// except a smaller last one, PSH only on the last, and at most 65535 bytes of
// IP packet. A segment joins the newest open run of its flow that it
// continues; a segment that continues none starts a run of its own (runs are
// only ever appended to, never prepended). A merged segment moves up to its
// run's first packet, so with out-of-order input a segment can be written
// before earlier-arriving packets of its flow; in-order input stays in order.
//
// Each run of two or more is built into the next unused outs buffer: a
// virtio_net_hdr (NEEDS_CSUM, GSO TCPv4/TCPv6, gso_size = first payload
// size, csum_start/offset at the TCP checksum, which holds the pseudo-header
// sum) followed by the merged packet. Buffers of MaxCoalescedLen never limit
// merging; when outs runs out or a buffer is too short, the run's packets are
// passed through one by one instead. Every other packet (single segments,
// UDP, anything not eligible) is reported by index and left untouched.
//
// The returned slice holds one Output per packet to write, ordered by the
// arrival of each output's first packet; it is owned by c and valid until the
// next call. pkts and its buffers are only read. The sole error is
// ErrBatchTooLarge.
func (c *Coalescer) Coalesce(pkts [][]byte, outs [][]byte) ([]Output, error) {
	if len(pkts) > c.maxBatch {
		return nil, ErrBatchTooLarge
	}
	c.runs = c.runs[:0]
	c.result = c.result[:0]
	for i, p := range pkts {
		c.next[i] = -1
		s := &c.segs[i]
		if !s.parse(p, c.udp) {
			c.runs = append(c.runs, run{head: i, tail: i, count: 1, closed: true})
			continue
		}
		if !c.join(pkts, i) {
			c.runs = append(c.runs, run{
				head: i, tail: i, count: 1,
				nextSeq: s.seq + uint32(s.payload),
				gsoSize: s.payload,
				ipLen:   s.ipLen,
				closed:  s.psh,
				hash:    s.hash,
			})
		}
	}
	c.emit(pkts, outs)
	return c.result, nil
}

// join appends pkts[i] to the newest open run it continues and reports
// whether pkts[i] was placed; if not, the caller starts a run with it. A
// packet whose checksum fails is placed in a closed run of its own, so that
// it reaches the kernel (and its drop counters) unmerged.
func (c *Coalescer) join(pkts [][]byte, i int) bool {
	s := &c.segs[i]
	for r := len(c.runs) - 1; r >= 0; r-- {
		rn := &c.runs[r]
		if rn.closed || rn.hash != s.hash || !c.continues(pkts, rn, i) {
			continue
		}
		if !c.checksumOK(pkts, i) {
			c.runs = append(c.runs, run{head: i, tail: i, count: 1, closed: true})
			return true
		}
		if rn.count == 1 && !c.checksumOK(pkts, rn.head) {
			rn.closed = true
			return false
		}
		c.next[rn.tail] = i
		rn.tail = i
		rn.count++
		rn.nextSeq += uint32(s.payload)
		rn.ipLen += s.payload
		rn.closed = s.psh || s.payload < rn.gsoSize
		return true
	}
	return false
}

// checksumOK verifies pkts[i]'s TCP checksum once and remembers the answer.
// Merging makes the kernel trust the merged checksum (CHECKSUM_PARTIAL), so
// a corrupt segment must never be merged.
func (c *Coalescer) checksumOK(pkts [][]byte, i int) bool {
	s := &c.segs[i]
	if !s.csumChecked {
		s.csumChecked = true
		proto := uint8(encap.ProtoTCP)
		if s.udp {
			proto = encap.ProtoUDP
		}
		s.csumValid = l4ChecksumValid(pkts[i][:s.ipLen], s.ipHdrLen, s.v6, proto)
	}
	return s.csumValid
}
