package x86

import (
	"errors"

	"golang.org/x/arch/x86/x86asm"
)

// guessSize bounds the memory operand of an instruction only the encoding
// parser knows: no AVX-512 operand is larger than 64 bytes.
const guessSize = 64

// fallback names the accesses of an instruction x86asm cannot decode,
// from its encoding alone: the instructions special knows exactly, and
// otherwise a guessSize write at the ModRM memory operand. A register-form
// VEX/EVEX/XOP instruction touches no memory; an unknown legacy one
// without a memory operand, or bytes that do not parse, are a
// *DecodeError.
func fallback(code []byte, raw *rawInst, rawErr error, inst x86asm.Inst, xerr error, cpu *CPU) (decoded, error) {
	if rawErr != nil {
		return decoded{}, decodeError(cpu.RIP, code, inst, xerr, rawErr)
	}
	b := newAccessBuilder(cpu, raw, x86asm.Inst{}, code)
	if raw.immUnknown {
		// The length is a lower bound: the immediate may be up to 4 bytes.
		b.approx = true
	}
	if done, err := b.special(); done || err != nil {
		return b.result(), err
	}
	switch {
	case raw.mem() && raw.enc != encLegacy && raw.opMap == 2 && vsibOpcode(raw.opcode):
		return b.result(), decodeError(cpu.RIP, b.code, inst, xerr,
			errors.New("gather or scatter with a vector index that x86asm does not decode"))
	case raw.mem():
		b.guess()
	case raw.enc != encLegacy:
		b.approx = true // register operands only
	default:
		return b.result(), decodeError(cpu.RIP, b.code, inst, xerr,
			errors.New("unknown instruction without a memory operand"))
	}
	res := b.result()
	if raw.immUnknown {
		res.length = 0
	}
	return res, nil
}

// guess adds a guessSize write at the memory operand. EVEX scales an
// 8-bit displacement by the operand's size N, unknown here, so every
// power of two up to 64 is tried; an unknown immediate moves the end of
// the instruction, and so a RIP-relative operand, by up to 4 bytes.
func (b *accessBuilder) guess() {
	r := b.raw
	scales := []int64{1}
	if r.enc == encEVEX && r.dispLen == 1 {
		scales = []int64{1, 2, 4, 8, 16, 32, 64}
	}
	size := uint64(guessSize)
	if r.immUnknown && r.ripRel {
		size += 4
	}
	for _, n := range scales {
		b.operand(b.ea(r.disp*n, 0), size, KindWrite, true)
	}
}

// vsibOpcode reports the 0F38 opcodes of gathers, scatters and their
// prefetches, whose SIB index is a vector register.
func vsibOpcode(op byte) bool {
	return op >= 0x90 && op <= 0x93 || op >= 0xA0 && op <= 0xA3 || op == 0xC6 || op == 0xC7
}
