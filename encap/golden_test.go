package encap

import (
	"bytes"
	"testing"
)

// Golden packets were produced by an independent field-by-field builder
// written from the RFCs (Python struct packing with its own RFC 1071
// checksum; source in testdata/golden.py) and the headers checked by hand:
// e.g. vxlan4 = 45 b9 0052 5678 4000 40 11 5f66 c0000201 c0000202 | UDP
// 87d7 (hash 0x12345678 -> port 34775) 2118 (8472) 003e 0000 | VXLAN
// 08000000 00000100 (VNI 1) | Ethernet 02..02 02..01 0800 | inner. The
// IPv4 ID is the hash's low 16 bits when DF is set, else the per-peer
// counter (first value 1).
const (
	goldenInner4 = "45b9002000004000401121280af401020af4020304d2162e000c425f68692121"
	goldenInner6 = "62a00000000c114020010db8000a0000000000000000000120010db8000b0000000000000000000204d2162e000cffc168692121"
	goldenHash   = 0x12345678
)

func TestGoldenInnerBuilders(t *testing.T) {
	if got := buildInnerUDP4([]byte("hi!!"), 0xb9, true, 64); !bytes.Equal(got, mustHex(t, goldenInner4)) {
		t.Errorf("inner4:\n got %x\nwant %s", got, goldenInner4)
	}
	if got := buildInnerUDP6([]byte("hi!!"), 0x2a, 64); !bytes.Equal(got, mustHex(t, goldenInner6)) {
		t.Errorf("inner6:\n got %x\nwant %s", got, goldenInner6)
	}
}

func TestGoldenEncap(t *testing.T) {
	criticalOpt := []byte{0x01, 0x02, 0x83, 0x01, 0xde, 0xad, 0xbe, 0xef}
	tests := []struct {
		name    string
		inner   string
		params  Params
		outerV6 bool
		want    string
	}{
		{"vxlan4-flannel-port", goldenInner4,
			Params{Kind: KindVXLAN, VNI: 1, Port: 8472, InnerSrcMAC: testSrcMAC, InnerDstMAC: testDstMAC}, false,
			"45b900525678400040115f66c0000201c000020287d72118003e00000800000000000100020000000002020000000001080045b9002000004000401121280af401020af4020304d2162e000c425f68692121"},
		{"geneve6-critical-option", goldenInner6,
			Params{Kind: KindGeneve, VNI: 0x123456, GeneveOptions: criticalOpt, InnerSrcMAC: testSrcMAC, InnerDstMAC: testDstMAC}, true,
			"62a5753d005a114020010db800000000000000000000000120010db800000000000000000000000287d717c1005a140f024065581234560001028301deadbeef02000000000202000000000186dd62a00000000c114020010db8000a0000000000000000000120010db8000b0000000000000000000204d2162e000cffc168692121"},
		{"geneve-ip4-dfclear-ttl32", goldenInner4,
			Params{Kind: KindGeneve, VNI: 7, GeneveIP: true, DF: DFClear, TTL: 32}, false,
			"45b9004400010000201115ecc0000201c000020287d717c100300000000008000000070045b9002000004000401121280af401020af4020304d2162e000c425f68692121"},
		{"ipip-4in4", goldenInner4, Params{Kind: KindIPIP}, false,
			"45b900345678400040045f91c0000201c000020245b9002000004000401121280af401020af4020304d2162e000c425f68692121"},
		{"ipip-6in4", goldenInner6, Params{Kind: KindIPIP}, false,
			"452a00485678400040295fe7c0000201c000020262a00000000c114020010db8000a0000000000000000000120010db8000b0000000000000000000204d2162e000cffc168692121"},
		{"ipip-4in6", goldenInner4, Params{Kind: KindIPIP}, true,
			"6b95753d0020044020010db800000000000000000000000120010db800000000000000000000000245b9002000004000401121280af401020af4020304d2162e000c425f68692121"},
		{"ipip-6in6", goldenInner6, Params{Kind: KindIPIP}, true,
			"62a5753d0034294020010db800000000000000000000000120010db800000000000000000000000262a00000000c114020010db8000a0000000000000000000120010db8000b0000000000000000000204d2162e000cffc168692121"},
		{"vxlan6-zero-udp-checksum", goldenInner4,
			Params{Kind: KindVXLAN, VNI: 0xabcdef, ZeroUDPChecksum6: true, InnerSrcMAC: testSrcMAC, InnerDstMAC: testDstMAC}, true,
			"6b95753d003e114020010db800000000000000000000000120010db800000000000000000000000287d712b5003e000008000000abcdef00020000000002020000000001080045b9002000004000401121280af401020af4020304d2162e000c425f68692121"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.params.Validate(); err != nil {
				t.Fatal(err)
			}
			for _, path := range encapPaths {
				got := path.fn(t, mustHex(t, tc.inner), &tc.params, newOuter(tc.outerV6), goldenHash)
				if want := mustHex(t, tc.want); !bytes.Equal(got, want) {
					t.Errorf("%s: encap mismatch:\n got %x\nwant %x", path.name, got, want)
				}
			}
		})
	}
}

func TestIPv4Identification(t *testing.T) {
	inner := mustHex(t, goldenInner4) // DF set
	for _, path := range encapPaths {
		o := newOuter(false)
		clear := Params{Kind: KindIPIP, DF: DFClear}
		for want := uint16(1); want <= 3; want++ {
			if id := IPv4(path.fn(t, inner, &clear, o, 0xabcd1234)).ID(); id != want {
				t.Errorf("%s: non-DF packet %d got ID %d", path.name, want, id)
			}
		}
		inherit := Params{Kind: KindIPIP}
		if id := IPv4(path.fn(t, inner, &inherit, o, 0xabcd1234)).ID(); id != 0x1234 {
			t.Errorf("%s: DF packet ID %#x, want the hash's low bits 0x1234", path.name, id)
		}
	}
}
