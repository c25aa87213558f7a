// Package xdp holds podfwd's AF_XDP sockets and the XDP program that steers
// tunnel traffic into them.
//
// A Socket owns one UMEM and its four rings for one (interface, queue). Frames
// move between the kernel and the caller by address only: Receive hands out
// RX descriptors, Release and Refill give frames back to the fill ring,
// Transmit queues descriptors on the TX ring and the completion ring returns
// sent frames to the free list. No call on the packet path allocates.
//
// A Redirect is the XDP program plus its maps: it passes every packet to the
// kernel except tunnel traffic (configured UDP ports, IPIP) addressed to a
// configured local address, which it redirects to the AF_XDP socket of the
// receive queue. The program is assembled at run time with cilium/ebpf's asm
// package, so the build needs no clang.
//
// The package imports nothing of podfwd's; the dataplane adapts a Socket to
// its Port interface.
package xdp
