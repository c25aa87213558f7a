package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// readyTimeout bounds how long a start waits for etcd or the apiserver. It
// is generous because the machine's two cores are shared with other builds.
const readyTimeout = 90 * time.Second

// ErrStopped is returned by Stop when the apiserver is not running.
var ErrStopped = errors.New("kubetest: apiserver is not running")

// Cluster is a running etcd plus kube-apiserver on 127.0.0.1, owned by one
// test. Its methods are safe for concurrent use.
type Cluster struct {
	// Config authenticates as AdminUser (system:masters) over TLS that
	// trusts only the cluster's CA. Callers may copy it (rest.CopyConfig).
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file with the same identity,
	// for kubectl.
	Kubeconfig string
	// Tools are the programs the cluster runs, plus kubectl and the CNI
	// plugin directory.
	Tools Tools
	// Dir is the cluster's scratch directory (certs, data, logs).
	Dir string

	t       testing.TB
	mu      sync.Mutex
	etcd    *process
	api     *process
	apiArgs []string
	keys    *pki
	token   string
	host    string
	starts  int
}

// Start runs etcd and kube-apiserver on free loopback ports, waits until the
// apiserver's /readyz passes, and registers a cleanup that kills both
// process groups (and prints their logs if t failed). It skips t under
// `go test -short`, because even a warm start takes seconds, and fails t
// when the programs cannot be had or do not become ready.
func Start(t testing.TB) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("kubetest: real kube-apiserver + etcd take seconds to start; skipped under -short")
	}
	tl := EnsureTools(t)
	c := &Cluster{t: t, Tools: tl, Dir: t.TempDir()}
	t.Cleanup(c.cleanup)

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	begin := time.Now()
	etcd, etcdURL, err := startEtcd(ctx, tl.Etcd, c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	c.etcd = etcd
	etcdReady := time.Since(begin)

	if c.keys, err = newPKI(c.Dir); err != nil {
		t.Fatal(err)
	}
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		t.Fatal(err)
	}
	c.token = hex.EncodeToString(tok[:])
	tokenFile, err := writeTokenFile(c.Dir, c.token)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	c.host = fmt.Sprintf("https://127.0.0.1:%d", ports[0])
	c.apiArgs = apiserverArgs(c.Dir, etcdURL, ports[0], c.keys, tokenFile)
	if c.Kubeconfig, err = writeKubeconfig(c.Dir, c.host, c.keys.caPEM, c.token); err != nil {
		t.Fatal(err)
	}
	c.Config = &rest.Config{
		Host:            c.host,
		BearerToken:     c.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.keys.caPEM},
		Timeout:         30 * time.Second,
	}
	if err := c.startAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("kubetest: etcd ready in %v, apiserver %s ready in %v",
		etcdReady.Round(time.Millisecond), c.host, time.Since(begin).Round(time.Millisecond))
	return c
}

// startAPIServer starts the apiserver with the flags chosen at Start and
// waits for /readyz. The caller holds c.mu or owns c exclusively.
func (c *Cluster) startAPIServer(ctx context.Context) error {
	c.starts++
	p, err := startProcess("kube-apiserver", c.Tools.KubeAPIServer, c.apiArgs,
		filepath.Join(c.Dir, "kube-apiserver.log"))
	if err != nil {
		return err
	}
	c.api = p
	return waitAPIServerReady(ctx, p, c.keys.caPEM, c.host, c.token)
}

// Stop shuts the apiserver down (SIGTERM, then SIGKILL after 10 s) and
// leaves etcd running, so that Restart brings the same state back. It
// returns ErrStopped if the apiserver is not running.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api == nil || !c.api.running() {
		return ErrStopped
	}
	c.api.stop(10 * time.Second)
	return nil
}

// Kill stops the apiserver at once (SIGKILL), as a crash would, and
// leaves etcd running for Restart. It returns ErrStopped if the apiserver
// is not running.
func (c *Cluster) Kill() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api == nil || !c.api.running() {
		return ErrStopped
	}
	c.api.stop(0)
	return nil
}

// Restart stops the apiserver if it runs, starts it again on the same port
// with the same certificates and token, and waits for /readyz. Existing
// clients reconnect by themselves.
func (c *Cluster) Restart() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api != nil {
		c.api.stop(10 * time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	begin := time.Now()
	if err := c.startAPIServer(ctx); err != nil {
		return err
	}
	c.t.Logf("kubetest: apiserver restarted, ready in %v", time.Since(begin).Round(time.Millisecond))
	return nil
}

// Kubectl runs kubectl against the cluster with args and returns its
// combined output. The error wraps kubectl's exit status.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Tools.Kubectl, append([]string{"--kubeconfig=" + c.Kubeconfig}, args...)...)
	// kubectl caches discovery under $HOME; keep it inside the test's dir.
	cmd.Env = append(os.Environ(), "HOME="+c.Dir, "KUBECACHEDIR="+filepath.Join(c.Dir, "kubectl-cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}

// cleanup kills both process groups at once (the data is thrown away, so a
// graceful shutdown only costs time) and, if the test failed, prints the
// tail of each log.
func (c *Cluster) cleanup() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range []*process{c.api, c.etcd} {
		if p == nil {
			continue
		}
		p.stop(0)
		if c.t.Failed() {
			c.t.Logf("---- %s log (last 60 lines of %s) ----\n%s", p.name, p.logPath, tailFile(p.logPath, 60))
		}
	}
}
