package xdp

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ring is the part every AF_XDP ring shares: a producer and a consumer index
// and a flags word, all in memory shared with the kernel. The side that owns
// an index stores it; the other side only loads it. Both go through
// sync/atomic so that the descriptor writes before a producer store are
// visible to the kernel before the new index, and the kernel's writes before
// its producer store are visible to us after our load.
type ring struct {
	mem      []byte
	producer *uint32
	consumer *uint32
	flags    *uint32
	mask     uint32
	size     uint32
	// local is our own index: the producer index of a ring we fill (fill,
	// TX), the consumer index of a ring we drain (RX, completion).
	local uint32
	// cached is our last load of the kernel's index, refreshed only when it
	// no longer suffices, to keep the shared cache line quiet.
	cached uint32
}

// mapRing mmaps one ring of fd. entry is the size of one descriptor.
func mapRing(fd int, pgoff int64, off unix.XDPRingOffset, size uint32, entry uintptr) (ring, error) {
	length := int(off.Desc) + int(size)*int(entry)
	mem, err := unix.Mmap(fd, pgoff, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return ring{}, fmt.Errorf("mmap ring at %#x: %w", pgoff, err)
	}
	r := ring{
		mem:      mem,
		producer: (*uint32)(unsafe.Pointer(&mem[off.Producer])),
		consumer: (*uint32)(unsafe.Pointer(&mem[off.Consumer])),
		flags:    (*uint32)(unsafe.Pointer(&mem[off.Flags])),
		mask:     size - 1,
		size:     size,
	}
	return r, nil
}

func (r *ring) unmap() {
	if r.mem != nil {
		_ = unix.Munmap(r.mem)
		r.mem = nil
	}
}

// needWakeup reports whether the kernel asked, through XDP_USE_NEED_WAKEUP,
// to be woken by a syscall before it looks at this ring again.
func (r *ring) needWakeup() bool {
	return atomic.LoadUint32(r.flags)&unix.XDP_RING_NEED_WAKEUP != 0
}

// freeSlots returns how many entries up to n we may produce now (fill, TX).
func (r *ring) freeSlots(n uint32) uint32 {
	free := r.size - (r.local - r.cached)
	if free < n {
		r.cached = atomic.LoadUint32(r.consumer)
		free = r.size - (r.local - r.cached)
	}
	return min(free, n)
}

// publish makes n produced entries visible to the kernel.
func (r *ring) publish(n uint32) {
	r.local += n
	atomic.StoreUint32(r.producer, r.local)
}

// available returns how many entries up to n we may consume now (RX,
// completion).
func (r *ring) available(n uint32) uint32 {
	avail := r.cached - r.local
	if avail < n {
		r.cached = atomic.LoadUint32(r.producer)
		avail = r.cached - r.local
	}
	return min(avail, n)
}

// release gives n consumed entries back to the kernel.
func (r *ring) release(n uint32) {
	r.local += n
	atomic.StoreUint32(r.consumer, r.local)
}

// descRing is an RX or TX ring: entries are frame descriptors.
type descRing struct {
	ring
	descs []unix.XDPDesc
}

func mapDescRing(fd int, pgoff int64, off unix.XDPRingOffset, size uint32) (descRing, error) {
	r, err := mapRing(fd, pgoff, off, size, unsafe.Sizeof(unix.XDPDesc{}))
	if err != nil {
		return descRing{}, err
	}
	descs := unsafe.Slice((*unix.XDPDesc)(unsafe.Pointer(&r.mem[off.Desc])), size)
	return descRing{ring: r, descs: descs}, nil
}

// addrRing is a fill or completion ring: entries are UMEM addresses.
type addrRing struct {
	ring
	addrs []uint64
}

func mapAddrRing(fd int, pgoff int64, off unix.XDPRingOffset, size uint32) (addrRing, error) {
	r, err := mapRing(fd, pgoff, off, size, 8)
	if err != nil {
		return addrRing{}, err
	}
	addrs := unsafe.Slice((*uint64)(unsafe.Pointer(&r.mem[off.Desc])), size)
	return addrRing{ring: r, addrs: addrs}, nil
}
