package node

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
	"golang.org/x/sys/unix"
)

// pathMTUExpiry is how long a learned path MTU holds before it is
// forgotten, so that the next large packet probes the path again, as the
// kernel's net.ipv4.route.mtu_expires (10 minutes) does.
const pathMTUExpiry = 10 * time.Minute

// pathMTUCheck is how often expired path MTUs are looked for.
const pathMTUCheck = 30 * time.Second

// pathMTUs learns the path MTU toward each peer from the ICMP errors the
// underlay sends about our own tunnel packets (fragmentation needed,
// packet too big), and hands each to the dataplane through the peer's
// dataplane.PathMTU, which the egress loops read lock-free.
//
// The errors are read from raw ICMP sockets, which see a copy of every
// ICMP message the node's kernel receives, whoever sent the quoted
// packet: the kernel's own path MTU cache learns only for packets of a
// socket it can match (not for our whole frames from AF_XDP or the
// tunnel TAP, whose source ports are flow hashes), and it tells nobody.
// Only errors quoting a packet from our underlay address to a peer's,
// with our tunnel's protocol and port, count. It is also the metrics
// collector of what it learned (podfwd_path_mtu_bytes).
type pathMTUs struct {
	log         *slog.Logger
	match       tunnelMatch
	underlayMTU int

	mu sync.Mutex
	// peers holds the cells of the last config attach saw, by underlay
	// address; a peer that stays keeps its cell (and what it learned).
	peers map[netip.Addr]*learnedMTU
}

type learnedMTU struct {
	cell dataplane.PathMTU
	at   time.Time // when the value was learned; zero while unknown
}

func newPathMTUs(log *slog.Logger, cfg *dataplane.Config) *pathMTUs {
	m := tunnelMatch{local: cfg.LocalUnderlay, port: cfg.Port}
	if m.port == 0 {
		switch cfg.Encap {
		case encap.KindVXLAN:
			m.port = encap.DefaultVXLANPort
		case encap.KindGeneve:
			m.port = encap.DefaultGenevePort
		}
	}
	mtu := cfg.UnderlayMTU
	if mtu == 0 {
		mtu = 1500
	}
	return &pathMTUs{log: log, match: m, underlayMTU: mtu, peers: map[netip.Addr]*learnedMTU{}}
}

// attach returns a copy of cfg whose peers point to their path MTU cells.
// cfg itself is left alone: the caller may still hold it.
func (p *pathMTUs) attach(cfg *dataplane.Config) *dataplane.Config {
	out := *cfg
	out.Peers = slices.Clone(cfg.Peers)
	p.mu.Lock()
	defer p.mu.Unlock()
	next := make(map[netip.Addr]*learnedMTU, len(out.Peers))
	for i := range out.Peers {
		a := out.Peers[i].Underlay
		l := p.peers[a]
		if l == nil {
			l = &learnedMTU{}
		}
		next[a] = l
		out.Peers[i].PathMTU = &l.cell
	}
	p.peers = next
	return &out
}

// learn records what one ICMP error says. Like the kernel, it only ever
// lowers a path MTU; raising it is expiry's job.
func (p *pathMTUs) learn(tb tooBig, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.peers[tb.peer]
	if l == nil || tb.mtu >= p.underlayMTU {
		return
	}
	if cur := l.cell.Load(); cur != 0 && cur <= tb.mtu {
		return
	}
	l.cell.Store(tb.mtu, tb.peer.Is6())
	l.at = now
	p.log.Info("path MTU learned", "peer", tb.peer, "mtu", l.cell.Load())
}

// expire forgets path MTUs learned longer than pathMTUExpiry before now.
func (p *pathMTUs) expire(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a, l := range p.peers {
		if !l.at.IsZero() && now.Sub(l.at) >= pathMTUExpiry {
			l.cell.Store(0, false)
			l.at = time.Time{}
			p.log.Info("path MTU expired", "peer", a)
		}
	}
}

// run reads ICMP errors until ctx ends. Without a raw socket (no
// CAP_NET_RAW) it warns and returns: pods then get the tunnel MTU alone.
func (p *pathMTUs) run(ctx context.Context) {
	conn, err := p.listen()
	if err != nil {
		p.log.Warn("path MTU discovery off: cannot read ICMP errors", "err", err)
		return
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	parse := parseFragNeeded4
	if p.match.local.Is6() {
		parse = parseTooBig6
	}
	buf := make([]byte, 2048)
	// Expiry runs on the clock, not only when the socket is quiet: other
	// destination-unreachable errors may arrive more often than that.
	nextCheck := time.Now().Add(pathMTUCheck)
	for {
		_ = conn.SetReadDeadline(nextCheck)
		n, _, err := conn.ReadFrom(buf)
		now := time.Now()
		if !now.Before(nextCheck) {
			p.expire(now)
			nextCheck = now.Add(pathMTUCheck)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("path MTU discovery stopped", "err", err)
			}
			return
		}
		if tb, ok := parse(buf[:n], p.match); ok {
			p.learn(tb, now)
		}
	}
}

// listen opens the raw ICMP socket of the underlay's family, filtered in
// the kernel down to the one ICMP type that can carry an MTU.
func (p *pathMTUs) listen() (*net.IPConn, error) {
	network, filter := "ip4:icmp", func(fd uintptr) error {
		// ICMP_FILTER: a set bit drops that type.
		return unix.SetsockoptInt(int(fd), unix.SOL_RAW, unix.ICMP_FILTER, ^(1 << icmp4DestUnreach))
	}
	if p.match.local.Is6() {
		network, filter = "ip6:ipv6-icmp", func(fd uintptr) error {
			var f unix.ICMPv6Filter
			for i := range f.Data {
				f.Data[i] = ^uint32(0)
			}
			f.Data[icmp6TooBig>>5] &^= 1 << (icmp6TooBig & 31)
			return unix.SetsockoptICMPv6Filter(int(fd), unix.SOL_ICMPV6, unix.ICMPV6_FILTER, &f)
		}
	}
	conn, err := net.ListenIP(network, nil)
	if err != nil {
		return nil, err
	}
	rc, err := conn.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) { err = filter(fd) })
		err = errors.Join(cerr, err)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}
