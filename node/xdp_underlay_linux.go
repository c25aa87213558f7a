package node

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/dataplane/xdpport"
	"github.com/vishvananda/netlink"
)

// openUnderlayXDP opens the underlay side of io xdp: one AF_XDP socket per
// receive queue of ul (or only xdp.queue when the config names one) behind
// one redirect program, served to the engine as one port. A NIC spreads
// flows over its queues (RSS; a veth delivers on the queue its peer sent
// on), so a socket on one queue alone would leave the tunnel packets of
// the others to the kernel, which has no use for them.
func openUnderlayXDP(log *slog.Logger, file *config.File, cfg *dataplane.Config, ul netlink.Link) (*loggedXDPPort, string, error) {
	name := ul.Attrs().Name
	queues := underlayQueues(file, ul)
	if file.XDP.Queue != nil {
		if n := rxQueues(ul); n > 1 {
			log.Warn("xdp.queue restricts io xdp to one of the underlay's receive queues; tunnel packets on the others pass to the kernel and are lost",
				"interface", name, "queues", n, "queue", *file.XDP.Queue)
		}
	}
	opts, err := xdpPortOptions(file, cfg, name)
	if err != nil {
		return nil, "", err
	}
	opts.Socket.NumFrames = framesPerQueue(len(queues))
	g, err := retryWhileBusy(log, "AF_XDP on "+name, func() (*xdpport.Group, error) {
		return xdpport.OpenQueues(ul.Attrs().Index, queues, opts)
	})
	if err != nil {
		return nil, "", fmt.Errorf("AF_XDP on %s queues %v: %w", name, queues, err)
	}
	for _, m := range g.Members() {
		log.Info("AF_XDP underlay", "interface", name, "queue", m.Queue(),
			"attach", m.AttachMode().String(), "zeroCopy", m.ZeroCopy(), "replacedStale", m.ReplacedProgram(),
			"mac", ul.Attrs().HardwareAddr.String())
	}
	first := g.Members()[0]
	offloads := fmt.Sprintf(" xdp=%s zeroCopy=%v queues=%s", g.AttachMode(), first.ZeroCopy(), joinInts(queues))
	return &loggedXDPPort{Port: g, log: log}, offloads, nil
}

// underlayQueues lists the receive queues to open: xdp.queue when set,
// else every queue of ul (queue 0 alone when the count is unknown).
func underlayQueues(file *config.File, ul netlink.Link) []int {
	if q := file.XDP.Queue; q != nil {
		return []int{*q}
	}
	n := max(1, rxQueues(ul))
	queues := make([]int, n)
	for i := range queues {
		queues[i] = i
	}
	return queues
}

// The UMEM budget of the underlay: every queue gets maxQueueFrames frames
// while the total stays within underlayFrames, and no queue fewer than
// minQueueFrames. With 4 KiB frames: 16 MiB per queue up to 4 queues, 64
// MiB in all up to 32 queues, 2 MiB per queue beyond (a 64-queue NIC
// would otherwise pin 1 GiB).
const (
	underlayFrames = 16384
	maxQueueFrames = 4096
	minQueueFrames = 512
)

// framesPerQueue is the UMEM size, in frames, of each of queues sockets.
func framesPerQueue(queues int) int {
	return min(maxQueueFrames, max(minQueueFrames, underlayFrames/max(1, queues)))
}

// rxQueues counts the receive queues the interface uses: the rx-* entries
// of its sysfs directory (the queues in use, which an AF_XDP socket can
// bind), when that sysfs shows our namespace's interface (same ifindex);
// otherwise the count netlink reports (the queues allocated). 0 if unknown.
func rxQueues(ul netlink.Link) int {
	dir := filepath.Join("/sys/class/net", ul.Attrs().Name)
	if idx, err := os.ReadFile(filepath.Join(dir, "ifindex")); err == nil && strings.TrimSpace(string(idx)) == strconv.Itoa(ul.Attrs().Index) {
		if m, _ := filepath.Glob(filepath.Join(dir, "queues", "rx-*")); len(m) > 0 {
			return len(m)
		}
	}
	return ul.Attrs().NumRxQueues
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// loggedXDPPort is the underlay port of io xdp. When the engine closes it,
// it logs each socket's counters, so that drops inside AF_XDP (fill ring
// empty, RX ring full) are seen beside the engine's own counters, and how
// the traffic spread over the queues.
type loggedXDPPort struct {
	// Port is the group of sockets, one per receive queue served.
	Port *xdpport.Group
	log  *slog.Logger
}

func (p *loggedXDPPort) Name() string   { return p.Port.Name() }
func (p *loggedXDPPort) BatchSize() int { return p.Port.BatchSize() }
func (p *loggedXDPPort) ReadBatch(pkts []*dataplane.Packet) (int, error) {
	return p.Port.ReadBatch(pkts)
}
func (p *loggedXDPPort) TryReadBatch(pkts []*dataplane.Packet) (int, error) {
	return p.Port.TryReadBatch(pkts)
}
func (p *loggedXDPPort) WriteBatch(pkts []*dataplane.Packet) (int, error) {
	return p.Port.WriteBatch(pkts)
}

func (p *loggedXDPPort) Close() error {
	for _, m := range p.Port.Members() {
		if st, err := m.Stats(); err == nil {
			p.log.Info("xdp counters", "queue", m.Queue(), "received", m.Received(), "sent", m.Sent(),
				"rxDropped", st.RxDropped, "rxInvalid", st.RxInvalidDescs, "txInvalid", st.TxInvalidDescs,
				"rxRingFull", st.RxRingFull, "fillRingEmpty", st.FillRingEmpty)
		}
	}
	return p.Port.Close()
}
