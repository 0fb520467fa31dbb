package x86

import (
	"math/rand/v2"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// Every explicit memory operand x86asm sees must be covered by an access,
// unless the instruction does not touch it (LEA, NOP, prefetches, hint
// NOPs) or moves it (BT with a register offset, POP with an RSP base).
func TestDecodeCoversExplicitOperands(t *testing.T) {
	cpu := decodeCPU()
	cpu.Vector = &VectorRegs{}
	rng := rand.New(rand.NewPCG(3, 4))
	checked := 0
	for i := range 300000 {
		var code [15]byte
		for j := range code {
			code[j] = byte(rng.Uint32())
		}
		switch i % 4 { // favour VEX and EVEX, with and without prefixes
		case 1:
			code[0] = []byte{0xc4, 0xc5, 0x62}[i/4%3]
		case 2:
			code[0], code[1] = []byte{0x64, 0x65, 0x67}[i/4%3], []byte{0xc4, 0xc5, 0x62}[i/12%3]
		}
		raw, rerr := parseRaw(code[:])
		inst, err := x86DecodeAfter(code[:], &raw, rerr)
		if err != nil || inst.Op == 0 || rerr != nil || !raw.mem() || skipCoverage(inst, &raw) {
			continue
		}
		var m x86asm.Mem
		for _, a := range inst.Args {
			if mm, ok := a.(x86asm.Mem); ok {
				m = mm
				break
			}
		}
		if isVector(m.Index) {
			continue
		}
		_, acc, err := DecodeAccesses(code[:], cpu)
		if err != nil {
			continue // reported, not silently missed
		}
		checked++
		b := newAccessBuilder(cpu, &raw, inst, code[:])
		ea := b.ea(b.disp(m), 0)
		switch raw.seg {
		case 0x64:
			ea += tFS
		case 0x65:
			ea += tGS
		}
		covered := false
		for _, a := range acc {
			covered = covered || ea-a.Addr < a.Size
		}
		if !covered {
			t.Errorf("% x %v: operand at %#x not in %+v", code[:inst.Len], inst, ea, acc)
		}
	}
	if checked < 10000 {
		t.Errorf("only %d instructions checked", checked)
	}
}

func skipCoverage(inst x86asm.Inst, raw *rawInst) bool {
	switch {
	case noAccess(inst.Op), inst.Op == x86asm.BTS, inst.Op == x86asm.BTR, inst.Op == x86asm.BTC, inst.Op == x86asm.BT:
		return true
	case raw.enc == encLegacy && raw.opMap == 1 && (raw.opcode == 0x0D || raw.opcode >= 0x18 && raw.opcode <= 0x1F):
		return true // prefetches and hint NOPs
	case raw.enc == encLegacy && raw.opMap == 1 && raw.opcode == 0x01 && raw.reg&7 == 7:
		return true // INVLPG
	case raw.enc == encLegacy && raw.opMap == 1 && raw.opcode == 0xC7 && raw.reg&7 >= 6:
		return true // VMX, privileged
	case raw.enc == encLegacy && raw.opMap == 1 && raw.opcode == 0xAE && raw.mandatory() != 0:
		return true // x86asm misnames these; tested by hand
	case raw.enc == encLegacy && raw.opMap == 1 && raw.opcode == 0x00 && (raw.reg&7 == 2 || raw.reg&7 == 3):
		return true // LLDT, LTR: privileged
	case inst.Op == x86asm.POP && raw.base == gprRSP:
		return true
	}
	return false
}
