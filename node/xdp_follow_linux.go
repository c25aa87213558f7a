package node

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// frameConfigs installs every config of io xdp: the control plane's, with
// the Ethernet addresses filled in, and the same again whenever one of
// those addresses changes in the kernel (our interface's MAC, a next hop
// resolved, replaced or failed). One mutex orders both kinds, so a
// Kubernetes update and a MAC change never overwrite each other.
type frameConfigs struct {
	log     *slog.Logger
	ifname  string
	install func(*dataplane.Config) error // split, Engine.SetConfig, routes
	// installedNew is signalled (never blocking) after each install, so
	// that the follower asks at once for the next hops of new peers.
	installedNew chan struct{}

	mu        sync.Mutex
	source    *dataplane.Config // the control plane's latest
	installed *dataplane.Config // source with the MACs, in force
	ifindex   int
	hops      map[netip.Addr]peerNextHop // by peer underlay, as last read
}

// newFrameConfigs starts from cfg, installed by the start with its MACs
// filled in (resolvePeerMACs).
func newFrameConfigs(log *slog.Logger, ifname string, cfg *dataplane.Config, install func(*dataplane.Config) error) *frameConfigs {
	return &frameConfigs{log: log, ifname: ifname, install: install, installedNew: make(chan struct{}, 1), source: cfg, installed: cfg}
}

// update installs a config from the control plane; applyUpdates calls it.
// It does not wait for unresolved next hops: their peers' frames are
// dropped until the follower sees them resolve.
func (k *frameConfigs) update(next *dataplane.Config) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.apply(next, true)
}

// refresh re-reads the kernel's tables and installs the source again if an
// address changed.
func (k *frameConfigs) refresh() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.apply(k.source, false)
}

func (k *frameConfigs) apply(src *dataplane.Config, always bool) error {
	ul, err := netlink.LinkByName(k.ifname)
	if err != nil {
		return fmt.Errorf("underlay interface %s: %w", k.ifname, err)
	}
	fa, err := readFrameAddresses(ul, src)
	if err != nil {
		return err
	}
	k.ifindex, k.hops = ul.Attrs().Index, fa.peers
	next, changes := withFrameAddresses(src, k.installed, fa)
	if !always && len(changes) == 0 {
		return nil
	}
	if err := k.install(next); err != nil {
		return err
	}
	k.source, k.installed = src, next
	logMACChanges(k.log, next.Generation, changes)
	select {
	case k.installedNew <- struct{}{}:
	default:
	}
	return nil
}

// nextHops returns the underlay's ifindex and the next hops as last read:
// those without a usable entry and those whose entry is STALE.
func (k *frameConfigs) nextHops() (ifindex int, unresolved, stale []netip.Addr) {
	k.mu.Lock()
	defer k.mu.Unlock()
	seen := map[netip.Addr]bool{}
	for _, h := range k.hops {
		if !h.hop.IsValid() || seen[h.hop] {
			continue
		}
		seen[h.hop] = true
		switch {
		case !h.resolved():
			unresolved = append(unresolved, h.hop)
		case h.stale:
			stale = append(stale, h.hop)
		}
	}
	return k.ifindex, unresolved, stale
}

// concerns reports whether a neighbour update tells something new about a
// next hop in use: its usable MAC differs from the one installed.
func (k *frameConfigs) concerns(u netlink.NeighUpdate) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if u.LinkIndex != k.ifindex {
		return false
	}
	ip, _ := netip.AddrFromSlice(u.IP)
	mac, _ := usableMAC(u.Neigh)
	if u.Type == unix.RTM_DELNEIGH {
		mac = [6]byte{}
	}
	for _, p := range k.installed.Peers {
		if h := k.hops[p.Underlay]; h.hop == ip.Unmap() && p.UnderlayMAC != mac {
			return true
		}
	}
	return false
}

// followTiming paces the follower.
type followTiming struct {
	settle   time.Duration // after an event, gather more for this long before re-reading once
	recheck  time.Duration // re-read (and re-confirm STALE next hops) this often regardless
	askFirst time.Duration // first interval between requests for an unresolved next hop
	askMax   time.Duration // the interval doubles up to this
}

var defaultFollowTiming = followTiming{settle: 50 * time.Millisecond, recheck: 30 * time.Second, askFirst: time.Second, askMax: 10 * time.Second}

