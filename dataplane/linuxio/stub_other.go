//go:build !linux

package linuxio

import (
	"net/netip"

	"github.com/podfwd/podfwd/dataplane"
	"github.com/vishvananda/netlink"
)

// Off Linux every constructor fails with ErrUnsupported; the types exist so
// callers compile, and their methods are never reached.

// TUN is a Linux TUN device; unavailable here.
type TUN struct{ unsupportedPort }

// UDPPort is a batched UDP socket; unavailable here.
type UDPPort struct{ unsupportedPort }

// RawIPPort is a raw IPv4 socket; unavailable here.
type RawIPPort struct{ unsupportedPort }

// ProcessTUN is the udp-process baseline's TUN; unavailable here.
type ProcessTUN struct{ unsupportedPort }

// ProcessUDP is the udp-process baseline's UDP socket; unavailable here.
type ProcessUDP struct{ unsupportedPort }

// OpenTUN returns ErrUnsupported.
func OpenTUN(string, TUNOptions) (*TUN, error) { return nil, ErrUnsupported }

// ListenUDP returns ErrUnsupported.
func ListenUDP(netip.AddrPort, UDPOptions) (*UDPPort, error) { return nil, ErrUnsupported }

// ListenIPIP returns ErrUnsupported.
func ListenIPIP(netip.Addr, int) (*RawIPPort, error) { return nil, ErrUnsupported }

// OpenProcessTUN returns ErrUnsupported.
func OpenProcessTUN(string) (*ProcessTUN, error) { return nil, ErrUnsupported }

// ListenProcessUDP returns ErrUnsupported.
func ListenProcessUDP(netip.AddrPort) (*ProcessUDP, error) { return nil, ErrUnsupported }

// SetLinkMTU returns ErrUnsupported.
func SetLinkMTU(*netlink.Handle, string, int) error { return ErrUnsupported }

// SetLinkUp returns ErrUnsupported.
func SetLinkUp(*netlink.Handle, string) error { return ErrUnsupported }

type unsupportedPort struct{}

func (unsupportedPort) Name() string                                { return "unsupported" }
func (unsupportedPort) BatchSize() int                              { return 1 }
func (unsupportedPort) ReadBatch([]*dataplane.Packet) (int, error)  { return 0, ErrUnsupported }
func (unsupportedPort) WriteBatch([]*dataplane.Packet) (int, error) { return 0, ErrUnsupported }
func (unsupportedPort) Close() error                                { return nil }
