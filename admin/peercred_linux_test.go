package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podfwd/podfwd/internal/testenv"
)

// helperEnv makes the test binary, run as another user, connect to the
// socket it names and print what happened instead of running the tests.
const helperEnv = "PODFWD_ADMIN_HELPER_SOCKET"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := NewClient(path).Status(ctx)
		switch {
		case err == nil:
			fmt.Println("allowed")
		case errors.Is(err, ErrRefused):
			fmt.Println("refused:", err)
		default:
			fmt.Println("error:", err)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The admin socket refuses a process that is not root: by its mode (0600)
// and, should the mode be loosened, by the SO_PEERCRED check. The other
// process is this test binary run as nobody (uid 65534).
func TestRefusesNonRoot(t *testing.T) {
	testenv.RequireRoot(t)
	dir, err := os.MkdirTemp("", "podfwd-admin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The test binary lives in a root-only build directory: copy it where
	// nobody can run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "admin.test")
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}

	r := newRig(t, true)
	socket := filepath.Join(dir, "podfwd.sock")
	if err := os.Rename(r.socket, socket); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	asNobody := func() string {
		cmd := exec.Command(bin)
		cmd.Env = []string{helperEnv + "=" + socket}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper as uid 65534: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if out := asNobody(); !strings.Contains(out, "permission denied") {
		t.Errorf("nobody on a 0600 socket: %q, want permission denied", out)
	}
	if err := os.Chmod(socket, 0o666); err != nil {
		t.Fatal(err)
	}
	if out := asNobody(); !strings.HasPrefix(out, "refused:") || !strings.Contains(out, "uid 65534") {
		t.Errorf("nobody on a 0666 socket: %q, want refused by SO_PEERCRED", out)
	}
	// And root still gets in.
	if _, err := NewClient(socket).Status(context.Background()); err != nil {
		t.Errorf("root refused: %v", err)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
