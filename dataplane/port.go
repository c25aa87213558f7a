package dataplane

import "errors"

// Port is a source and sink of packet batches: a TUN device, a UDP or raw
// socket, an AF_XDP socket, or an in-memory fake in tests.
//
// ReadBatch fills pkts[:n] and returns n >= 1 or an error; it blocks until
// at least one packet arrives. The caller owns pkts and their buffers; the
// port writes each packet at its Start (which the caller sets to leave
// headroom) and sets End, Addr, GSO and Segments as the port knows them.
//
// WriteBatch sends pkts in order and returns how many were accepted; it does
// not keep any *Packet after it returns.
//
// A Port is used by one reader goroutine and one writer goroutine at a time.
type Port interface {
	Name() string
	BatchSize() int
	ReadBatch(pkts []*Packet) (n int, err error)
	WriteBatch(pkts []*Packet) (n int, err error)
	Close() error
}

// ErrPortClosed is returned by ports read or written after Close.
var ErrPortClosed = errors.New("dataplane: port closed")
