package topo

import (
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/podfwd/podfwd/internal/testenv"
)

func threadNS(t *testing.T) nsID {
	t.Helper()
	id, err := statNS("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDoEntersAndRestores(t *testing.T) {
	testenv.RequireRoot(t)
	topo := NewT(t, Config{Prefix: testenv.RunPrefix() + "d", Nodes: 1, PodsPerNode: 1})
	pod := topo.Nodes[0].Pods[0]
	want, err := statNS(filepath.Join(netnsDir, pod.Namespace))
	if err != nil {
		t.Fatal(err)
	}

	// Lock first so the checks below see the very thread Do used.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	home := threadNS(t)
	if home == want {
		t.Fatal("test already runs inside the pod namespace")
	}

	errMarker := errors.New("marker")
	err = pod.Do(func() error {
		if got := threadNS(t); got != want {
			t.Errorf("inside Do: namespace %v, want the pod's %v", got, want)
		}
		lo, err := net.InterfaceByName("lo")
		if err != nil || lo.Flags&net.FlagUp == 0 {
			t.Errorf("pod loopback: %+v, %v; want up", lo, err)
		}
		if _, err := net.InterfaceByName(PodLink); err != nil {
			t.Errorf("pod %s: %v", PodLink, err)
		}
		return errMarker
	})
	if !errors.Is(err, errMarker) {
		t.Errorf("Do returned %v, want fn's error", err)
	}
	if got := threadNS(t); got != home {
		t.Errorf("after Do: namespace %v, want home %v", got, home)
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic inside Do was swallowed")
			}
		}()
		_ = pod.Do(func() error { panic("inside pod") })
	}()
	if got := threadNS(t); got != home {
		t.Errorf("after a panic inside Do: namespace %v, want home %v", got, home)
	}
}
