package x86

// str covers the string instructions INS, OUTS, MOVS, CMPS, STOS, LODS
// and SCAS. A fault stops a REP at an element boundary with RSI, RDI and
// RCX describing the element it was on, so the current iteration's
// element is [RSI] and [RDI] as they are now, whatever RFLAGS.DF says
// about the next one. A REP with a zero count touches nothing. The source
// ([RSI]) takes segment overrides; the destination is always ES:[RDI].
func (b *accessBuilder) str() {
	r := b.raw
	op := r.opcode
	size := uint64(1)
	if op&1 == 1 {
		size = r.opSize()
		if op <= 0x6F { // INS, OUTS: at most a doubleword
			size = min(size, 4)
		}
	}
	if r.rep != 0 && b.trunc(b.cpu.GPR[gprRCX]) == 0 {
		return
	}
	si, di := b.trunc(b.cpu.GPR[gprRSI]), b.trunc(b.cpu.GPR[gprRDI])
	switch op &^ 1 {
	case 0x6C: // INS
		b.flat(di, di, size, KindWrite, false)
	case 0x6E: // OUTS
		b.operand(si, size, KindRead, false)
	case 0xA4: // MOVS
		b.operand(si, size, KindRead, false)
		b.flat(di, di, size, KindWrite, false)
	case 0xA6: // CMPS
		b.operand(si, size, KindRead, false)
		b.flat(di, di, size, KindRead, false)
	case 0xAA: // STOS
		b.flat(di, di, size, KindWrite, false)
	case 0xAC: // LODS
		b.operand(si, size, KindRead, false)
	case 0xAE: // SCAS
		b.flat(di, di, size, KindRead, false)
	}
}

// moffs covers MOV between the accumulator and an absolute address
// (A0-A3), whose 64-bit (32-bit with 0x67) offset is the immediate.
func (b *accessBuilder) moffs() {
	r := b.raw
	size := uint64(1)
	if r.opcode&1 == 1 {
		size = r.opSize()
	}
	k := KindRead
	if r.opcode >= 0xA2 {
		k = KindWrite
	}
	b.operand(r.imm, size, k, false)
}

// bitString covers BT, BTS, BTR and BTC with a register bit offset and a
// memory operand: the offset is signed and operand-size wide, so the
// operand-size unit touched is the one at
// ea + (offset >> log2(bits)) * bytes, which holds the byte at
// ea + (offset >> 3), up to 2^60 bytes either way. With an immediate
// offset (0F BA) the access stays in the operand and x86asm's operand
// says it all.
func (b *accessBuilder) bitString(readOnly bool) {
	r := b.raw
	if !r.mem() {
		return
	}
	size := r.opSize()
	off := int64(b.cpu.GPR[r.reg])
	shift := 6
	switch size {
	case 2:
		off, shift = int64(int16(off)), 4
	case 4:
		off, shift = int64(int32(off)), 5
	}
	ea := b.trunc(b.ea(r.disp, 0) + uint64(off>>shift)*size)
	k := KindWrite
	if readOnly {
		k = KindRead
	}
	b.operand(ea, size, k, false)
}
