package x86

import (
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// xsaveMax stands in for the XSAVE area when CPU.XSaveSize is 0: it holds
// every user state up to AVX-512 and PKRU (2696 bytes); AMX tile data
// (8 KiB more) needs the real size.
const xsaveMax = 4096

func xsaveSize(cpu *CPU) (size uint64, approx bool) {
	if cpu.XSaveSize == 0 {
		return xsaveMax, true
	}
	return cpu.XSaveSize, false
}

// noAccess lists instructions whose memory operand is not accessed.
func noAccess(op x86asm.Op) bool {
	switch op {
	case x86asm.LEA, x86asm.NOP, x86asm.PREFETCHNTA, x86asm.PREFETCHT0, x86asm.PREFETCHT1,
		x86asm.PREFETCHT2, x86asm.PREFETCHW, x86asm.INVLPG:
		return true
	}
	return false
}

// operandKind is the direction of the memory operand in argument i. In
// Intel order the destination comes first, so a memory operand there is
// written (or read and written) unless the instruction only reads it.
func operandKind(op x86asm.Op, i int) Kind {
	switch {
	case alwaysWrites(op):
		return KindWrite
	case i != 0 || readsFirst(op):
		return KindRead
	}
	return KindWrite
}

// alwaysWrites lists instructions that write their memory operand in
// whatever position: exchanges write it back even when a compare fails.
func alwaysWrites(op x86asm.Op) bool {
	switch op {
	case x86asm.XCHG, x86asm.XADD, x86asm.CMPXCHG, x86asm.CMPXCHG8B, x86asm.CMPXCHG16B:
		return true
	}
	return false
}

// readsFirst lists instructions whose first operand, in memory, is only
// read.
func readsFirst(op x86asm.Op) bool {
	switch op {
	case x86asm.CMP, x86asm.TEST, x86asm.BT, x86asm.PUSH, x86asm.CALL, x86asm.JMP,
		x86asm.LCALL, x86asm.LJMP, x86asm.LGDT, x86asm.LIDT, x86asm.LLDT, x86asm.LTR,
		x86asm.LMSW, x86asm.VERR, x86asm.VERW, x86asm.CLFLUSH, x86asm.LDMXCSR,
		x86asm.VLDMXCSR, x86asm.FXRSTOR, x86asm.FXRSTOR64, x86asm.XRSTOR, x86asm.XRSTOR64,
		x86asm.XRSTORS, x86asm.XRSTORS64, x86asm.UD0, x86asm.UD1,
		x86asm.MUL, x86asm.IMUL, x86asm.DIV, x86asm.IDIV:
		return true
	}
	return isX87(op) && !x87Stores(op)
}

// isX87 reports an x87 instruction (all named F...).
func isX87(op x86asm.Op) bool {
	s := op.String()
	return strings.HasPrefix(s, "F") && !strings.HasPrefix(s, "FX")
}

// x87Stores lists the x87 instructions that write their memory operand.
func x87Stores(op x86asm.Op) bool {
	switch op {
	case x86asm.FST, x86asm.FSTP, x86asm.FIST, x86asm.FISTP, x86asm.FISTTP, x86asm.FBSTP,
		x86asm.FNSTCW, x86asm.FNSTSW, x86asm.FNSTENV, x86asm.FNSAVE:
		return true
	}
	return false
}

// memSize is the size of inst's explicit memory operand, for the operands
// x86asm gives no size (MemBytes 0). FXSAVE, XSAVE and the descriptor-table
// stores come through special, which knows their sizes.
func operandSize(inst x86asm.Inst, raw *rawInst) (size uint64, approx bool) {
	legacy16 := raw.opsize && !raw.w
	switch inst.Op {
	case x86asm.FLDENV, x86asm.FNSTENV:
		if legacy16 {
			return 14, false
		}
		return 28, false
	case x86asm.FRSTOR, x86asm.FNSAVE:
		if legacy16 {
			return 94, false
		}
		return 108, false
	}
	if inst.MemBytes > 0 {
		return uint64(inst.MemBytes), false
	}
	switch inst.Op {
	case x86asm.FLD, x86asm.FSTP, x86asm.FBLD, x86asm.FBSTP: // 80-bit forms
		return 10, false
	}
	return guessSize, true // no size known: a generous bound
}
