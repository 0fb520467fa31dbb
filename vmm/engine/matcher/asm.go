package matcher

// The small assembler the trampolines are built with.

import (
	"encoding/binary"
	"fmt"
)

// fix points the rel32 displacements at offsets offs of a's code, which
// starts at start, to target.
func fix(a *asm, start uint64, offs []int, target uint64) {
	for _, off := range offs {
		binary.LittleEndian.PutUint32(a.b[off:], uint32(target-(start+uint64(off)+4)))
	}
}

// leaDisp encodes "lea rcx, [rcx + d]", d a sign-extended disp32.
func leaDisp(d uint64) []byte {
	return binary.LittleEndian.AppendUint32([]byte{0x48, 0x8d, 0x89}, uint32(d))
}

// leaSum encodes "lea rcx, [r + rcx]" for GPR number r (not RCX).
func leaSum(r int) []byte {
	rex := byte(0x48 | r>>3) // REX.W, REX.B for r8-r15
	if r&7 == 5 {
		// rbp and r13 as a SIB base need mod 01 and a disp8.
		return []byte{rex, 0x8d, 0x4c, 0x08 | 5, 0}
	}
	return []byte{rex, 0x8d, 0x0c, 0x08 | byte(r&7)}
}

// fitsImm32 says whether v is a sign-extended 32-bit immediate.
func fitsImm32(v uint64) bool { return int64(v) == int64(int32(v)) }

// movRCX encodes "mov rcx, v", in 7 bytes where v fits.
func movRCX(v uint64) []byte {
	if fitsImm32(v) {
		return binary.LittleEndian.AppendUint32([]byte{0x48, 0xc7, 0xc1}, uint32(v))
	}
	return binary.LittleEndian.AppendUint64([]byte{0x48, 0xb9}, v)
}

// asm accumulates hand-assembled code that will run at guest address pc
// (of the next byte).
type asm struct {
	pc  uint64
	b   []byte
	err error // the first displacement out of range
}

func (a *asm) emit(b ...byte) {
	a.b = append(a.b, b...)
	a.pc += uint64(len(b))
}

// ripRel appends op and a disp32 that makes the instruction address target:
// a RIP-relative operand or a rel32 branch, both relative to the end of the
// instruction. It returns the offset of the displacement in a.b.
func (a *asm) ripRel(target uint64, op ...byte) int {
	a.emit(op...)
	d := int64(target - (a.pc + 4))
	if d != int64(int32(d)) && a.err == nil {
		a.err = fmt.Errorf("%#x is beyond the reach of a disp32 at %#x", target, a.pc)
	}
	a.emit(binary.LittleEndian.AppendUint32(nil, uint32(d))...)
	return len(a.b) - 4
}
