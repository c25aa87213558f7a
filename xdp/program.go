package xdp

import (
	"encoding/binary"

	"github.com/cilium/ebpf/asm"
)

// The program's configuration lives in an array map with one entry, so the
// local addresses and ports can change without reloading the program. Its
// value has this layout (addresses and ports in network byte order, as the
// packet carries them, so that the program compares raw bytes):
//
//	 0  u32     flags (cfgFlag*)
//	 4  [4]u8   local IPv4 address
//	 8  [16]u8  local IPv6 address
//	24  [4]u16  UDP destination ports (0 = unused slot)
const (
	cfgOffFlags   = 0
	cfgOffIPv4    = 4
	cfgOffIPv6    = 8
	cfgOffPorts   = 24
	cfgValueSize  = 32
	maxPorts      = 4
	cfgFlagIPv4   = 1 << 0 // the IPv4 address is set
	cfgFlagIPv6   = 1 << 1 // the IPv6 address is set
	cfgFlagIPIP   = 1 << 2 // redirect IP protocols 4 and 41
	xdpPass       = 2
	xdpMdData     = 0 // offsets in struct xdp_md
	xdpMdDataEnd  = 4
	xdpMdRxQueue  = 16
	ethHdrLen     = 14
	vlanHdrLen    = 4
	ipv4MinHdrLen = 20
	ipv6HdrLen    = 40
	udpHdrLen     = 8
)

// be16 returns the value a 16-bit load from memory gives for the
// big-endian bytes of v on this machine.
func be16(v uint16) int32 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return int32(binary.NativeEndian.Uint16(b[:]))
}

