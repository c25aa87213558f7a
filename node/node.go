// Package node is the per-node podfwd daemon as a library: from a
// validated config it opens the ports of the configured io path, programs
// the host (TUN, routes, masquerade, XDP programs), starts the dataplane
// engine, follows the config source (a static file or the Kubernetes
// API), the underlay's neighbours and the local pods, serves metrics and
// the admin socket, and on the way out removes everything it created.
// cmd/podfwd only parses flags and calls Run.
package node

import (
	"context"
	"log/slog"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
)

// Options are what Run needs. File is validated (config.LoadFile and
// DataplaneConfig or KubeBaseConfig succeeded); Config is the dataplane
// config it yields, or with Kubernetes the template of every config, and
// nil only when File.NeedsNodeUnderlay (the underlay address is then read
// from our Node).
type Options struct {
	Log    *slog.Logger
	File   *config.File
	Config *dataplane.Config
}

// Run runs the node until ctx ends, then takes down what it set up. It
// returns an error when the start fails (nothing is left behind then) or
// the dataplane stops on its own.
func Run(ctx context.Context, opts Options) error {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.File.Kubernetes.Enabled {
		return runKube(ctx, opts.Log, opts.File, opts.Config)
	}
	return runDaemon(ctx, opts.Log, opts.File, opts.Config, nil, nil)
}
