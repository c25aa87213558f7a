package linuxio

import (
	"errors"
	"fmt"

	"github.com/podfwd/podfwd/dataplane"
	"golang.org/x/sys/unix"
)

// writeBatch sends pkts in order with as few sendmmsg calls as the message
// array allows. A packet with Segments > 1 goes out as one UDP_SEGMENT
// message while GSO is on, else as one message per SegmentSize slice. It
// returns how many packets were sent whole; on error pkts[n] is the packet
// that failed (some of its segments may already be on the wire).
//
// The kernel refuses UDP GSO with EIO when the route's device cannot
// checksum; the first such failure turns GSO off for the port, is logged
// once, and the same packets are resent split in userspace.
func (b *batchPort) writeBatch(pkts []*dataplane.Packet) (int, error) {
	done, off := 0, 0 // next packet to send and the byte offset inside it
	for done < len(pkts) {
		m, err := b.fillSend(pkts, done, off)
		if m == 0 {
			return done, err
		}
		sent, sendErr := b.c.send(m)
		if sent > 0 {
			last := sent - 1
			done, off = b.txPkt[last], b.txEnd[last]
			if b.txLast[last] {
				done, off = done+1, 0
			}
		}
		if sendErr != nil {
			if errors.Is(sendErr, unix.EIO) && b.txGSO[sent] {
				b.disableGSO(sendErr)
				continue // resend from pkts[done], now split
			}
			return done, fmt.Errorf("%s: send to %v: %w", b.name, pkts[done].Addr, sendErr)
		}
		if err != nil && done == b.txPkt[m-1]+1 {
			return done, err // the packet after the last message is invalid
		}
	}
	return done, nil
}

// fillSend encodes messages for pkts[first:] (starting off bytes into
// pkts[first]) into the send batch until it is full, and returns how many.
// It stops before an invalid packet and returns the reason with the count.
func (b *batchPort) fillSend(pkts []*dataplane.Packet, first, off int) (int, error) {
	gso := b.gso.Load()
	tx := &b.c.tx
	m, iov := 0, 0
	for pi := first; pi < len(pkts) && m < len(tx.hdrs); {
		p := pkts[pi]
		nameLen, ok := putSockaddr(&tx.names[m], b.family, p.Addr)
		if !ok {
			return m, fmt.Errorf("%s: packet %d to %v: %w", b.name, pi, p.Addr, ErrNoAddr)
		}
		data := p.Bytes()
		b.txPkt[m], b.txGSO[m], b.txLast[m], b.txEnd[m] = pi, false, true, len(data)
		switch {
		case p.Segments > 1 && p.SegmentSize <= 0:
			return m, fmt.Errorf("%s: packet %d: %w", b.name, pi, ErrBadSegments)
		case p.Segments > 1 && gso && p.SegmentSize < len(data) && p.SegmentSize <= 0xffff &&
			(len(data)+p.SegmentSize-1)/p.SegmentSize <= dataplane.UDPGSOMaxSegments:
			ctrlLen := putSegmentCmsg(tx.control(m), uint16(p.SegmentSize))
			tx.prepSend(m, data, nameLen, ctrlLen)
			b.txGSO[m] = true
			pi++
		case p.Segments > 1 && p.SegmentSize < len(data):
			end := min(off+p.SegmentSize, len(data))
			tx.prepSend(m, data[off:end], nameLen, 0)
			b.txEnd[m], b.txLast[m] = end, end == len(data)
			off = end
			if end == len(data) {
				pi, off = pi+1, 0
			}
		default:
			k := 1
			if gso {
				k = b.trainLen(pkts[pi:], iov)
			}
			if k > 1 {
				ctrlLen := putSegmentCmsg(tx.control(m), uint16(len(data)))
				tx.prepSendIovs(m, b.trainIov[iov:iov+k], nameLen, ctrlLen)
				for j, q := range pkts[pi : pi+k] {
					setIov(&b.trainIov[iov+j], q.Bytes())
				}
				iov += k
				b.txPkt[m], b.txGSO[m], b.txEnd[m] = pi+k-1, true, pkts[pi+k-1].Len()
				pi += k
				break
			}
			tx.prepSend(m, data, nameLen, 0)
			pi++
		}
		m++
	}
	return m, nil
}

// trainLen returns how many packets from pkts[0] on can leave as one
// UDP_SEGMENT message of plain datagrams gathered from their own buffers
// (one iovec each, no copy): the same destination, the first one's length
// for all but a shorter last, within the kernel's segment and byte limits
// and the iovecs left from iov on. The receiver's UDP GRO (or the kernel,
// for a socket without it) sees exactly the datagrams sendmmsg would have
// sent one by one, at a fraction of the per-datagram cost on the way.
func (b *batchPort) trainLen(pkts []*dataplane.Packet, iov int) int {
	first := pkts[0]
	size := first.Len()
	if size == 0 || size > 0xffff {
		return 1
	}
	limit := min(len(pkts), dataplane.UDPGSOMaxSegments, len(b.trainIov)-iov, maxTrainBytes/size)
	k := 1
	for k < limit {
		q := pkts[k]
		if q.Segments > 1 || q.Addr != first.Addr || q.Len() > size || q.Len() == 0 {
			break
		}
		k++
		if q.Len() < size {
			break // a shorter datagram can only be a train's last
		}
	}
	return k
}

// disableGSO turns UDP GSO off for the port and logs it the first time.
func (b *batchPort) disableGSO(cause error) {
	if b.gso.CompareAndSwap(true, false) {
		b.log.Warn("UDP GSO send failed; GSO off for this port, sending segments one by one",
			"port", b.name, "err", cause)
	}
}
