package kubetest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
)

// Tools holds the absolute paths of the third-party programs the tests run.
type Tools struct {
	KubeAPIServer string // kube-apiserver binary
	Kubectl       string // kubectl binary, same version as KubeAPIServer
	Etcd          string // etcd binary
	CNIPath       string // directory holding bridge, host-local and loopback
}

// ErrToolsUnavailable reports that scripts/kube-tools.sh could not provide
// the programs; the wrapped text carries the script's own output.
var ErrToolsUnavailable = errors.New("kubetest: kube tools unavailable")

var (
	toolsOnce sync.Once
	toolsVal  Tools
	toolsErr  error
)

// EnsureTools returns the programs' paths, running scripts/kube-tools.sh once
// per test process (it builds them when the cache is cold, which takes
// minutes; `make test` runs it beforehand so tests find a warm cache). When
// the script fails it skips t locally and fails t under CI (testenv.Missing).
func EnsureTools(t testing.TB) Tools {
	t.Helper()
	toolsOnce.Do(func() { toolsVal, toolsErr = loadTools() })
	if toolsErr != nil {
		testenv.Missing(t, "the kube tools (kube-apiserver, etcd, kubectl, CNI plugins)", toolsErr.Error())
	}
	return toolsVal
}

func loadTools() (Tools, error) {
	script, err := scriptPath()
	if err != nil {
		return Tools{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(script, "--env")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Tools{}, fmt.Errorf("%w: %s --env: %v\n%s", ErrToolsUnavailable, script, err, stderr.String())
	}
	env := map[string]string{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	tl := Tools{
		KubeAPIServer: env["KUBE_APISERVER"],
		Kubectl:       env["KUBECTL"],
		Etcd:          env["ETCD"],
		CNIPath:       env["CNI_PATH"],
	}
	for _, p := range []string{tl.KubeAPIServer, tl.Kubectl, tl.Etcd, tl.CNIPath} {
		if p == "" {
			return Tools{}, fmt.Errorf("%w: %s --env printed %q", ErrToolsUnavailable, script, stdout.String())
		}
		if _, err := os.Stat(p); err != nil {
			return Tools{}, fmt.Errorf("%w: %v", ErrToolsUnavailable, err)
		}
	}
	return tl, nil
}

// scriptPath finds scripts/kube-tools.sh in the checkout.
func scriptPath() (string, error) {
	p, err := RepoFile("scripts/kube-tools.sh")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrToolsUnavailable, err)
	}
	return p, nil
}

// RepoFile returns the path of rel (slash-separated, relative to the
// repository root) by walking up from the working directory; go test runs in
// the package's directory, anywhere in the checkout, and unlike the source
// file's path this survives -trimpath.
func RepoFile(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("kubetest: %w", err)
	}
	for {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("kubetest: no %s above the working directory: %w", rel, os.ErrNotExist)
		}
		dir = parent
	}
}
