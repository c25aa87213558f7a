package linuxio

import (
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/offload"
	"golang.org/x/sys/unix"
)

// batchPort is the part the UDP and raw IP ports share: a socket driven by
// recvmmsg/sendmmsg, optional UDP GSO on send and GRO on receive.
type batchPort struct {
	name   string
	family int
	c      *mmsgConn
	log    *slog.Logger

	gro bool        // UDP_GRO enabled on the socket: read the cmsg
	gso atomic.Bool // send trains with UDP_SEGMENT; cleared on EIO

	truncated atomic.Uint64 // datagrams dropped because the buffer was too small

	// Per send message: which packet it carries, where its bytes end in
	// that packet, whether it is the packet's last, and whether it is a GSO
	// train.
	txPkt  []int
	txEnd  []int
	txLast []bool
	txGSO  []bool

	// trainIov gathers the datagrams of the UDP_SEGMENT trains one send
	// builds from separate packets (trainLen), one iovec per datagram.
	trainIov []unix.Iovec
}

// maxTrainBytes bounds the payload of one UDP_SEGMENT send built from
// separate datagrams, below the 64 KiB a UDP datagram can carry.
const maxTrainBytes = 65000

func newBatchPort(name string, family int, c *mmsgConn, batch int, log *slog.Logger) *batchPort {
	if log == nil {
		log = slog.Default()
	}
	return &batchPort{
		name: name, family: family, c: c, log: log,
		txPkt: make([]int, batch), txEnd: make([]int, batch),
		txLast: make([]bool, batch), txGSO: make([]bool, batch),
		trainIov: make([]unix.Iovec, batch),
	}
}

// readBatch receives up to len(pkts) datagrams with one recvmmsg, each at
// its packet's Start. Datagrams the kernel truncated are dropped, counted,
// and their packets moved behind the returned ones.
func (b *batchPort) readBatch(pkts []*dataplane.Packet) (int, error) { return b.read(pkts, false) }

// tryReadBatch is readBatch without waiting: 0 and no error when nothing
// (or only truncated datagrams) was queued.
func (b *batchPort) tryReadBatch(pkts []*dataplane.Packet) (int, error) { return b.read(pkts, true) }

func (b *batchPort) read(pkts []*dataplane.Packet, try bool) (int, error) {
	want := min(len(pkts), len(b.c.rx.hdrs))
	if want == 0 {
		return 0, nil
	}
	need := 1
	if b.gro {
		need = MaxGROSize
	}
	for i, p := range pkts[:want] {
		if len(p.Buf)-p.Start < need {
			return 0, fmt.Errorf("%s: packet %d has %d bytes after Start, needs %d: %w",
				b.name, i, len(p.Buf)-p.Start, need, ErrShortBuffer)
		}
	}
	for {
		for i, p := range pkts[:want] {
			b.c.rx.prepRecv(i, p.Buf[p.Start:])
		}
		var n int
		var err error
		if try {
			n, err = b.c.tryRecv(want)
		} else {
			n, err = b.c.recv(want)
		}
		if err != nil || n == 0 {
			return 0, err
		}
		out := 0
		for i := range n {
			h := &b.c.rx.hdrs[i]
			if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
				b.truncated.Add(1)
				continue
			}
			p := pkts[i]
			p.SetLen(int(h.Len))
			p.GSO = offload.VirtioNetHdr{}
			p.Addr, _ = parseSockaddr(b.c.rx.name(i))
			p.Segments, p.SegmentSize = 1, p.Len()
			if b.gro {
				if size, ok := parseGROSize(b.c.rx.receivedControl(i)); ok && size < p.Len() {
					p.Segments, p.SegmentSize = (p.Len()+size-1)/size, size
				}
			}
			if out != i {
				pkts[out], pkts[i] = pkts[i], pkts[out]
			}
			out++
		}
		if out > 0 || try {
			return out, nil
		}
	}
}

// Truncated returns how many received datagrams were dropped because they
// did not fit the buffer after the packet's Start.
func (b *batchPort) Truncated() uint64 { return b.truncated.Load() }
