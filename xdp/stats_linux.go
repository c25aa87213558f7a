package xdp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Stats are the kernel's counters for one AF_XDP socket
// (getsockopt XDP_STATISTICS), each counting since the bind.
type Stats struct {
	// RxDropped counts packets dropped for any reason other than invalid
	// descriptors, for example no frame on the fill ring.
	RxDropped uint64
	// RxInvalidDescs counts RX packets dropped for an invalid descriptor.
	RxInvalidDescs uint64
	// TxInvalidDescs counts TX descriptors the kernel rejected.
	TxInvalidDescs uint64
	// RxRingFull counts packets dropped because the RX ring was full.
	RxRingFull uint64
	// FillRingEmpty counts times the kernel found the fill ring empty.
	FillRingEmpty uint64
	// TxRingEmpty counts times the kernel found the TX ring empty on a
	// wakeup.
	TxRingEmpty uint64
}

// Stats reads the socket's kernel counters.
func (s *Socket) Stats() (Stats, error) {
	if s.fd < 0 {
		return Stats{}, ErrSocketClosed
	}
	var st unix.XDPStatistics
	if err := getsockoptRaw(s.fd, unix.SOL_XDP, unix.XDP_STATISTICS, unsafe.Pointer(&st), unsafe.Sizeof(st)); err != nil {
		return Stats{}, fmt.Errorf("xdp: XDP_STATISTICS: %w", err)
	}
	return Stats{
		RxDropped:      st.Rx_dropped,
		RxInvalidDescs: st.Rx_invalid_descs,
		TxInvalidDescs: st.Tx_invalid_descs,
		RxRingFull:     st.Rx_ring_full,
		FillRingEmpty:  st.Rx_fill_ring_empty_descs,
		TxRingEmpty:    st.Tx_ring_empty_descs,
	}, nil
}
