package x86

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The encoding forms a rawInst can have.
const (
	encLegacy = iota
	encVEX
	encEVEX
	encXOP
)

var (
	errTruncated = errors.New("truncated instruction")
	errInvalid   = errors.New("invalid encoding in 64-bit mode")
)

// rawInst is the encoding structure of one instruction: what its prefixes,
// opcode map, ModRM, SIB and displacement bytes say, independent of what
// the instruction means. The decoder computes every effective address
// from it (x86asm gets VEX RIP-relative and address-size operands wrong)
// and uses it alone for instructions x86asm does not know.
type rawInst struct {
	// Legacy prefixes.
	seg       byte // last FS (0x64) or GS (0x65) override, 0 for none
	segNulled bool // an ignored ES/CS/SS/DS override follows seg
	opsize    bool // 0x66
	addr32    bool // 0x67
	rep       byte // last of 0xF2 and 0xF3, 0 for none
	lock      bool
	rex       byte // REX prefix immediately before the opcode, 0 for none

	// Opcode.
	enc    int
	vexOff int  // offset of the VEX, EVEX or XOP prefix
	pp     byte // mandatory prefix: 0, 0x66, 0xF3 or 0xF2
	opMap  int  // 0 one-byte, 1 0F, 2 0F38, 3 0F3A; VEX/EVEX map; XOP 8-10
	opcode byte
	w      bool // REX.W or VEX/EVEX/XOP.W
	vl     byte // VEX.L or EVEX.L'L

	// REX or VEX register extensions: 0 or 8.
	extR, extX, extB byte

	// ModRM and what follows it.
	hasModRM     bool
	mod, reg, rm byte // reg and rm include the REX/VEX extension bits
	base, index  int  // register numbers 0-15, -1 for none
	scale        uint64
	ripRel       bool
	disp         int64
	dispLen      int
	immLen       int
	imm          uint64 // the immediate bytes, little-endian, zero-extended
	immUnknown   bool   // the immediate size of this opcode map is not known
	length       int
}

// mandatory returns the prefix that selects among SSE-style opcodes:
// F2/F3 take precedence over 66, as on hardware.
func (r *rawInst) mandatory() byte {
	if r.enc != encLegacy {
		return r.pp
	}
	if r.rep != 0 {
		return r.rep
	}
	if r.opsize {
		return 0x66
	}
	return 0
}

// mem reports whether the instruction has a ModRM memory operand.
func (r *rawInst) mem() bool { return r.hasModRM && r.mod != 3 }

// opSize is the operand size in bytes of a legacy integer instruction.
func (r *rawInst) opSize() uint64 {
	switch {
	case r.w:
		return 8
	case r.opsize:
		return 2
	}
	return 4
}

// parseRaw parses the encoding of the instruction at the start of code.
// On error the fields parsed so far (at least the prefixes) stay valid.
func parseRaw(code []byte) (rawInst, error) {
	if len(code) > 15 {
		code = code[:15]
	}
	r := rawInst{base: -1, index: -1}
	err := r.parse(code)
	if errors.Is(err, errTruncated) && len(code) == 15 {
		err = fmt.Errorf("%w: longer than 15 bytes", errInvalid)
	}
	return r, err
}

// parse fills r from code, which holds at most 15 bytes.
func (r *rawInst) parse(code []byte) error {
	pos := r.prefixes(code)
	if pos >= len(code) {
		return errTruncated
	}
	var err error
	switch b := code[pos]; {
	case b == 0xC4 || b == 0xC5 || b == 0x62:
		pos, err = r.vex(code, pos)
	case b == 0x8F && pos+1 < len(code) && code[pos+1]&0x1F >= 8:
		pos, err = r.vex(code, pos)
	case b == 0x0F:
		pos, err = r.escape(code, pos+1)
	default:
		r.opcode = b
		pos++
	}
	if err != nil {
		return err
	}
	if err := r.shape(); err != nil {
		return err
	}
	if r.hasModRM {
		if pos, err = r.modRM(code, pos); err != nil {
			return err
		}
		if r.enc == encLegacy && r.opMap == 0 && r.reg&7 < 2 {
			switch r.opcode {
			case 0xF6:
				r.immLen = 1
			case 0xF7:
				r.immLen = r.immz()
			}
		}
	}
	if pos+r.immLen > len(code) {
		return errTruncated
	}
	for i := r.immLen - 1; i >= 0; i-- {
		r.imm = r.imm<<8 | uint64(code[pos+i])
	}
	r.length = pos + r.immLen
	return nil
}

