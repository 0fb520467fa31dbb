package x86

import "fmt"

// special lists the accesses of instructions that x86asm leaves implicit,
// sizes wrongly or does not know, keyed by their encoding so that the
// fallback path shares it. done is false for instructions whose explicit
// operand says it all.
func (b *accessBuilder) special() (done bool, err error) {
	r := b.raw
	switch {
	case r.enc == encLegacy && r.opMap == 0:
		return b.oneByte()
	case r.enc == encLegacy && r.opMap == 1:
		return b.twoByte()
	case r.enc == encLegacy && r.opMap == 2:
		return b.map0F38(), nil
	case r.enc == encLegacy && r.opMap == 3:
		return r.opcode == 0xF0 && r.mandatory() == 0xF3, nil // HRESET
	case r.enc == encVEX && r.opMap == 1 && r.opcode == 0xF7 && r.pp == 0x66 && !r.mem():
		b.operand(b.trunc(b.cpu.GPR[gprRDI]), 16, KindWrite, false) // VMASKMOVDQU
		return true, nil
	case r.enc == encVEX && r.opMap == 2:
		return b.vexMap2(), nil
	}
	return false, nil
}

// unmodelled fails for an instruction whose footprint needs state this
// package does not have.
func (b *accessBuilder) unmodelled(name string) error {
	return fmt.Errorf("x86: %s at %#x (% x): %w", name, b.cpu.RIP, b.code, ErrUnmodelled)
}

// oneByte covers the one-byte opcodes with implicit operands: strings,
// XLAT, moffs, the stack, ENTER/LEAVE and segment loads.
func (b *accessBuilder) oneByte() (bool, error) {
	r := b.raw
	op := r.opcode
	stackSize := uint64(8)
	if r.opsize && !r.w {
		stackSize = 2
	}
	switch {
	case op >= 0x6C && op <= 0x6F, op >= 0xA4 && op <= 0xA7, op >= 0xAA && op <= 0xAF:
		b.str()
	case op == 0xD7: // XLAT: [RBX + AL]
		ea := b.trunc(b.cpu.GPR[gprRBX] + b.cpu.GPR[gprRAX]&0xFF)
		b.operand(ea, 1, KindRead, false)
	case op >= 0xA0 && op <= 0xA3: // MOV with a moffs operand
		b.moffs()
	case op >= 0x50 && op <= 0x57, op == 0x68, op == 0x6A, op == 0x9C: // PUSH, PUSHF
		b.stack(-int64(stackSize), stackSize, KindWrite)
	case op >= 0x58 && op <= 0x5F, op == 0x9D: // POP, POPF
		b.stack(0, stackSize, KindRead)
	case op == 0x8F && r.reg&7 == 0: // POP r/m
		b.stack(0, stackSize, KindRead)
		if r.mem() {
			b.operand(b.ea(r.disp, stackSize), stackSize, KindWrite, false)
		}
	case op == 0xFF:
		return b.indirect(stackSize)
	case op == 0xE8: // CALL rel
		b.stack(-8, 8, KindWrite)
	case op == 0xC2 || op == 0xC3: // RET
		b.stack(0, 8, KindRead)
	case op == 0xCA || op == 0xCB: // far RET: RIP and CS
		b.stack(0, 16, KindRead)
		return true, b.descriptors(0, false, KindWrite, 8)
	case op == 0xCF: // IRET: RIP, CS, RFLAGS, RSP, SS
		b.stack(0, 40, KindRead)
		return true, b.descriptors(0, false, KindWrite, 8)
	case op == 0xC8:
		b.enter(stackSize)
	case op == 0xC9: // LEAVE: RSP = RBP, pop RBP
		b.add(b.cpu.GPR[gprRBP], stackSize, KindRead, false)
	case op == 0x8E: // MOV Sreg, r/m16
		return true, b.loadSelector(KindWrite, 8)
	default:
		return false, nil
	}
	return true, nil
}

// indirect covers FF /2-/6: CALL, far CALL, JMP, far JMP and PUSH
// through r/m. A memory operand's address is computed before the push.
// INC and DEC (/0, /1) are left to their explicit operand.
func (b *accessBuilder) indirect(stackSize uint64) (bool, error) {
	r := b.raw
	far := uint64(6) // m16:32
	switch {
	case r.w:
		far = 10
	case r.opsize:
		far = 4
	}
	read := func(size uint64) {
		if r.mem() {
			b.operand(b.ea(r.disp, 0), size, KindRead, false)
		}
	}
	switch n := r.reg & 7; {
	case n == 2: // CALL r/m64
		b.stack(-8, 8, KindWrite)
		read(8)
	case n == 3 && r.mem(): // far CALL m: pushes CS and RIP
		b.stack(-16, 16, KindWrite)
		read(far)
		return true, b.descriptors(0, false, KindWrite, 8)
	case n == 4: // JMP r/m64
		read(8)
	case n == 5 && r.mem(): // far JMP m
		read(far)
		return true, b.descriptors(0, false, KindWrite, 8)
	case n == 6: // PUSH r/m
		b.stack(-int64(stackSize), stackSize, KindWrite)
		read(stackSize)
	default:
		return false, nil
	}
	return true, nil
}

