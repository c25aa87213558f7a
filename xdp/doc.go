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
// # Stale programs after a crash
//
// Checked on this kernel (6.18) by TestLinkDiesWithSIGKILL and
// TestAttachReplacesStaleProgram: a bpf link that is not pinned lives only
// as long as a file descriptor refers to it, so when the daemon dies, even
// by SIGKILL, its XDP program is detached with it and a restarted daemon
// finds the interface clean. A program attached through netlink (ip link
// set xdp, or an older version of ours) instead stays attached after every
// descriptor is closed; a bpf link attach then fails with EBUSY (same
// mode) or EEXIST (the other mode). AttachProgram therefore looks at the
// interface's netlink XDP attributes first and detaches such a program if
// it is ours (by name) or AttachOptions.ReplaceForeign allows it. A program
// held by a live link (a daemon still running, or a pinned link) cannot be
// detached through netlink (EBUSY) and is reported as ErrAttachedByLink.
// This package never pins links.
//
// # Checksums on veth
//
// A frame that a veth peer sent with checksum offload on reaches XDP, and
// so the AF_XDP socket, with an incomplete UDP or TCP checksum (the
// partial sum left for the offload; checked in the tests: it does not
// verify). Code that forwards such a frame must complete or clear the
// checksum; a receiver on another host would drop it.
//
// The package imports nothing of podfwd's; the dataplane adapts a Socket to
// its Port interface.
package xdp
