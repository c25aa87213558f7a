package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/hostnet"
	"github.com/podfwd/podfwd/kube"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
)

// runKube runs the daemon, whose file and configs' template base are
// already validated (base is nil when the underlay address is to be read
// from our Node), with the Kubernetes API as its source of truth:
// it publishes our node's annotations, waits for the first config derived
// from the cluster's Nodes, brings the dataplane up with it, applies every
// later config, and clears our Node's NetworkUnavailable condition once
// the dataplane is up. While the API server is unreachable, forwarding
// goes on with the last config.
func runKube(ctx context.Context, log *slog.Logger, file *config.File, base *dataplane.Config) error {
	client, err := kube.NewClient(file.Kubernetes)
	if err != nil {
		return err
	}
	if base == nil {
		if !retry(ctx, log, "reading our Node's InternalIP for the underlay", func() error {
			return kube.ResolveNodeUnderlay(ctx, client, file)
		}) {
			return nil
		}
		if base, err = file.KubeBaseConfig(hostnet.LookupInterface); err != nil {
			return err
		}
	}
	src, err := kube.NewSource(client, kube.Options{NodeName: file.NodeName, Base: base, Logger: log})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = src.Run(ctx) }()

	ann := kube.NodeAnnotations(base, file.Encap)
	go retry(ctx, log, "publishing node annotations", func() error {
		return kube.PublishNode(ctx, client, file.NodeName, ann)
	})

	log.Info("kubernetes: waiting for the first config", "node", file.NodeName)
	var first *dataplane.Config
	select {
	case <-ctx.Done():
		return nil
	case first = <-src.Updates():
	}
	up := make(chan *dataplane.Config)
	go relayUntilUp(ctx, first, src.Updates(), up, func() {
		if retry(ctx, log, "setting NetworkUnavailable=False", func() error {
			return kube.SetNetworkAvailable(ctx, client, file.NodeName, time.Now())
		}) {
			keepPublished(ctx, log, client, file.NodeName, ann)
		}
	})
	return runDaemon(ctx, log, file, first, up, []prometheus.Collector{newKubeCollector(src)})
}

// relayUntilUp forwards configs from in to out. runDaemon starts reading
// out only once the dataplane is up (ports open, first config installed,
// routes programmed), so it first offers the config it already runs —
// applying it again changes nothing — and the moment that offer is taken
// is the moment the node's network is up: then onUp runs.
func relayUntilUp(ctx context.Context, first *dataplane.Config, in <-chan *dataplane.Config, out chan<- *dataplane.Config, onUp func()) {
	select {
	case <-ctx.Done():
		return
	case out <- first:
	}
	go onUp()
	for {
		select {
		case <-ctx.Done():
			return
		case cfg := <-in:
			select {
			case <-ctx.Done():
				return
			case out <- cfg:
			}
		}
	}
}

// nodeRecheck is how often the daemon checks that its Node still carries
// its annotations and condition: one GET of one Node per node and minute.
const nodeRecheck = time.Minute

// keepPublished re-checks our Node every nodeRecheck until ctx ends and
// writes back what went missing: a Node deleted and registered again by
// its kubelet loses our annotations (peers drop us) and comes back with
// NetworkUnavailable=True (no pods are scheduled to it).
func keepPublished(ctx context.Context, log *slog.Logger, client kubernetes.Interface, node string, ann map[string]string) {
	t := time.NewTicker(nodeRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		wrote, err := kube.EnsurePublished(ctx, client, node, ann, true, time.Now())
		switch {
		case err != nil:
			log.Warn("kubernetes: re-checking our Node", "err", err)
		case wrote:
			log.Info("kubernetes: our Node had lost its podfwd annotations or condition; written again", "node", node)
		}
	}
}

// retry calls f until it succeeds (true) or ctx ends (false), backing
// off from 1 s to 30 s: the API server may be down when the daemon starts.
func retry(ctx context.Context, log *slog.Logger, what string, f func() error) bool {
	wait := time.Second
	for {
		err := f()
		if err == nil {
			log.Info("kubernetes: done " + what)
			return true
		}
		log.Warn("kubernetes: "+what+" failed; retrying", "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}
