// Package xdpport adapts an AF_XDP socket (package xdp) to the dataplane's
// Port interface, for `io: xdp`: the underlay side of a node receives and
// sends whole Ethernet frames through one socket on one receive queue,
// while the XDP program steers only tunnel traffic addressed to the node
// into that socket and passes everything else to the kernel.
//
// # Zero-copy receive and its contract
//
// ReadBatch does not copy: each Packet's Buf is pointed at the UMEM frame
// the kernel filled, with Start and End around the received frame, so the
// frame's headroom in front of Start stays usable for headers written in
// place. The frames of a batch stay lent to the caller until its next
// ReadBatch call, which gives them back to the fill ring first. The caller
// must therefore be done with every packet of a batch (and every view into
// it) before it reads the next one; the dataplane's ingress loop is: it
// delivers a whole batch to the pod side before it reads again.
//
// # Transmit
//
// WriteBatch sends a packet whose bytes lie in a frame this port lent out
// in place: the TX descriptor points at the same frame, grown by whatever
// headers were prepended into its headroom. Every other packet (the
// TUN-to-underlay direction: the engine's buffers are not UMEM) is copied
// once into a free frame of the UMEM, which is the one copy on that path.
//
// A Port is used by one reader and one writer goroutine at a time, which is
// exactly what an xdp.Socket allows without locks.
//
// # Several queues: Group
//
// A NIC spreads flows over its receive queues, and an AF_XDP socket binds
// one queue, so OpenQueues opens a socket (with its own UMEM) on each queue
// behind one redirect program and serves them as one Group. Its ReadBatch
// reads the members in turn without blocking, starting one member further
// each call so that no queue starves another, and blocks in one poll over
// all of them only when all are empty. Its WriteBatch sends a lent frame in
// place on the socket that lent it (a TX descriptor can only name a frame
// of its own socket's UMEM) and copies every other packet into the first
// member's UMEM. NewGroup serves sockets opened separately the same way.
package xdpport
