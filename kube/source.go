// Package kube is the Kubernetes side of a node: Source watches the cluster's
// Nodes and turns them, with the config file's template, into one
// immutable dataplane.Config per change (peers from the other Nodes'
// podCIDRs and podfwd.io annotations, our pod CIDRs from our own Node),
// and the publisher writes our annotations and clears the Node's
// NetworkUnavailable condition so peers and the scheduler see us. It
// programs nothing on the host; the dataplane never calls back into it.
package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/podfwd/podfwd/dataplane"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// DefaultCoalesce is how long the Kubernetes source waits after a Node
// change before building a config, so a burst becomes one config.
const DefaultCoalesce = 50 * time.Millisecond

// Options configures NewSource.
type Options struct {
	// NodeName is our own Node: its pod CIDRs become LocalPodCIDRs and it
	// is never a peer. Required.
	NodeName string
	// Base is the template of every config: encap, VNI, port, our
	// underlay address and VTEP MAC, MTU, tunnel knobs. Its LocalPodCIDRs,
	// when set, are used until our Node has pod CIDRs; its Peers and
	// Generation are ignored. Required; the source never changes it.
	Base *dataplane.Config
	// Logger receives skipped Nodes and applied changes; nil means
	// slog.Default().
	Logger *slog.Logger
	// Coalesce is the wait after a change before building a config;
	// zero means DefaultCoalesce.
	Coalesce time.Duration
}

// ErrSource wraps errors in the Kubernetes source's options.
var ErrSource = errors.New("kubernetes source")

// Source turns the cluster's Nodes into dataplane configs: a shared
// informer watches every Node (retrying with backoff and resyncing by
// itself when the API server goes away and comes back), and each change
// that alters our pod CIDRs or the peer set yields a new config with a
// higher Generation on Updates. Changes that alter nothing we use (labels,
// conditions, heartbeats) yield nothing.
type Source struct {
	opts     Options
	log      *slog.Logger
	family4  bool
	factory  informers.SharedInformerFactory
	informer cache.SharedIndexInformer
	kick     chan struct{}
	updates  chan *dataplane.Config

	mu    sync.Mutex
	views map[string]nodeView
	sync  syncTracker

	// Owned by Run's goroutine.
	last        peerSet
	haveLast    bool
	generation  uint64
	lastDropped map[string]string
	waitLogged  bool
}

// NewSource prepares a source over client; nothing is watched until Run.
func NewSource(client kubernetes.Interface, opts Options) (*Source, error) {
	if opts.NodeName == "" {
		return nil, fmt.Errorf("%w: NodeName is required", ErrSource)
	}
	if opts.Base == nil || !opts.Base.LocalUnderlay.IsValid() {
		return nil, fmt.Errorf("%w: Base with a LocalUnderlay is required", ErrSource)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Coalesce <= 0 {
		opts.Coalesce = DefaultCoalesce
	}
	s := &Source{
		opts:    opts,
		log:     opts.Logger,
		family4: opts.Base.LocalUnderlay.Is4(),
		kick:    make(chan struct{}, 1),
		updates: make(chan *dataplane.Config, 1),
		views:   map[string]nodeView{},
	}
	s.factory = informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(slimNode))
	s.informer = s.factory.Core().V1().Nodes().Informer()
	if err := s.informer.SetWatchErrorHandlerWithContext(s.sync.watchError); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	if _, err := s.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.observe(obj) },
		UpdateFunc: func(_, obj any) { s.observe(obj) },
		DeleteFunc: s.forget,
	}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	return s, nil
}

// Updates delivers each new config. It holds at most one: a config not yet
// taken is replaced by a newer one, so a slow reader skips to the latest
// and never blocks the source. The first config comes after the informer
// has synced and our Node's pod CIDRs are known.
func (s *Source) Updates() <-chan *dataplane.Config { return s.updates }

