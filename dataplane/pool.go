package dataplane

// Pool is a bounded set of packet buffers carved from one allocation, so a
// forwarding loop allocates all its memory once and the number of buffers
// in flight can never grow. Get returns nil when every packet is out,
// instead of allocating. A Pool belongs to one goroutine (each forwarding
// loop owns its own), which is why it needs no lock.
type Pool struct {
	free  []*Packet
	total int
}

// NewPool returns a pool of n packets of bufSize bytes each (Headroom
// included).
func NewPool(n, bufSize int) *Pool {
	slab := make([]byte, n*bufSize)
	store := make([]Packet, n)
	p := &Pool{free: make([]*Packet, n), total: n}
	for i := range store {
		store[i].Buf = slab[i*bufSize : (i+1)*bufSize : (i+1)*bufSize]
		p.free[i] = &store[i]
	}
	return p
}

// Get takes a packet, reset to an empty packet with Headroom in front, or
// returns nil when the pool is exhausted.
func (p *Pool) Get() *Packet {
	n := len(p.free)
	if n == 0 {
		return nil
	}
	pkt := p.free[n-1]
	p.free = p.free[:n-1]
	pkt.Reset(Headroom)
	return pkt
}

// Put returns a packet taken with Get. Putting more packets than the pool
// holds (a double Put) is a bug and is ignored rather than growing the pool.
func (p *Pool) Put(pkt *Packet) {
	if len(p.free) < p.total {
		p.free = append(p.free, pkt)
	}
}

// Available returns how many packets Get can still return.
func (p *Pool) Available() int { return len(p.free) }
