package x86

import "fmt"

// shape sets whether r's opcode has a ModRM byte and how many immediate
// bytes follow, from the opcode map tables of the Intel SDM (volume 2,
// appendix A) for 64-bit mode. Only the shape is needed, not the meaning:
// it locates the memory operand and the end of the instruction.
func (r *rawInst) shape() error {
	switch {
	case r.enc == encXOP:
		r.hasModRM = true
		switch r.opMap {
		case 8:
			r.immLen = 1
		case 10:
			r.immLen = 4
		}
		return nil
	case r.enc != encLegacy:
		return r.vexShape()
	}
	switch r.opMap {
	case 0:
		return r.oneByteShape()
	case 1:
		return r.twoByteShape()
	case 2:
		r.hasModRM = true
	case 3:
		r.hasModRM, r.immLen = true, 1
	}
	return nil
}

// immz is the size of an immediate that is 16 or 32 bits.
func (r *rawInst) immz() int {
	if r.opsize && !r.w {
		return 2
	}
	return 4
}

func (r *rawInst) oneByteShape() error {
	op := r.opcode
	switch {
	case op < 0x40:
		switch op & 7 {
		case 0, 1, 2, 3:
			r.hasModRM = true
		case 4:
			r.immLen = 1
		case 5:
			r.immLen = r.immz()
		default: // push/pop of segment registers, BCD adjustments
			return fmt.Errorf("%w: opcode %#02x", errInvalid, op)
		}
	case op >= 0x50 && op <= 0x5F, op >= 0x6C && op <= 0x6F, op >= 0x90 && op <= 0x99,
		op >= 0x9B && op <= 0x9F, op >= 0xA4 && op <= 0xA7, op >= 0xAA && op <= 0xAF,
		op == 0xC3, op == 0xC9, op == 0xCB, op == 0xCC, op == 0xCF, op == 0xD7,
		op >= 0xEC && op <= 0xEF, op == 0xF1, op == 0xF4, op == 0xF5, op >= 0xF8 && op <= 0xFD:
		// no ModRM, no immediate
	case op == 0x63, op >= 0x84 && op <= 0x8F, op >= 0xD0 && op <= 0xD3,
		op >= 0xD8 && op <= 0xDF, op == 0xFE, op == 0xFF:
		r.hasModRM = true
	case op == 0x69, op == 0x81, op == 0xC7:
		r.hasModRM, r.immLen = true, r.immz()
	case op == 0x6B, op == 0x80, op == 0x83, op == 0xC0, op == 0xC1, op == 0xC6:
		r.hasModRM, r.immLen = true, 1
	case op == 0x68, op == 0xA9:
		r.immLen = r.immz()
	case op == 0x6A, op >= 0x70 && op <= 0x7F, op == 0xA8, op >= 0xB0 && op <= 0xB7,
		op == 0xCD, op >= 0xE0 && op <= 0xE7, op == 0xEB:
		r.immLen = 1
	case op >= 0xA0 && op <= 0xA3: // moffs
		r.immLen = 8
		if r.addr32 {
			r.immLen = 4
		}
	case op >= 0xB8 && op <= 0xBF:
		r.immLen = r.immz()
		if r.w {
			r.immLen = 8
		}
	case op == 0xC2, op == 0xCA:
		r.immLen = 2
	case op == 0xC8:
		r.immLen = 3
	case op == 0xE8, op == 0xE9:
		r.immLen = 4
	case op == 0xF6 || op == 0xF7:
		r.hasModRM = true
		// The immediate of TEST (reg 0 and 1) is only known after ModRM.
	default:
		return fmt.Errorf("%w: opcode %#02x", errInvalid, op)
	}
	return nil
}

func (r *rawInst) twoByteShape() error {
	op := r.opcode
	switch {
	case op == 0x04, op == 0x0A, op == 0x0C, op >= 0x24 && op <= 0x27, op == 0x36,
		op >= 0x39 && op <= 0x3F, op == 0x7A, op == 0x7B, op == 0xA6, op == 0xA7:
		return fmt.Errorf("%w: opcode 0f %02x", errInvalid, op)
	case op >= 0x05 && op <= 0x0B, op == 0x0E, op >= 0x30 && op <= 0x37, op == 0x77,
		op == 0xA0, op == 0xA1, op == 0xA2, op == 0xA8, op == 0xA9, op == 0xAA,
		op >= 0xC8 && op <= 0xCF:
		// no ModRM, no immediate
	case op >= 0x80 && op <= 0x8F:
		r.immLen = 4 // Jcc rel32
	case op == 0x0F: // 3DNow!: the opcode is a suffix byte
		r.hasModRM, r.immLen = true, 1
	case op >= 0x70 && op <= 0x73, op == 0xA4, op == 0xAC, op == 0xBA, op == 0xC2,
		op >= 0xC4 && op <= 0xC6:
		r.hasModRM, r.immLen = true, 1
	case op == 0x78 && (r.mandatory() == 0x66 || r.mandatory() == 0xF2):
		r.hasModRM, r.immLen = true, 2 // EXTRQ, INSERTQ
	default:
		r.hasModRM = true
	}
	return nil
}

// vexShape covers the VEX and EVEX maps. Maps 1-3 are those of the
// legacy 0F, 0F38 and 0F3A opcodes; EVEX maps 5 and 6 (AVX512-FP16) have
// no immediates; the immediates of other maps are not known.
func (r *rawInst) vexShape() error {
	r.hasModRM = true
	switch r.opMap {
	case 1:
		switch op := r.opcode; {
		case op == 0x77 && r.enc == encVEX: // VZEROUPPER, VZEROALL
			r.hasModRM = false
		case op >= 0x70 && op <= 0x73, op == 0xC2, op >= 0xC4 && op <= 0xC6:
			r.immLen = 1
		}
	case 2, 5, 6:
	case 3:
		r.immLen = 1
	case 0:
		return fmt.Errorf("%w: VEX opcode map 0", errInvalid)
	default:
		r.immUnknown = true
	}
	return nil
}
