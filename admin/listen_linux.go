package admin

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ErrSocketInUse is returned by ListenUnix when another live process
// already serves the socket path.
var ErrSocketInUse = errors.New("admin: socket in use by another process")

// ListenUnix listens on the unix socket at path for root only: the
// directory is created (0755) if missing, a stale socket left by a crashed
// daemon is replaced, the socket is made mode 0600, and the returned
// listener refuses (with a 403 response) every connection whose peer is
// not uid 0 by SO_PEERCRED.
func ListenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%w: %s", ErrSocketInUse, path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("admin: removing stale socket: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("admin: %w", err)
	}
	// The umask makes the socket 0600 from birth: nobody else can connect
	// between bind and chmod.
	old := unix.Umask(0o177)
	l, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("admin: %w", err)
	}
	return &rootOnly{Listener: l, allowed: peerIsRoot}, nil
}

// rootOnly is a listener that hands on only connections allowed says yes
// to; the others get a 403 and are closed.
type rootOnly struct {
	net.Listener
	allowed func(net.Conn) error
}

// Accept implements net.Listener.
func (l *rootOnly) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if err := l.allowed(c); err != nil {
			go refuse(c, err)
			continue
		}
		return c, nil
	}
}

// refuse answers a refused connection's first request with a plain HTTP
// 403 and closes it. The request is read first: an HTTP client treats an
// answer before its question as a broken connection, not as a refusal.
func refuse(c net.Conn, why error) {
	defer c.Close()
	msg := "podfwd admin: " + why.Error() + "\n"
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if req, err := http.ReadRequest(bufio.NewReaderSize(io.LimitReader(c, 16<<10), 4096)); err == nil {
		req.Body.Close()
	}
	fmt.Fprintf(c, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(msg), msg)
}

// ErrNotRoot says a connection's peer is not root.
var ErrNotRoot = errors.New("admin socket is root-only")

// peerIsRoot checks the connecting process's uid with SO_PEERCRED.
func peerIsRoot(c net.Conn) error {
	uid, err := peerUID(c)
	if err != nil {
		return err
	}
	if uid != 0 {
		return fmt.Errorf("%w: peer uid %d", ErrNotRoot, uid)
	}
	return nil
}

func peerUID(c net.Conn) (uint32, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("%w: not a unix socket", ErrNotRoot)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, fmt.Errorf("SO_PEERCRED: %w", cerr)
	}
	return cred.Uid, nil
}
