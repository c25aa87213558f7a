package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/podfwd/podfwd/internal/topo"
)

// ErrKernelGeneve is wrapped when this kernel cannot create a Geneve device.
var ErrKernelGeneve = errors.New("kernel geneve device not available")

// probeKernelGeneve tries for real what a kernel Geneve row needs: create
// a Geneve device in node 1 (then remove it). On a kernel without the
// geneve module `ip link add` fails, and its message is the reason.
func probeKernelGeneve(ctx context.Context, tp *topo.Topology) error {
	n, peer := tp.Nodes[0], tp.Nodes[1]
	out, err := n.Command(ctx, "ip", "link", "add", "pfprobe0", "type", "geneve",
		"id", "1", "remote", peer.UnderlayIPv4.String()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: ip link add type geneve: %s", ErrKernelGeneve, strings.TrimSpace(string(out)))
	}
	_ = n.Command(ctx, "ip", "link", "del", "pfprobe0").Run()
	return nil
}
