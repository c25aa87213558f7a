package xdp

import "github.com/cilium/ebpf/asm"

// Checks both XDP programs make before reading an IP header's fields.
// Register convention (both programs): R7 points at the IP header, R3 is
// data_end; the checks clobber R4, R5 and R8 and jump to fail when the
// packet does not pass. symbol, when not empty, labels the first
// instruction (a jump target).

// ipv4Header checks that the fixed 20-byte IPv4 header lies inside the
// frame, the version is 4 and the IHL at least 5; it leaves the header's
// length in bytes in R4.
func ipv4Header(symbol, fail string) asm.Instructions {
	return labelFirst(symbol, asm.Instructions{
		asm.Mov.Reg(asm.R8, asm.R7),
		asm.Add.Imm(asm.R8, ipv4MinHdrLen),
		asm.JGT.Reg(asm.R8, asm.R3, fail),
		asm.LoadMem(asm.R4, asm.R7, 0, asm.Byte),
		asm.Mov.Reg(asm.R5, asm.R4),
		asm.RSh.Imm(asm.R5, 4),
		asm.JNE.Imm(asm.R5, 4, fail),
		asm.And.Imm(asm.R4, 0x0f),
		asm.LSh.Imm(asm.R4, 2),
		asm.JLT.Imm(asm.R4, ipv4MinHdrLen, fail),
	})
}

// ipv6Header checks that the fixed 40-byte IPv6 header lies inside the
// frame and the version is 6.
func ipv6Header(symbol, fail string) asm.Instructions {
	return labelFirst(symbol, asm.Instructions{
		asm.Mov.Reg(asm.R8, asm.R7),
		asm.Add.Imm(asm.R8, ipv6HdrLen),
		asm.JGT.Reg(asm.R8, asm.R3, fail),
		asm.LoadMem(asm.R4, asm.R7, 0, asm.Byte),
		asm.RSh.Imm(asm.R4, 4),
		asm.JNE.Imm(asm.R4, 6, fail),
	})
}

func labelFirst(symbol string, insns asm.Instructions) asm.Instructions {
	if symbol != "" {
		insns[0] = insns[0].WithSymbol(symbol)
	}
	return insns
}
