package x86

import (
	"errors"
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// LinearAccess is one linear byte range an instruction may touch, before
// translation.
type LinearAccess struct {
	Addr, Size uint64 // Size may span pages
	Kind       Kind
	// Approximate marks a conservative bound rather than the exact range.
	Approximate bool
	// Supervisor marks an implicit supervisor-mode access (a descriptor
	// table), which the page walk checks as such.
	Supervisor bool
}

// DecodeError names an instruction that cannot be decoded at all: its
// bytes and what x86asm made of them.
type DecodeError struct {
	RIP   uint64
	Bytes []byte
	Msg   string
	err   error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("x86: cannot decode the instruction at %#x (% x): %s", e.RIP, e.Bytes, e.Msg)
}

// Unwrap returns the encoding error behind e, if any.
func (e *DecodeError) Unwrap() error { return e.err }

// Errors for instructions that decode but whose footprint cannot be named
// from the state given.
var (
	// ErrUnmodelled: the instruction touches memory through state the CPU
	// struct does not carry (SGX, user interrupts, shadow stacks).
	ErrUnmodelled = errors.New("x86: the instruction's memory footprint is not modelled")
	// ErrVectorRegs: a gather or scatter and CPU.Vector is nil.
	ErrVectorRegs = errors.New("x86: a vector-indexed operand needs CPU.Vector")
	// ErrDescriptorTables: a segment load and the GDT is unknown.
	ErrDescriptorTables = errors.New("x86: a segment load needs the descriptor tables (CPU.GDTBase, GDTLimit)")
)

// DecodeAccesses decodes the 64-bit instruction at the start of code,
// fetched at cpu.RIP, and lists the linear ranges it may access with the
// registers of cpu: explicit operands, the stack, string elements (the
// current iteration of a REP) and descriptor tables. Where x86asm cannot
// decode the bytes, the returned Inst has Op 0 and only Len set, and the
// accesses come from the package's own encoding parser (Approximate);
// Len is 0 when even the length is not known. On error no accesses are
// returned.
func DecodeAccesses(code []byte, cpu *CPU) (x86asm.Inst, []LinearAccess, error) {
	dec, err := decodeInst(code, cpu)
	inst := dec.inst
	if inst.Op == 0 {
		inst = x86asm.Inst{Len: dec.length}
	}
	if err != nil {
		return inst, nil, err
	}
	return inst, dec.acc, nil
}

// decoded is what the decoder makes of one instruction.
type decoded struct {
	inst   x86asm.Inst // Op 0 when x86asm could not decode it
	length int         // 0 when not known
	acc    []LinearAccess
	approx bool // the accesses are a guess even where acc is empty
}

// decode decodes the instruction at the start of code with x86asm and the
// encoding parser, each covering for the other's gaps.
func decodeInst(code []byte, cpu *CPU) (decoded, error) {
	if cpu == nil {
		return decoded{}, errors.New("x86: decode needs a CPU")
	}
	code = code[:min(len(code), maxInstLen)]
	raw, rawErr := parseRaw(code)
	inst, xerr := x86DecodeAfter(code, &raw, rawErr)
	switch {
	case rawErr == nil && raw.enc == encVEX && raw.opMap == 1 && raw.opcode == 0x77:
		// VZEROUPPER and VZEROALL have no ModRM byte, but x86asm reads one.
		op := x86asm.VZEROUPPER
		if raw.vl != 0 {
			op = x86asm.VZEROALL
		}
		return decoded{inst: x86asm.Inst{Op: op, Mode: 64, Len: raw.length}, length: raw.length}, nil
	case xerr != nil || inst.Op == 0:
		return fallback(code, &raw, rawErr, inst, xerr, cpu)
	case raw.enc == encEVEX && raw.opMap >= 4:
		// x86asm reads only two bits of the EVEX map: maps 5 and 6
		// (AVX512-FP16) come out as instructions of maps 1 and 2.
		return fallback(code, &raw, rawErr, x86asm.Inst{}, errors.New("EVEX map not decoded"), cpu)
	case rawErr != nil:
		return decoded{inst: inst}, decodeError(cpu.RIP, code[:inst.Len], inst, nil,
			fmt.Errorf("x86asm decodes it, but its encoding does not parse: %w", rawErr))
	case inst.Len != raw.length && !raw.immUnknown:
		return decoded{inst: inst}, decodeError(cpu.RIP, code[:inst.Len], inst, nil,
			fmt.Errorf("x86asm says %d bytes, the encoding %d", inst.Len, raw.length))
	}
	b := newAccessBuilder(cpu, &raw, inst, code)
	err := b.known()
	return b.result(), err
}

// x86DecodeAfter runs x86asm on code and, where it fails on a VEX or EVEX
// prefix that follows segment or address-size prefixes (x86asm only takes
// them as the first byte), again from the VEX prefix.
func x86DecodeAfter(code []byte, raw *rawInst, rawErr error) (x86asm.Inst, error) {
	inst, err := x86Decode(code)
	if rawErr == nil && raw.vexOff > 0 && (err != nil || inst.Op == 0) {
		if in, err2 := x86Decode(code[raw.vexOff:]); err2 == nil && in.Op != 0 {
			in.Len += raw.vexOff
			return in, nil
		}
	}
	return inst, err
}

// x86Decode is x86asm.Decode in 64-bit mode, with a panic in it turned
// into an error: Analyze must not panic on any bytes.
func x86Decode(code []byte) (inst x86asm.Inst, err error) {
	defer func() {
		if p := recover(); p != nil {
			inst, err = x86asm.Inst{}, fmt.Errorf("x86asm panicked: %v", p)
		}
	}()
	return x86asm.Decode(code, 64)
}

// decodeError builds the *DecodeError for code, with what x86asm said.
func decodeError(rip uint64, code []byte, inst x86asm.Inst, xerr, cause error) *DecodeError {
	msg := "x86asm: "
	switch {
	case xerr != nil:
		msg += xerr.Error()
	case inst.Op == 0:
		msg += "no instruction decoded"
	default:
		msg += x86asm.IntelSyntax(inst, rip, nil)
	}
	if cause != nil {
		msg += "; " + cause.Error()
	}
	return &DecodeError{RIP: rip, Bytes: append([]byte(nil), code...), Msg: msg, err: cause}
}

// accessBuilder collects the accesses of one instruction.
type accessBuilder struct {
	cpu    *CPU
	raw    *rawInst
	inst   x86asm.Inst // Op 0 in the fallback
	code   []byte
	next   uint64 // address of the next instruction
	acc    []LinearAccess
	approx bool
}

func newAccessBuilder(cpu *CPU, raw *rawInst, inst x86asm.Inst, code []byte) *accessBuilder {
	n := raw.length
	if inst.Op != 0 {
		n = inst.Len
	}
	return &accessBuilder{cpu: cpu, raw: raw, inst: inst, code: code[:n], next: cpu.RIP + uint64(n)}
}

func (b *accessBuilder) result() decoded {
	approx := b.approx
	for _, a := range b.acc {
		approx = approx || a.Approximate
	}
	return decoded{inst: b.inst, length: len(b.code), acc: b.acc, approx: approx}
}

func (b *accessBuilder) add(addr, size uint64, k Kind, approx bool) {
	if size > 0 {
		b.acc = append(b.acc, LinearAccess{Addr: addr, Size: size, Kind: k, Approximate: approx})
	}
}

// known lists the accesses of an instruction x86asm decoded.
func (b *accessBuilder) known() error {
	if done, err := b.special(); done || err != nil {
		return err
	}
	if noAccess(b.inst.Op) {
		return nil
	}
	for i, a := range b.inst.Args {
		m, ok := a.(x86asm.Mem)
		if !ok {
			continue
		}
		if !b.raw.mem() {
			return decodeError(b.cpu.RIP, b.code, b.inst, nil, errors.New("memory operand without ModRM"))
		}
		if isVector(m.Index) {
			return b.vsib(m, i)
		}
		size, approx := operandSize(b.inst, b.raw)
		b.operand(b.ea(b.disp(m), 0), size, operandKind(b.inst.Op, i), approx)
		return nil
	}
	return nil
}

// disp is the displacement of m: x86asm's, which applies EVEX's
// compressed disp8*N, where the ModRM has one.
func (b *accessBuilder) disp(m x86asm.Mem) int64 {
	if b.raw.enc == encEVEX && b.raw.dispLen == 1 {
		return m.Disp
	}
	return b.raw.disp
}

// ea computes the effective address of the ModRM operand with
// displacement disp, with rspDelta added to RSP where it is the base
// (POP computes its operand's address after incrementing RSP).
func (b *accessBuilder) ea(disp int64, rspDelta uint64) uint64 {
	r := b.raw
	var a uint64
	switch {
	case r.ripRel:
		a = b.next
	case r.base >= 0:
		a = b.cpu.GPR[r.base]
		if r.base == gprRSP {
			a += rspDelta
		}
	}
	if r.index >= 0 {
		a += b.cpu.GPR[r.index] * r.scale
	}
	return b.trunc(a + uint64(disp))
}

// trunc applies the address size: 32 bits with a 0x67 prefix.
func (b *accessBuilder) trunc(a uint64) uint64 {
	if b.raw.addr32 {
		return a & 0xFFFF_FFFF
	}
	return a
}

// operand adds an access at effective address ea in the data segment,
// which FS and GS overrides move to their bases; other segments have base
// 0 in 64-bit mode.
func (b *accessBuilder) operand(ea, size uint64, k Kind, approx bool) {
	var base uint64
	switch b.raw.seg {
	case 0x64:
		base = b.cpu.FSBase
	case 0x65:
		base = b.cpu.GSBase
	}
	b.flat(base+ea, ea, size, k, approx)
	if b.raw.seg != 0 && b.raw.segNulled {
		// A later ES/CS/SS/DS prefix is ignored in 64-bit mode, but
		// whether it cancels the FS/GS override is not architectural.
		b.flat(ea, ea, size, k, true)
	}
}

// flat adds [addr, addr+size), where ea is the effective address before
// the segment base: with 32-bit addressing, an operand that runs past
// 4 GiB may also wrap to 0, so that part is added too.
func (b *accessBuilder) flat(addr, ea, size uint64, k Kind, approx bool) {
	b.add(addr, size, k, approx)
	if b.raw.addr32 && ea+size > 1<<32 {
		b.add(addr-ea, ea+size-1<<32, k, true)
	}
}

// stack adds an access at RSP+off: the stack segment cannot be overridden
// and stack addresses are always 64-bit.
func (b *accessBuilder) stack(off int64, size uint64, k Kind) {
	b.add(b.cpu.GPR[gprRSP]+uint64(off), size, k, false)
}

// GPR numbers.
const (
	gprRAX = iota
	gprRCX
	gprRDX
	gprRBX
	gprRSP
	gprRBP
	gprRSI
	gprRDI
)

func isVector(r x86asm.Reg) bool { return r >= x86asm.X0 && r <= x86asm.Z31 }