// followNeighbours keeps k's installed MACs equal to the kernel's tables
// until ctx ends: it re-reads them on every neighbour, route or link
// update of the underlay (and every recheck, should an update be lost),
// asks the kernel to resolve unresolved next hops at a bounded rate, and
// to re-confirm STALE ones at each recheck — the kernel never sees our
// frames, so without that it would never notice a next hop's new MAC.
func followNeighbours(ctx context.Context, log *slog.Logger, k *frameConfigs, timing followTiming) {
	done := make(chan struct{})
	defer close(done)
	var (
		neighs chan netlink.NeighUpdate
		routes chan netlink.RouteUpdate
		links  chan netlink.LinkUpdate
	)
	subscribe := func() {
		report := func(err error) { log.Debug("netlink subscription", "err", err) }
		resubscribe(log, "neighbour", &neighs, timing.recheck, func(ch chan netlink.NeighUpdate) error {
			return netlink.NeighSubscribeWithOptions(ch, done, netlink.NeighSubscribeOptions{ErrorCallback: report})
		})
		resubscribe(log, "route", &routes, timing.recheck, func(ch chan netlink.RouteUpdate) error {
			return netlink.RouteSubscribeWithOptions(ch, done, netlink.RouteSubscribeOptions{ErrorCallback: report})
		})
		resubscribe(log, "link", &links, timing.recheck, func(ch chan netlink.LinkUpdate) error {
			return netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{ErrorCallback: report})
		})
	}
	subscribe()
	defer func() { // the subscriptions' goroutines end once they can hand over what they hold
		go drain(neighs)
		go drain(routes)
		go drain(links)
	}()

	recheck := time.NewTicker(timing.recheck)
	defer recheck.Stop()
	askTick := time.NewTicker(timing.askFirst)
	defer askTick.Stop()
	// The first read happens at once; later events arm the timer only
	// when it is not armed already, so a storm of updates costs one
	// re-read per settle and never postpones it.
	settle, armed := time.NewTimer(0), true
	defer settle.Stop()
	arm := func() {
		if !armed {
			settle.Reset(timing.settle)
			armed = true
		}
	}
	asks := newAskSchedule(timing.askFirst, timing.askMax)
	refresh := func() {
		if err := k.refresh(); err != nil {
			log.Error("re-reading the underlay's addresses; keeping the installed ones", "err", err)
		}
	}
	ask := func(ifindex int, hops []netip.Addr) {
		for _, h := range hops {
			if err := askNeighbour(ifindex, h); err != nil {
				log.Debug("neighbour request", "nextHop", h, "err", err)
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-neighs:
			if !ok {
				neighs = nil
				continue
			}
			if k.concerns(u) {
				arm()
			}
		case _, ok := <-routes:
			if !ok {
				routes = nil
				continue
			}
			arm()
		case u, ok := <-links:
			if !ok {
				links = nil
				continue
			}
			if u.Attrs().Name == k.ifname {
				arm()
			}
		case <-settle.C:
			armed = false
			refresh()
			ifindex, unresolved, _ := k.nextHops()
			ask(ifindex, asks.due(time.Now(), unresolved))
		case <-askTick.C:
			ifindex, unresolved, _ := k.nextHops()
			ask(ifindex, asks.due(time.Now(), unresolved))
		case <-k.installedNew:
			ifindex, unresolved, _ := k.nextHops()
			ask(ifindex, asks.due(time.Now(), unresolved))
		case <-recheck.C:
			subscribe()
			refresh()
			ifindex, unresolved, stale := k.nextHops()
			ask(ifindex, append(asks.due(time.Now(), unresolved), stale...))
		}
	}
}

// resubscribe subscribes *ch with sub unless it is subscribed already (a
// subscription whose socket failed has its channel closed and set to nil).
func resubscribe[T any](log *slog.Logger, what string, ch *chan T, recheck time.Duration, sub func(chan T) error) {
	if *ch != nil {
		return
	}
	c := make(chan T, 256)
	if err := sub(c); err != nil {
		log.Warn(what+" updates not followed; re-reading every recheck only", "recheck", recheck, "err", err)
		return
	}
	*ch = c
}

func drain[T any](ch chan T) {
	for ch != nil {
		if _, ok := <-ch; !ok {
			return
		}
	}
}

// askSchedule spaces out the requests for each unresolved next hop: the
// first at once, then at intervals doubling from first to max, so a dead
// peer costs one solicitation round every max at most.
type askSchedule struct {
	first, max time.Duration
	hops       map[netip.Addr]askState
}

type askState struct {
	at    time.Time     // not before
	every time.Duration // the interval after the next request
}

func newAskSchedule(first, max time.Duration) *askSchedule {
	return &askSchedule{first: first, max: max, hops: map[netip.Addr]askState{}}
}

// due returns the next hops of unresolved to ask for at now and books
// their next turn; hops that are no longer unresolved start afresh when
// they are again.
func (s *askSchedule) due(now time.Time, unresolved []netip.Addr) []netip.Addr {
	var out []netip.Addr
	keep := make(map[netip.Addr]askState, len(unresolved))
	for _, h := range unresolved {
		st, known := s.hops[h]
		if !known {
			st = askState{at: now, every: s.first}
		}
		if !now.Before(st.at) {
			out = append(out, h)
			st.at = now.Add(st.every)
			st.every = min(2*st.every, s.max)
		}
		keep[h] = st
	}
	s.hops = keep
	return out
}
