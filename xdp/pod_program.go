package xdp

import "github.com/cilium/ebpf/asm"

// PodProgramName is the kernel's name for the program on the pods'
// host-side veths (see PodRedirect); Attach recognises it as podfwd's.
const PodProgramName = "podfwd_pod"

// Offsets the pod program reads. The destination sets are LPM tries whose
// keys are {prefixlen u32 (host order), address (network order)}; the
// program builds them on its stack, next to the {ifindex, queue} key of the
// slot map:
//
//	fp-32  u32 ingress_ifindex   } slot key
//	fp-28  u32 rx_queue_index    }
//	fp-24  u32 128   [16]u8 IPv6 destination   (IPv6 trie key)
//	fp-8   u32 32    [4]u8  IPv4 destination   (IPv4 trie key)
const (
	xdpMdIngressIfindex = 12 // offset in struct xdp_md
	ipv4TTLOff          = 8
	ipv4DstOff          = 16
	ipv6HopLimitOff     = 7
	ipv6DstOff          = 24
	podStackKey4        = -8
	podStackKey6        = -24
	podStackSlotKey     = -32
)

// podInstructions assembles the pod program: an IPv4 or IPv6 packet whose
// destination is in the trie of its family and whose TTL (hop limit) is
// above 1 goes to the AF_XDP socket registered for the receiving veth and
// queue; everything else passes. A TTL of 1 or 0 passes so that the kernel
// sends Time Exceeded, as a router must. VLAN tags never occur on a pod's
// veth, so a tagged frame passes like any other non-IP frame.
//
// Registers: R6 the context, R2 data, R3 data_end, R7 the IP header. Every
// packet load is preceded by a comparison with data_end.
func podInstructions(dst4FD, dst6FD, slotsFD, xsksFD int) asm.Instructions {
	const (
		labelPass   = "pass"
		labelIPv4   = "ipv4"
		labelIPv6   = "ipv6"
		labelSocket = "socket"
	)
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, xdpMdData, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, xdpMdDataEnd, asm.Word),
		asm.Mov.Reg(asm.R7, asm.R2),
		asm.Add.Imm(asm.R7, ethHdrLen),
		asm.JGT.Reg(asm.R7, asm.R3, labelPass),
		asm.LoadMem(asm.R4, asm.R2, 12, asm.Half),
		asm.JEq.Imm(asm.R4, be16(0x0800), labelIPv4),
		asm.JEq.Imm(asm.R4, be16(0x86dd), labelIPv6),
		asm.Ja.Label(labelPass),
	}
	// IPv4: version 4, IHL >= 5 with the whole header (options too) inside
	// the frame, TTL > 1, destination in the IPv4 trie.
	insns = append(insns, ipv4Header(labelIPv4, labelPass)...)
	insns = append(insns,
		asm.Mov.Reg(asm.R8, asm.R7),
		asm.Add.Reg(asm.R8, asm.R4),
		asm.JGT.Reg(asm.R8, asm.R3, labelPass),
		asm.LoadMem(asm.R4, asm.R7, ipv4TTLOff, asm.Byte),
		asm.JLE.Imm(asm.R4, 1, labelPass),
		asm.StoreImm(asm.RFP, podStackKey4, 32, asm.Word),
		asm.LoadMem(asm.R4, asm.R7, ipv4DstOff, asm.Word),
		asm.StoreMem(asm.RFP, podStackKey4+4, asm.R4, asm.Word),
	)
	insns = append(insns, podLookup(dst4FD, podStackKey4, labelPass)...)
	insns = append(insns,
		asm.Ja.Label(labelSocket),
	)
	// IPv6: version 6, hop limit > 1, destination of the fixed header in
	// the IPv6 trie; extension headers do not change where the packet
	// goes, so they are not walked.
	insns = append(insns, ipv6Header(labelIPv6, labelPass)...)
	insns = append(insns,
		asm.LoadMem(asm.R4, asm.R7, ipv6HopLimitOff, asm.Byte),
		asm.JLE.Imm(asm.R4, 1, labelPass),
		asm.StoreImm(asm.RFP, podStackKey6, 128, asm.Word),
	)
	for i := int16(0); i < 4; i++ {
		insns = append(insns,
			asm.LoadMem(asm.R4, asm.R7, ipv6DstOff+4*i, asm.Word),
			asm.StoreMem(asm.RFP, podStackKey6+4+4*i, asm.R4, asm.Word),
		)
	}
	insns = append(insns, podLookup(dst6FD, podStackKey6, labelPass)...)
	insns = append(insns,
		// slot := slots[{ingress_ifindex, rx_queue_index}]; no entry
		// means no socket on this veth and queue.
		asm.LoadMem(asm.R4, asm.R6, xdpMdIngressIfindex, asm.Word).WithSymbol(labelSocket),
		asm.StoreMem(asm.RFP, podStackSlotKey, asm.R4, asm.Word),
		asm.LoadMem(asm.R4, asm.R6, xdpMdRxQueue, asm.Word),
		asm.StoreMem(asm.RFP, podStackSlotKey+4, asm.R4, asm.Word),
	)
	insns = append(insns, podLookup(slotsFD, podStackSlotKey, labelPass)...)
	insns = append(insns,
		// bpf_redirect_map(xsks, slot, XDP_PASS): an empty slot (the
		// socket closed before Unregister) passes the packet.
		asm.LoadMem(asm.R2, asm.R0, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, xsksFD),
		asm.Mov.Imm(asm.R3, xdpPass),
		asm.FnRedirectMap.Call(),
		asm.Return(),

		asm.Mov.Imm(asm.R0, xdpPass).WithSymbol(labelPass),
		asm.Return(),
	)
	return insns
}

// podLookup emits R0 = bpf_map_lookup_elem(map, fp+key) and a jump to miss
// when there is no entry. It clobbers R1-R5.
func podLookup(mapFD int, key int16, miss string) asm.Instructions {
	return asm.Instructions{
		asm.LoadMapPtr(asm.R1, mapFD),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, miss),
	}
}
