package matcher

// Relocating a window's instructions into a trampoline: RIP-relative
// operands get a new displacement, relative branches a rel32 form to the
// same target.

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// Kinds of relative branch, by how they are re-encoded.
const (
	branchJmp = iota // jmp rel32
	branchJcc        // jcc rel32
	branchRCX        // loop*/jrcxz rel8, over a jmp rel32
)

// branchKind classifies a relative branch.
func branchKind(inst x86asm.Inst) (int, bool) {
	switch inst.Op {
	case x86asm.JMP:
		return branchJmp, true
	case x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE, x86asm.JECXZ, x86asm.JRCXZ:
		return branchRCX, true
	}
	_, ok := jccCode(inst.Op)
	return branchJcc, ok
}

// jccCode is the condition code of a jcc: 0x0f 0x80+cc is its rel32 form.
func jccCode(op x86asm.Op) (byte, bool) {
	switch op {
	case x86asm.JO:
		return 0x0, true
	case x86asm.JNO:
		return 0x1, true
	case x86asm.JB:
		return 0x2, true
	case x86asm.JAE:
		return 0x3, true
	case x86asm.JE:
		return 0x4, true
	case x86asm.JNE:
		return 0x5, true
	case x86asm.JBE:
		return 0x6, true
	case x86asm.JA:
		return 0x7, true
	case x86asm.JS:
		return 0x8, true
	case x86asm.JNS:
		return 0x9, true
	case x86asm.JP:
		return 0xa, true
	case x86asm.JNP:
		return 0xb, true
	case x86asm.JL:
		return 0xc, true
	case x86asm.JGE:
		return 0xd, true
	case x86asm.JLE:
		return 0xe, true
	case x86asm.JG:
		return 0xf, true
	}
	return 0, false
}

// relocatedLen is the length of insts[i] once relocated.
func (w *window) relocatedLen(i int) int {
	inst := w.insts[i]
	if _, ok := inst.Args[0].(x86asm.Rel); !ok {
		return inst.Len
	}
	switch k, _ := branchKind(inst); k {
	case branchJmp:
		return 5
	case branchJcc:
		return 6
	}
	return inst.Len + 2 + 5
}

// relocateAt re-encodes insts[i] to run at to. A relative branch keeps
// its target, except that one to an instruction inside the window goes
// to that instruction's relocated copy, at reloc[j] (the window's first
// instruction excepted: arriving there is what the matcher watches).
func (w *window) relocateAt(i int, to uint64, reloc []uint64) ([]byte, error) {
	inst := w.insts[i]
	from := w.rip + uint64(w.offs[i])
	code := w.src[w.offs[i] : w.offs[i]+inst.Len]
	target, ok := w.branchTarget(i)
	if !ok {
		return relocate(inst, code, from, to)
	}
	if j, in := w.boundary(target); in && j > 0 {
		target = reloc[j]
	}
	a := &asm{pc: to}
	switch k, _ := branchKind(inst); k {
	case branchJmp:
		a.ripRel(target, 0xe9)
	case branchJcc:
		cc, _ := jccCode(inst.Op)
		a.ripRel(target, 0x0f, 0x80|cc)
	default:
		// loop/jrcxz rel8 have no rel32 form: taken, they go to a jmp
		// rel32 to the target; not taken, a jmp short skips it.
		a.emit(code[:inst.Len-1]...)
		a.emit(2, 0xeb, 5)
		a.ripRel(target, 0xe9)
	}
	if a.err != nil {
		return nil, fmt.Errorf("%v at %#x: %w", inst, from, a.err)
	}
	return a.b, nil
}

// isRIPRel reports whether m, an operand of inst, is RIP-relative (or
// EIP-relative, with an address-size prefix: relocating its disp32 modulo
// 2^32 is just as right). x86asm decodes the RIP-relative operands of VEX and EVEX instructions as
// absolute [disp32], a form that needs a SIB byte (Scale 1) in 64-bit mode:
// without one (Scale 0), the operand is RIP-relative.
func isRIPRel(inst x86asm.Inst, m x86asm.Mem) bool {
	if m.Base == x86asm.RIP || m.Base == x86asm.EIP {
		return true
	}
	if m.Base != 0 || m.Index != 0 || m.Scale != 0 {
		return false
	}
	for _, p := range inst.Prefix {
		if isVEX(p) {
			return true
		}
	}
	return false
}

// isVEX reports whether p, in x86asm.Inst.Prefix, starts a VEX or EVEX
// prefix.
func isVEX(p x86asm.Prefix) bool {
	return p == x86asm.PrefixVEX2Bytes || p == x86asm.PrefixVEX3Bytes || p == x86asm.PrefixEVEX
}

// relocate returns the instruction inst, code[:inst.Len] as fetched at
// from, re-encoded to run at to: the disp32 of a RIP-relative operand is
// rewritten so that it still addresses the same bytes. x86asm reports the
// displacement's position in PCRelOff; should it not, every position is
// tried and the one that decodes to the same instruction with only the
// displacement changed is taken.
func relocate(inst x86asm.Inst, code []byte, from, to uint64) ([]byte, error) {
	out := bytes.Clone(code[:inst.Len])
	for i, a := range inst.Args {
		m, ok := a.(x86asm.Mem)
		if !ok || !isRIPRel(inst, m) {
			continue
		}
		target := from + uint64(inst.Len) + uint64(int32(m.Disp))
		disp := int64(target - (to + uint64(inst.Len)))
		if disp != int64(int32(disp)) {
			return nil, fmt.Errorf("%v cannot address %#x from %#x", inst, target, to)
		}
		want := inst
		m.Disp = disp
		want.Args[i] = m
		offs := []int{}
		if inst.PCRel == 4 {
			offs = append(offs, inst.PCRelOff)
		}
		for off := 0; off+4 <= inst.Len; off++ {
			offs = append(offs, off)
		}
		for _, off := range offs {
			binary.LittleEndian.PutUint32(out[off:], uint32(disp))
			got, err := x86asm.Decode(out, 64)
			got.PCRel, got.PCRelOff = inst.PCRel, inst.PCRelOff // whether reported or not
			if err == nil && signExtended(got, i) == want {
				return out, nil
			}
			copy(out, code)
		}
		return nil, fmt.Errorf("%v: RIP-relative displacement not found", inst)
	}
	return out, nil
}

// signExtended returns inst with the displacement of its memory operand i
// sign-extended from 32 bits (x86asm zero-extends a disp32).
func signExtended(inst x86asm.Inst, i int) x86asm.Inst {
	if m, ok := inst.Args[i].(x86asm.Mem); ok {
		m.Disp = int64(int32(m.Disp))
		inst.Args[i] = m
	}
	return inst
}