// prefixes reads the legacy and REX prefixes and returns the offset of the
// first opcode byte.
func (r *rawInst) prefixes(code []byte) int {
	pos := 0
	for ; pos < len(code); pos++ {
		b := code[pos]
		switch b {
		case 0x26, 0x2E, 0x36, 0x3E:
			r.segNulled = r.seg != 0
		case 0x64, 0x65:
			r.seg, r.segNulled = b, false
		case 0x66:
			r.opsize = true
		case 0x67:
			r.addr32 = true
		case 0xF0:
			r.lock = true
		case 0xF2, 0xF3:
			r.rep = b
		default:
			if b&0xF0 != 0x40 {
				return pos
			}
			r.rex = b
			r.w = b&8 != 0
			continue
		}
		// A legacy prefix after REX makes the REX prefix ignored.
		r.rex, r.w = 0, false
	}
	return pos
}

// escape reads the opcode after a 0F byte at pos.
func (r *rawInst) escape(code []byte, pos int) (int, error) {
	if pos >= len(code) {
		return pos, errTruncated
	}
	r.opMap = 1
	switch code[pos] {
	case 0x38:
		r.opMap = 2
		pos++
	case 0x3A:
		r.opMap = 3
		pos++
	}
	if pos >= len(code) {
		return pos, errTruncated
	}
	r.opcode = code[pos]
	return pos + 1, nil
}

// vex reads a VEX (C4, C5), EVEX (62) or XOP (8F) prefix and the opcode.
func (r *rawInst) vex(code []byte, pos int) (int, error) {
	if r.opsize || r.rep != 0 || r.lock || r.rex != 0 {
		return pos, fmt.Errorf("%w: 66, F2, F3, LOCK or REX before VEX", errInvalid)
	}
	r.vexOff = pos
	var n int
	switch code[pos] {
	case 0xC5:
		n = 2
	case 0x62:
		n = 4
	default:
		n = 3
	}
	if pos+n >= len(code) {
		return pos, errTruncated
	}
	p := code[pos+1 : pos+n]
	switch code[pos] {
	case 0xC5:
		r.enc, r.opMap = encVEX, 1
		r.extR = ^p[0] >> 7 & 1 << 3
		r.vl = p[0] >> 2 & 1
		r.pp = ppPrefix(p[0])
	case 0x62:
		r.enc = encEVEX
		r.extR, r.extX, r.extB = ^p[0]>>7&1<<3, ^p[0]>>6&1<<3, ^p[0]>>5&1<<3
		r.opMap = int(p[0] & 7)
		r.w = p[1]&0x80 != 0
		r.pp = ppPrefix(p[1])
		r.vl = p[2] >> 5 & 3
	default:
		r.enc = encVEX
		if code[pos] == 0x8F {
			r.enc = encXOP
		}
		r.extR, r.extX, r.extB = ^p[0]>>7&1<<3, ^p[0]>>6&1<<3, ^p[0]>>5&1<<3
		r.opMap = int(p[0] & 0x1F)
		r.w = p[1]&0x80 != 0
		r.vl = p[1] >> 2 & 1
		r.pp = ppPrefix(p[1])
	}
	r.opcode = code[pos+n]
	return pos + n + 1, nil
}

func ppPrefix(b byte) byte { return [4]byte{0, 0x66, 0xF3, 0xF2}[b&3] }

// modRM reads the ModRM byte at pos and the SIB and displacement after it.
func (r *rawInst) modRM(code []byte, pos int) (int, error) {
	if pos >= len(code) {
		return pos, errTruncated
	}
	m := code[pos]
	pos++
	if r.enc == encLegacy {
		r.extR, r.extX, r.extB = r.rex>>2&1<<3, r.rex>>1&1<<3, r.rex&1<<3
	}
	r.mod, r.reg, r.rm = m>>6, m>>3&7|r.extR, m&7|r.extB
	if r.enc == encLegacy && r.opMap == 1 && r.opcode >= 0x20 && r.opcode <= 0x23 {
		r.mod = 3 // MOV to and from CR and DR ignore mod: always registers
	}
	if r.mod == 3 {
		return pos, nil
	}
	switch {
	case m&7 == 4:
		if pos >= len(code) {
			return pos, errTruncated
		}
		sib := code[pos]
		pos++
		r.scale = 1 << (sib >> 6)
		if idx := sib>>3&7 | r.extX; idx != 4 {
			r.index = int(idx)
		}
		if sib&7 == 5 && r.mod == 0 {
			r.dispLen = 4
		} else {
			r.base = int(sib&7 | r.extB)
		}
	case m&7 == 5 && r.mod == 0:
		r.ripRel = true
		r.dispLen = 4
	default:
		r.base = int(r.rm)
	}
	switch r.mod {
	case 1:
		r.dispLen = 1
	case 2:
		r.dispLen = 4
	}
	if pos+r.dispLen > len(code) {
		return pos, errTruncated
	}
	switch r.dispLen {
	case 1:
		r.disp = int64(int8(code[pos]))
	case 4:
		r.disp = int64(int32(binary.LittleEndian.Uint32(code[pos:])))
	}
	return pos + r.dispLen, nil
}
