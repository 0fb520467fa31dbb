package x86

import (
	"math/rand/v2"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// The encoding parser must agree with x86asm on the length and the
// effective address of everything x86asm decodes, except where x86asm is
// known to be wrong: it zero-extends 32-bit displacements, drops the RIP
// base of VEX operands, reads a ModRM byte after VZEROUPPER and a
// displacement after MOV CR/DR.
func TestRawAgreesWithX86asm(t *testing.T) {
	cpu := decodeCPU()
	for i := range cpu.GPR {
		cpu.GPR[i] = uint64(i+1)<<12 | 0xffff_0000_0000_0000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	n := 500000
	if testing.Short() {
		n = 20000
	}
	checked := 0
	for range n {
		var code [15]byte
		for j := range code {
			code[j] = byte(rng.Uint32())
		}
		inst, err := x86Decode(code[:])
		if err != nil || inst.Op == 0 {
			continue
		}
		raw, rerr := parseRaw(code[:])
		switch {
		case rerr != nil:
			if raw.opMap == 1 && (raw.opcode == 0x24 || raw.opcode == 0x26) {
				continue // MOV to/from test registers: #UD since the Pentium
			}
			t.Errorf("% x: x86asm %v, parser: %v", code[:inst.Len], inst, rerr)
			continue
		case raw.enc == encVEX && raw.opMap == 1 && raw.opcode == 0x77:
			continue
		case raw.enc == encEVEX && raw.opMap >= 4:
			continue // x86asm reads two of the three map bits
		case raw.enc == encLegacy && raw.opMap == 1 && raw.opcode >= 0x20 && raw.opcode <= 0x23:
			continue // MOV CR/DR ignore mod; x86asm reads a displacement
		case raw.length != inst.Len:
			t.Errorf("% x: x86asm %v is %d bytes, parser %d", code[:inst.Len], inst, inst.Len, raw.length)
			continue
		}
		for _, a := range inst.Args {
			m, ok := a.(x86asm.Mem)
			if !ok || !raw.mem() || isVector(m.Index) || raw.enc != encLegacy && raw.ripRel {
				continue
			}
			checked++
			b := newAccessBuilder(cpu, &raw, inst, code[:])
			if got, want := b.ea(b.disp(m), 0), x86asmEA(cpu, inst, m, raw.dispLen); got != want {
				t.Errorf("% x: %v: ea %#x, x86asm %#x", code[:inst.Len], inst, got, want)
			}
			break
		}
	}
	if checked < n/10 {
		t.Errorf("only %d memory operands checked", checked)
	}
}

// x86asmEA evaluates x86asm's operand, with its displacement sign-extended.
func x86asmEA(cpu *CPU, inst x86asm.Inst, m x86asm.Mem, dispLen int) uint64 {
	next := cpu.RIP + uint64(inst.Len)
	reg := func(r x86asm.Reg) uint64 {
		switch {
		case r == x86asm.RIP:
			return next
		case r == x86asm.EIP:
			return next & 0xffff_ffff
		case r >= x86asm.RAX && r <= x86asm.R15:
			return cpu.GPR[r-x86asm.RAX]
		case r >= x86asm.EAX && r <= x86asm.R15L:
			return cpu.GPR[r-x86asm.EAX] & 0xffff_ffff
		}
		return 0
	}
	d := m.Disp
	if dispLen == 4 {
		d = int64(int32(d))
	}
	ea := reg(m.Base) + reg(m.Index)*uint64(m.Scale) + uint64(d)
	if inst.AddrSize == 32 {
		ea &= 0xffff_ffff
	}
	return ea
}

func TestRawPrefixes(t *testing.T) {
	for _, tc := range []struct {
		code []byte
		want rawInst
	}{
		// REX must come last: a legacy prefix after it cancels it.
		{[]byte{0x48, 0x66, 0x8b, 0x03}, rawInst{opsize: true, opcode: 0x8b, length: 4}},
		{[]byte{0x66, 0x48, 0x8b, 0x03}, rawInst{opsize: true, rex: 0x48, w: true, opcode: 0x8b, length: 4}},
		{[]byte{0x64, 0x26, 0x8b, 0x03}, rawInst{seg: 0x64, segNulled: true, opcode: 0x8b, length: 4}},
		{[]byte{0xf2, 0xf3, 0xa4}, rawInst{rep: 0xf3, opcode: 0xa4, length: 3}},
	} {
		got, err := parseRaw(tc.code)
		if err != nil {
			t.Fatal(err)
		}
		if got.seg != tc.want.seg || got.segNulled != tc.want.segNulled || got.opsize != tc.want.opsize ||
			got.rex != tc.want.rex || got.w != tc.want.w || got.rep != tc.want.rep || got.opcode != tc.want.opcode ||
			got.length != tc.want.length {
			t.Errorf("% x: got %+v", tc.code, got)
		}
	}
}
