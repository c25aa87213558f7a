package dataplane

import (
	"net/netip"
	"sync"
)

// MemPort is an in-memory Port for tests and benchmarks: packets injected
// with Inject (or replayed forever from Replay) are returned by ReadBatch;
// packets written are counted and, unless Discard is set, copied into
// Written. It is safe for concurrent use.
type MemPort struct {
	name  string
	batch int

	mu      sync.Mutex
	wake    chan struct{}
	closed  bool
	queue   []memFrame
	replay  []memFrame
	next    int
	Discard bool // count writes without keeping them (benchmarks)

	written      []memFrame
	WrittenCount uint64
	WrittenBytes uint64
}

type memFrame struct {
	data     []byte
	addr     netip.AddrPort
	segments int
	segSize  int
}

// NewMemPort returns an empty port that reads and writes batches of up to
// batch packets.
func NewMemPort(name string, batch int) *MemPort {
	return &MemPort{name: name, batch: batch, wake: make(chan struct{}, 1)}
}

// Name implements Port.
func (m *MemPort) Name() string { return m.name }

// BatchSize implements Port.
func (m *MemPort) BatchSize() int { return m.batch }

// Inject queues a copy of pkt as if it arrived from addr.
func (m *MemPort) Inject(pkt []byte, addr netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.queue = append(m.queue, memFrame{data: append([]byte(nil), pkt...), addr: addr})
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Replay makes ReadBatch return copies of frames, cycling forever, whenever
// nothing was injected. Reads then never block and never allocate.
func (m *MemPort) Replay(frames [][]byte, addr netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.replay = m.replay[:0]
	for _, f := range frames {
		m.replay = append(m.replay, memFrame{data: append([]byte(nil), f...), addr: addr})
	}
}

// ReadBatch implements Port. It blocks until a packet is available or the
// port is closed.
func (m *MemPort) ReadBatch(pkts []*Packet) (int, error) { return m.read(pkts, false) }

// TryReadBatch implements TryReader: ReadBatch without waiting.
func (m *MemPort) TryReadBatch(pkts []*Packet) (int, error) { return m.read(pkts, true) }

func (m *MemPort) read(pkts []*Packet, try bool) (int, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return 0, ErrPortClosed
		}
		n := 0
		for n < len(pkts) && n < m.batch && (len(m.queue) > 0 || len(m.replay) > 0) {
			var f memFrame
			if len(m.queue) > 0 {
				f = m.queue[0]
				m.queue = m.queue[1:]
			} else {
				f = m.replay[m.next%len(m.replay)]
				m.next++
			}
			p := pkts[n]
			p.SetLen(copy(p.Buf[p.Start:], f.data))
			p.Addr = f.addr
			n++
		}
		m.mu.Unlock()
		if n > 0 || try {
			return n, nil
		}
		<-m.wake
	}
}

// WriteBatch implements Port.
func (m *MemPort) WriteBatch(pkts []*Packet) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrPortClosed
	}
	for _, p := range pkts {
		m.WrittenCount++
		m.WrittenBytes += uint64(p.Len())
		if !m.Discard {
			m.written = append(m.written, memFrame{
				data: append([]byte(nil), p.Bytes()...), addr: p.Addr,
				segments: p.Segments, segSize: p.SegmentSize,
			})
		}
	}
	return len(pkts), nil
}

// Written returns copies of everything written so far and forgets them.
// A GSO train written as one packet is returned split into its datagrams.
func (m *MemPort) Written() (pkts [][]byte, addrs []netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.written {
		if f.segments > 1 {
			for off := 0; off < len(f.data); off += f.segSize {
				pkts = append(pkts, f.data[off:min(off+f.segSize, len(f.data))])
				addrs = append(addrs, f.addr)
			}
			continue
		}
		pkts = append(pkts, f.data)
		addrs = append(addrs, f.addr)
	}
	m.written = nil
	return pkts, addrs
}

// Close implements Port; blocked and later reads return ErrPortClosed.
func (m *MemPort) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		close(m.wake)
	}
	return nil
}