// enter covers ENTER size, level: it pushes RBP, copies level-1 frame
// pointers from [RBP-8*i] and pushes the new frame pointer. AMD CPUs also
// probe the new stack top, RSP - pushes - size, for a write (seen on
// this project's hosts by the instruction fuzzer), so that is included.
func (b *accessBuilder) enter(s uint64) {
	level := b.raw.imm >> 16 & 31
	pushes := uint64(1)
	if level > 0 {
		pushes = level + 1
	}
	b.stack(-int64(pushes*s), pushes*s, KindWrite)
	if size := b.raw.imm & 0xffff; size > 0 {
		b.stack(-int64(pushes*s+size), s, KindWrite)
	}
	if level > 1 {
		b.add(b.cpu.GPR[gprRBP]-(level-1)*s, (level-1)*s, KindRead, false)
	}
}

// twoByte covers the 0F opcodes that x86asm leaves implicit, sizes
// wrongly or does not know.
func (b *accessBuilder) twoByte() (bool, error) {
	r := b.raw
	stackSize := uint64(8)
	if r.opsize && !r.w {
		stackSize = 2
	}
	switch op := r.opcode; {
	case op == 0x0D, op >= 0x18 && op <= 0x1F:
		// Prefetches and hint NOPs (ENDBR64, CLDEMOTE; MPX, which no
		// current kernel enables, executes as NOP) touch nothing.
	case op == 0xA0 || op == 0xA8: // PUSH FS, PUSH GS
		b.stack(-int64(stackSize), stackSize, KindWrite)
	case op == 0xA1 || op == 0xA9: // POP FS, POP GS
		b.stack(0, stackSize, KindRead)
		return true, b.descriptors(0, false, KindWrite, 8)
	case (op == 0xB2 || op == 0xB4 || op == 0xB5) && r.mem(): // LSS, LFS, LGS
		far := r.opSize() + 2
		b.operand(b.ea(r.disp, 0), far, KindRead, false)
		return true, b.descriptors(0, false, KindWrite, 8)
	case op == 0x00:
		return b.group6()
	case op == 0x02 || op == 0x03: // LAR, LSL: system descriptors are 16 bytes
		return true, b.loadSelector(KindRead, 16)
	case op == 0x01:
		return b.group7()
	case op == 0xAE:
		b.group15()
	case op == 0xC7:
		return b.group9()
	case op == 0xA3 || op == 0xAB || op == 0xB3 || op == 0xBB:
		b.bitString(op == 0xA3)
	case op == 0xF7 && !r.mem(): // MASKMOVQ, MASKMOVDQU: [RDI]
		size := uint64(8)
		if r.mandatory() == 0x66 {
			size = 16
		}
		b.operand(b.trunc(b.cpu.GPR[gprRDI]), size, KindWrite, false)
	default:
		return false, nil
	}
	return true, nil
}

// group6 is 0F 00: SLDT, STR, LLDT, LTR, VERR, VERW.
func (b *accessBuilder) group6() (bool, error) {
	r := b.raw
	switch r.reg & 7 {
	case 0, 1:
		if r.mem() {
			b.operand(b.ea(r.disp, 0), 2, KindWrite, false)
		}
	case 2, 3: // privileged: #GP at CPL 3
	case 4, 5:
		return true, b.loadSelector(KindRead, 8)
	default:
		return false, nil
	}
	return true, nil
}

// loadSelector covers an instruction whose r/m16 operand is a selector
// whose descriptor it reads (size bytes), setting its accessed bit when k
// is KindWrite.
func (b *accessBuilder) loadSelector(k Kind, size uint64) error {
	r := b.raw
	if !r.mem() {
		return b.descriptors(uint16(b.cpu.GPR[r.rm]), true, k, size)
	}
	b.operand(b.ea(r.disp, 0), 2, KindRead, false)
	return b.descriptors(0, false, k, size)
}

// modrmByte is the ModRM byte without REX extensions.
func (r *rawInst) modrmByte() byte { return r.mod<<6 | r.reg&7<<3 | r.rm&7 }
