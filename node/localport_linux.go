package node

import (
	"errors"
	"fmt"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/encap"
	"golang.org/x/sys/unix"
)

// localPort sends packets the dataplane originates (ICMP errors) into the
// host's stack through raw IPPROTO_RAW sockets (the header is ours), so the
// kernel routes them to the pod like any local packet. It is write-only and
// separate from the TUN so the two forwarding loops never share a writer.
type localPort struct {
	fd4, fd6 int
}

func openLocalPort() (*localPort, error) {
	fd4, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("raw IPv4 socket for ICMP errors: %w", err)
	}
	fd6, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		unix.Close(fd4)
		return nil, fmt.Errorf("raw IPv6 socket for ICMP errors: %w", err)
	}
	return &localPort{fd4: fd4, fd6: fd6}, nil
}

func (l *localPort) Name() string   { return "local" }
func (l *localPort) BatchSize() int { return 1 }

func (l *localPort) ReadBatch([]*dataplane.Packet) (int, error) {
	return 0, errors.New("local port is write-only")
}

// WriteBatch sends each packet to its IP destination; ICMP errors are rare,
// so one sendto per packet is fine here.
func (l *localPort) WriteBatch(pkts []*dataplane.Packet) (int, error) {
	for i, p := range pkts {
		b := p.Bytes()
		if len(b) < encap.IPv4MinLen {
			return i, errors.New("local port: short packet")
		}
		var err error
		if b[0]>>4 == 4 {
			err = unix.Sendto(l.fd4, b, 0, &unix.SockaddrInet4{Addr: encap.IPv4(b).Dst().As4()})
		} else if len(b) >= encap.IPv6Len {
			err = unix.Sendto(l.fd6, b, 0, &unix.SockaddrInet6{Addr: encap.IPv6(b).Dst().As16()})
		}
		if err != nil {
			return i, fmt.Errorf("local port: %w", err)
		}
	}
	return len(pkts), nil
}

func (l *localPort) Close() error {
	return errors.Join(unix.Close(l.fd4), unix.Close(l.fd6))
}
