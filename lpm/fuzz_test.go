package lpm

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// fuzzOps decodes data into batches of operations: each 6-byte record is
//
//	flags  bit 0: delete, bit 1: end the batch after this op; with length, the value
//	length prefix length (mod 33 or 129)
//	4 bytes address material
//
// The address material is placed so IPv6 records hit all four windows and
// IPv4 records share few high bytes, making prefixes nest and overlap.
func fuzzOps(data []byte, v6 bool) [][]batchOp {
	var batches [][]batchOp
	var cur []batchOp
	for len(data) >= 6 {
		rec := data[:6]
		data = data[6:]
		material := binary.BigEndian.Uint32(rec[2:])
		var p netip.Prefix
		if v6 {
			var a [16]byte
			binary.BigEndian.PutUint16(a[0:], 0x2001)
			a[2] = byte(material >> 24)
			a[6] = byte(material >> 16)
			a[10] = byte(material >> 8)
			a[14] = byte(material)
			p, _ = netip.AddrFrom16(a).Prefix(int(rec[1]) % 129)
		} else {
			material = material&0x03ffffff | 0x0a000000
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], material)
			p, _ = netip.AddrFrom4(a).Prefix(int(rec[1]) % 33)
		}
		cur = append(cur, batchOp{prefix: p, value: uint32(rec[0])<<8 | uint32(rec[1]), delete: rec[0]&1 != 0})
		if rec[0]&2 != 0 {
			batches = append(batches, cur)
			cur = nil
		}
	}
	return append(batches, cur)
}

func fuzzTable(t *testing.T, data []byte, v6 bool) {
	var tb table = NewTable4()
	randAddr := randAddr4
	if v6 {
		tb, randAddr = NewTable6(), randAddr6
	}
	ref := newRef()
	r := rand.New(rand.NewPCG(uint64(len(data)), 0))
	for _, ops := range fuzzOps(data, v6) {
		b := &Batch{ops: ops}
		if err := tb.Apply(b); err != nil {
			t.Fatal(err)
		}
		ref.apply(b)
		var touched []netip.Prefix
		for _, o := range ops {
			touched = append(touched, o.prefix)
		}
		checkBatch(t, tb, ref, touched, r, randAddr)
	}
}

func FuzzTable4(f *testing.F) {
	f.Add([]byte{0, 8, 10, 0, 0, 0, 2, 24, 10, 1, 2, 0, 1, 8, 10, 0, 0, 0, 2, 32, 10, 1, 2, 3})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 16, 10, 1, 0, 0, 2, 32, 10, 1, 0, 1, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 31, 0xff, 0xff, 0xff, 0xfe, 0, 32, 0xff, 0xff, 0xff, 0xff, 2, 25, 0, 0, 0, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) { fuzzTable(t, data, false) })
}

func FuzzTable6(f *testing.F) {
	f.Add([]byte{4, 32, 0, 0, 0, 0, 6, 48, 1, 0, 0, 0, 5, 32, 0, 0, 0, 0, 6, 128, 1, 2, 3, 4})
	f.Add([]byte{4, 0, 0, 0, 0, 0, 4, 80, 9, 9, 9, 0, 4, 112, 9, 9, 9, 9, 6, 127, 9, 9, 9, 9, 5, 80, 9, 9, 9, 0})
	f.Add([]byte{4, 16, 0xff, 0xff, 0xff, 0xff, 4, 47, 0xff, 0xff, 0, 0, 6, 128, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) { fuzzTable(t, data, true) })
}
