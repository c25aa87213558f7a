package xdp_test

import (
	"net/netip"
	"time"

	"github.com/podfwd/podfwd/xdp"
)

// Example shows the shape of a dataplane port on an AF_XDP socket: the
// program steers VXLAN to this node into the socket of each queue, a
// reader drains the RX ring in batches and gives frames back.
func Example() {
	const ifindex, queue = 2, 0
	r, err := xdp.NewRedirect(xdp.RedirectConfig{
		LocalIPv4: netip.MustParseAddr("192.0.2.10"),
		UDPPorts:  []uint16{4789},
	}, 64)
	if err != nil {
		return
	}
	defer r.Close()
	s, err := xdp.Open(ifindex, queue, xdp.SocketConfig{FrameSize: 2048, Headroom: 128})
	if err != nil {
		return
	}
	defer s.Close()
	if err := r.Register(s); err != nil {
		return
	}
	att, err := r.Attach(ifindex, xdp.AttachOptions{})
	if err != nil {
		return
	}
	defer att.Close()

	descs := make([]xdp.Desc, 64)
	for {
		n, err := s.Receive(descs)
		if err != nil {
			return
		}
		if n == 0 {
			s.Wait(time.Second) // Wake from another goroutine ends this early
			continue
		}
		for _, d := range descs[:n] {
			_ = s.Frame(d) // decapsulate, look up, copy out or hand to the TX side
		}
		s.Release(descs[:n])
	}
}