// Run watches Nodes and sends configs until ctx ends; it returns nil then.
func (s *Source) Run(ctx context.Context) error {
	s.factory.Start(ctx.Done())
	defer s.factory.Shutdown()
	start := time.Now()
	if !cache.WaitForCacheSync(ctx.Done(), s.informer.HasSynced) {
		return nil
	}
	s.log.Info("kubernetes: nodes synced", "nodes", len(s.informer.GetStore().ListKeys()), "took", time.Since(start).Round(time.Millisecond))
	s.rebuild()
	timer := time.NewTimer(0)
	<-timer.C
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.kick:
		}
		timer.Reset(s.opts.Coalesce)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		s.rebuild()
	}
}

// slimNode keeps only what viewNode reads, so 5,000 cached Nodes cost
// little memory (no managed fields, images, conditions or foreign
// annotations).
func slimNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	var ann map[string]string
	for k, v := range n.Annotations {
		if strings.HasPrefix(k, AnnotationPrefix) {
			if ann == nil {
				ann = map[string]string{}
			}
			ann[k] = v
		}
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, UID: n.UID, ResourceVersion: n.ResourceVersion, Annotations: ann},
		Spec:       corev1.NodeSpec{PodCIDR: n.Spec.PodCIDR, PodCIDRs: n.Spec.PodCIDRs},
		Status:     corev1.NodeStatus{Addresses: n.Status.Addresses},
	}, nil
}

// observe records a Node's view and kicks a rebuild only if the view
// changed: an update that touches nothing we use stops here.
func (s *Source) observe(obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	v := viewNode(n, s.family4)
	s.mu.Lock()
	old, had := s.views[n.Name]
	if had && old.equal(v) {
		s.mu.Unlock()
		return
	}
	s.views[n.Name] = v
	s.mu.Unlock()
	if v.skip != "" && n.Name != s.opts.NodeName && (!had || old.skip != v.skip) {
		s.log.Info("kubernetes: node skipped", "node", n.Name, "reason", v.skip)
	}
	s.poke()
}

// forget drops a deleted Node; a delete seen only after a relist arrives
// as a tombstone.
func (s *Source) forget(obj any) {
	var name string
	switch o := obj.(type) {
	case *corev1.Node:
		name = o.Name
	case cache.DeletedFinalStateUnknown:
		_, name, _ = cache.SplitMetaNamespaceKey(o.Key)
	default:
		return
	}
	s.mu.Lock()
	_, had := s.views[name]
	delete(s.views, name)
	s.mu.Unlock()
	if had {
		s.poke()
	}
}

func (s *Source) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// rebuild derives the peer set and sends a config when it changed.
func (s *Source) rebuild() {
	s.mu.Lock()
	set, dropped, ok := buildPeerSet(s.opts.NodeName, s.views, s.opts.Base.LocalPodCIDRs, s.opts.Base.LocalUnderlay)
	s.mu.Unlock()
	if !ok {
		if !s.waitLogged {
			s.log.Warn("kubernetes: waiting for our Node's pod CIDRs", "node", s.opts.NodeName)
			s.waitLogged = true
		}
		return
	}
	for name, why := range dropped {
		if s.lastDropped[name] != why {
			s.log.Warn("kubernetes: peer left out", "node", name, "reason", why)
		}
	}
	s.lastDropped = dropped
	if s.haveLast && set.equal(s.last) {
		return
	}
	cfg := configFrom(s.opts.Base, set, s.generation+1)
	if err := cfg.Validate(); err != nil {
		s.log.Error("kubernetes: derived config is invalid; keeping the previous one", "err", err)
		return
	}
	s.generation++
	s.last, s.haveLast = set, true
	s.send(cfg)
	s.log.Info("kubernetes: new config", "generation", cfg.Generation, "peers", len(cfg.Peers), "podCIDRs", cfg.LocalPodCIDRs)
}

// send replaces an untaken config with cfg. Run is the only sender, so
// after draining, the send cannot block.
func (s *Source) send(cfg *dataplane.Config) {
	s.sync.configSent(time.Now())
	select {
	case s.updates <- cfg:
		return
	default:
	}
	select {
	case <-s.updates:
	default:
	}
	s.updates <- cfg
}
