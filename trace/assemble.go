package trace

import (
	"net/netip"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
)

// idleFlush is how long a packet whose last stage may or may not be its
// end (an egress drop for TTL or size, which an ICMP answer may follow)
// waits before it is emitted anyway. Packets in the middle of their path
// are never emitted by time: a forwarding goroutine can be descheduled
// between two stages for longer than any timeout; they end with a
// terminal stage, when the next packet of their direction starts, or when
// the session ends.
const idleFlush = 250 * time.Millisecond

// pending is a packet whose stages are still arriving.
type pending struct {
	rec      Record
	dir      dataplane.Direction
	next     uint32 // expected index of the next stage
	last     time.Time
	lastDrop bool   // the last stage so far is a drop
	recv     []byte // received bytes (copy), their full length and sender
	recvLen  int
	recvFrom netip.AddrPort
	wire     []byte // encapsulated bytes (copy), their full length, tunnel and peer
	wireLen  int
	kind     encap.Kind
	to       netip.AddrPort
}

// assembler groups stages by packet and emits whole Records.
type assembler struct {
	local Local
	open  map[uint64]*pending
	byDir [2]uint64 // id of the open packet of each direction
}

func newAssembler(local Local) *assembler {
	return &assembler{local: local, open: map[uint64]*pending{}}
}

// add takes one stage out of the ring (the slot is reused after add
// returns, so everything kept is copied).
func (a *assembler) add(s *slot, emit func(*Record) error) error {
	dir := s.ev.Dir & 1
	p := a.open[s.id]
	if p == nil {
		// Stages of one direction arrive packet after packet: a new id
		// means the previous packet of that direction is finished.
		if prev := a.open[a.byDir[dir]]; prev != nil {
			if err := a.finish(a.byDir[dir], prev, emit); err != nil {
				return err
			}
		}
		p = &pending{dir: s.ev.Dir}
		p.rec = Record{ID: s.id, Time: time.Unix(0, s.when).UTC(), Dir: s.ev.Dir.String()}
		a.open[s.id] = p
		a.byDir[dir] = s.id
	}
	if s.index != p.next {
		p.rec.Incomplete = true
	}
	p.next = s.index + 1
	p.last, p.lastDrop = time.Now(), s.ev.Stage == dataplane.StageDrop
	a.note(p, s)
	if terminal(&s.ev) {
		return a.finish(s.id, p, emit)
	}
	return nil
}

// note keeps what the record needs from stage s beyond its Step.
func (a *assembler) note(p *pending, s *slot) {
	ev := &s.ev
	p.rec.Stages = append(p.rec.Stages, stepOf(s))
	switch ev.Stage {
	case dataplane.StageReceive:
		p.rec.Port, p.rec.Generation = ev.Port, ev.Generation
		p.recv, p.recvLen, p.recvFrom = append([]byte(nil), s.data...), s.origLen, ev.Outer
	case dataplane.StageEncap:
		p.wire, p.wireLen, p.kind, p.to = append([]byte(nil), s.data...), s.origLen, ev.Kind, ev.Outer
	}
}

func (a *assembler) finish(id uint64, p *pending, emit func(*Record) error) error {
	delete(a.open, id)
	if a.byDir[p.dir&1] == id {
		a.byDir[p.dir&1] = 0
	}
	p.rec.Verdict = verdict(&p.rec)
	a.setWire(p)
	return emit(&p.rec)
}

// setWire picks the packet bytes a capture should show: the encapsulated
// packet on egress when there is one, else what was received; tunnel
// payloads get the outer IP and UDP headers the kernel would add.
func (a *assembler) setWire(p *pending) {
	r := &p.rec
	if a.local.Frames {
		if ip, ok := etherPayload(p.wire); ok && p.dir == dataplane.Egress {
			r.Wire, r.WireLen = ip, p.wireLen-(len(p.wire)-len(ip))
			return
		}
		if ip, ok := etherPayload(p.recv); ok && p.dir == dataplane.Ingress {
			r.Wire, r.WireLen = ip, p.recvLen-(len(p.recv)-len(ip))
			return
		}
	}
	switch {
	case p.wire != nil && p.dir == dataplane.Egress:
		r.Wire, r.WireLen, r.WireSynthesized = wrapOuter(p.wire, p.wireLen, p.kind, a.local.tunnelEnd(), p.to)
	case p.recv != nil && p.dir == dataplane.Ingress && !isIP(p.recv):
		r.Wire, r.WireLen, r.WireSynthesized = wrapOuter(p.recv, p.recvLen, a.local.Kind, p.recvFrom, a.local.tunnelEnd())
	case p.recv != nil:
		r.Wire, r.WireLen = p.recv, p.recvLen
	}
}

// flushIdle emits the packets that ended in a drop and got no stage for
// idleFlush.
func (a *assembler) flushIdle(now time.Time, emit func(*Record) error) error {
	return a.flush(func(p *pending) bool { return p.lastDrop && now.Sub(p.last) >= idleFlush }, emit)
}

// flushAll emits every open packet.
func (a *assembler) flushAll(emit func(*Record) error) error {
	return a.flush(func(*pending) bool { return true }, emit)
}

func (a *assembler) flush(due func(*pending) bool, emit func(*Record) error) error {
	for id, p := range a.open {
		if due(p) {
			if err := a.finish(id, p, emit); err != nil {
				return err
			}
		}
	}
	return nil
}

func isIP(b []byte) bool { return len(b) > 0 && (b[0]>>4 == 4 || b[0]>>4 == 6) }