// redirectInstructions assembles the XDP program. Registers that live
// across the whole program: R6 the context, R9 the config value, R2 data,
// R3 data_end, R7 the current header. Every packet load is preceded by a
// comparison with data_end, as the verifier demands.
func redirectInstructions(cfgMapFD, xskMapFD int) asm.Instructions {
	const (
		labelPass     = "pass"
		labelVLAN     = "vlan"
		labelL3       = "l3"
		labelIPv4     = "ipv4"
		labelIPv6     = "ipv6"
		labelUDP      = "udp"
		labelIPIP     = "ipip"
		labelRedirect = "redirect"
	)
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		// cfg := lookup(cfgMap, 0)
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, cfgMapFD),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, labelPass),
		asm.Mov.Reg(asm.R9, asm.R0),
		asm.LoadMem(asm.R2, asm.R6, xdpMdData, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, xdpMdDataEnd, asm.Word),

		// Ethernet, then at most one VLAN tag (802.1Q or 802.1ad).
		asm.Mov.Reg(asm.R7, asm.R2),
		asm.Add.Imm(asm.R7, ethHdrLen),
		asm.JGT.Reg(asm.R7, asm.R3, labelPass),
		asm.LoadMem(asm.R4, asm.R2, 12, asm.Half),
		asm.JEq.Imm(asm.R4, be16(0x8100), labelVLAN),
		asm.JEq.Imm(asm.R4, be16(0x88a8), labelVLAN),
		asm.Ja.Label(labelL3),
		asm.Mov.Reg(asm.R7, asm.R2).WithSymbol(labelVLAN),
		asm.Add.Imm(asm.R7, ethHdrLen+vlanHdrLen),
		asm.JGT.Reg(asm.R7, asm.R3, labelPass),
		asm.LoadMem(asm.R4, asm.R2, 16, asm.Half),
		asm.JEq.Imm(asm.R4, be16(0x0800), labelIPv4).WithSymbol(labelL3),
		asm.JEq.Imm(asm.R4, be16(0x86dd), labelIPv6),
		asm.Ja.Label(labelPass),

		// IPv4: version 4, IHL >= 5, not a fragment, to our address.
		asm.LoadMem(asm.R5, asm.R9, cfgOffFlags, asm.Word).WithSymbol(labelIPv4),
		asm.And.Imm(asm.R5, cfgFlagIPv4),
		asm.JEq.Imm(asm.R5, 0, labelPass),
	}
	insns = append(insns, ipv4Header("", labelPass)...)
	insns = append(insns,
		asm.LoadMem(asm.R5, asm.R7, 6, asm.Half),
		asm.And.Imm(asm.R5, be16(0x3fff)), // MF flag and fragment offset
		asm.JNE.Imm(asm.R5, 0, labelPass),
		asm.LoadMem(asm.R5, asm.R7, 16, asm.Word),
		asm.LoadMem(asm.R0, asm.R9, cfgOffIPv4, asm.Word),
		asm.JNE.Reg(asm.R5, asm.R0, labelPass),
		asm.LoadMem(asm.R5, asm.R7, 9, asm.Byte),
		asm.JEq.Imm(asm.R5, 4, labelIPIP),
		asm.JEq.Imm(asm.R5, 41, labelIPIP),
		asm.JNE.Imm(asm.R5, 17, labelPass),
		asm.Add.Reg(asm.R7, asm.R4),
		asm.Ja.Label(labelUDP),

		// IPv6: version 6, to our address; extension headers are not
		// walked, so a tunnel packet behind one goes to the kernel.
		asm.LoadMem(asm.R5, asm.R9, cfgOffFlags, asm.Word).WithSymbol(labelIPv6),
		asm.And.Imm(asm.R5, cfgFlagIPv6),
		asm.JEq.Imm(asm.R5, 0, labelPass),
	)
	insns = append(insns, ipv6Header("", labelPass)...)
	for i := int16(0); i < 4; i++ {
		insns = append(insns,
			asm.LoadMem(asm.R5, asm.R7, 24+4*i, asm.Word),
			asm.LoadMem(asm.R0, asm.R9, cfgOffIPv6+4*i, asm.Word),
			asm.JNE.Reg(asm.R5, asm.R0, labelPass),
		)
	}
	insns = append(insns,
		asm.LoadMem(asm.R5, asm.R7, 6, asm.Byte),
		asm.JEq.Imm(asm.R5, 4, labelIPIP),
		asm.JEq.Imm(asm.R5, 41, labelIPIP),
		asm.JNE.Imm(asm.R5, 17, labelPass),
		asm.Add.Imm(asm.R7, ipv6HdrLen),

		// UDP: the destination port must be in one of the used slots.
		asm.Mov.Reg(asm.R8, asm.R7).WithSymbol(labelUDP),
		asm.Add.Imm(asm.R8, udpHdrLen),
		asm.JGT.Reg(asm.R8, asm.R3, labelPass),
		asm.LoadMem(asm.R4, asm.R7, 2, asm.Half),
	)
	for i := int16(0); i < maxPorts; i++ {
		next := "port" + string(rune('1'+i))
		insns = append(insns,
			asm.LoadMem(asm.R5, asm.R9, cfgOffPorts+2*i, asm.Half),
			asm.JEq.Imm(asm.R5, 0, next),
			asm.JEq.Reg(asm.R5, asm.R4, labelRedirect),
			asm.Mov.Imm(asm.R0, 0).WithSymbol(next),
		)
	}
	insns = append(insns,
		asm.Ja.Label(labelPass),

		asm.LoadMem(asm.R5, asm.R9, cfgOffFlags, asm.Word).WithSymbol(labelIPIP),
		asm.And.Imm(asm.R5, cfgFlagIPIP),
		asm.JEq.Imm(asm.R5, 0, labelPass),

		// bpf_redirect_map(xsks, rx_queue_index, XDP_PASS): the flags'
		// low bits are the action taken when the queue has no socket.
		asm.LoadMapPtr(asm.R1, xskMapFD).WithSymbol(labelRedirect),
		asm.LoadMem(asm.R2, asm.R6, xdpMdRxQueue, asm.Word),
		asm.Mov.Imm(asm.R3, xdpPass),
		asm.FnRedirectMap.Call(),
		asm.Return(),

		asm.Mov.Imm(asm.R0, xdpPass).WithSymbol(labelPass),
		asm.Return(),
	)
	return insns
}

// passInstructions is the pass-through program: XDP_PASS for every packet.
// A veth needs some XDP program on its peer before frames redirected or
// sent with XDP_TX into it are accepted in native mode.
func passInstructions() asm.Instructions {
	return asm.Instructions{
		asm.Mov.Imm(asm.R0, xdpPass),
		asm.Return(),
	}
}
