package vmm

// In-guest conditional breakpoints. Replay must stop a vCPU at the first
// point where its registers equal recorded ones, typically some iteration
// of a loop. An int3 on every pass costs a VM exit per iteration, so
// instead the instruction at the recorded RIP is replaced by a jmp to a
// trampoline that compares the registers in the guest itself, at native
// speed, and traps only when they all match.
//
// The trampoline runs at CPL 3 with the guest's own registers and stack,
// so it must be invisible: it never pushes (guest memory is hashed), keeps
// its scratch state in its own page through RIP-relative addressing, and
// preserves RFLAGS exactly: lahf/seto capture SF ZF AF PF CF and OF, and
// "add al, 0x7f; sahf" puts them back (no other flag is modified). lahf
// and sahf need CPUID LAHF-LM, which every x86-64 KVM host has.
//
// Trampoline page layout, as offsets from base:
//
//	0x000  want GPR[0..15], 8 bytes each, in replaylog.Regs.GPR order,
//	       which is register-number order (rax rcx rdx rbx rsp rbp rsi rdi
//	       r8..r15), the order toLogRegs fills it in
//	0x080  want AX: the value "lahf; seto al" leaves in AX for want.RFLAGS
//	0x088  saved guest RAX
//	0x090  saved guest AX after "lahf; seto al"
//	0x800  entry: save RAX and the flags, compare the flags, then each
//	       GPR, "jne miss" after each compare
//	       restore the flags and RAX
//	hit:   int3
//	miss:  restore the flags and RAX
//	resume: the original instruction, relocated
//	       jmp want.RIP + its length
//
// The code starts 2 KiB past the data it stores to so that those stores
// are not taken for self-modifying code. The page is read, written and
// executed by the guest, so each vCPU with a matcher needs its own page
// (and its own private copy of the patched code page).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/crewvm/crewvm/replaylog"
	"golang.org/x/arch/x86/x86asm"
)

const (
	matcherPageSize = 4096
	mtWantGPR       = 0x000
	mtWantAX        = 0x080
	mtSaveRAX       = 0x088
	mtSaveAX        = 0x090
	mtEntry         = 0x800
)

// A matcher is a conditional breakpoint on want.RIP, ready to install: the
// VMM writes Patch over the instruction at want.RIP (in the vCPU's private
// copy of the code page) and maps Page at base, user-accessible, writable
// and executable.
//
// On a full match the guest executes the int3 at HitRIP with all its GPRs
// and RFLAGS equal to its true ones; only RIP differs. The int3 is a trap,
// so an exit that reports the guest's RIP as delivered (a CPL-3 guest
// without an IDT shuts down, see trap.go) has RIP = HitRIP+1, whereas
// KVM_GUESTDBG_USE_SW_BP reports the int3 itself, RIP = HitRIP. The VMM
// compares the registers itself (the trampoline ignores RIP and the
// non-arithmetic flags); on a false hit it sets RIP = ResumeRIP and lets
// the guest go on: that runs the relocated instruction and jumps back.
// Resuming at HitRIP+1 unchanged works too, as long as RAX and RFLAGS are
// left alone. Any other stop inside the trampoline (an interrupt exit) is
// not a guest position: RIP, RAX and the flags are the trampoline's there.
type matcher struct {
	Patch     []byte // written at want.RIP; as long as the original instruction
	Page      []byte // the trampoline page, placed at guest address base
	HitRIP    uint64 // address of the int3 executed on a full match
	ResumeRIP uint64 // address of the relocated original instruction
}

// matchable reports whether the instruction at the start of code, fetched
// at rip, can be replaced by the jmp to a matcher's trampoline, and why not.
func matchable(code []byte, rip uint64) error {
	if _, err := decodeMatchable(code); err != nil {
		return fmt.Errorf("matcher at %#x: %w", rip, err)
	}
	return nil
}

// decodeMatchable decodes the instruction at the start of code and checks
// that it can be relocated: it is long enough for a jmp rel32 and does not
// depend on its address except through a RIP-relative memory operand.
func decodeMatchable(code []byte) (x86asm.Inst, error) {
	inst, err := x86asm.Decode(code, 64)
	if err == nil && inst.Op == 0 {
		err = errors.New("unknown instruction")
	}
	if err != nil {
		return inst, fmt.Errorf("decode % x: %w", code[:min(len(code), 15)], err)
	}
	if inst.Len < 5 {
		return inst, fmt.Errorf("%v is %d bytes, too short for a jmp rel32", inst, inst.Len)
	}
	switch inst.Op {
	case x86asm.JMP, x86asm.LJMP, x86asm.CALL, x86asm.LCALL, x86asm.RET, x86asm.LRET,
		x86asm.IRET, x86asm.IRETD, x86asm.IRETQ, x86asm.INT, x86asm.INTO, x86asm.ICEBP,
		x86asm.SYSCALL, x86asm.SYSENTER, x86asm.SYSEXIT, x86asm.SYSRET, x86asm.RSM,
		x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE, x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ,
		x86asm.XBEGIN, x86asm.XABORT, x86asm.XEND, x86asm.UD0, x86asm.UD1, x86asm.UD2:
		return inst, fmt.Errorf("%v transfers control", inst)
	}
	ripMem := false
	for _, a := range inst.Args {
		switch a := a.(type) {
		case x86asm.Rel:
			return inst, fmt.Errorf("%v transfers control", inst)
		case x86asm.Mem:
			ripMem = ripMem || isRIPRel(inst, a)
		}
	}
	// FS/GS-relative addresses are out of reach of decodeAccesses, so the
	// VMM could not service a fault of the relocated copy.
	for _, p := range inst.Prefix {
		if isVEX(p) {
			break // the rest is VEX payload
		}
		if p&0xff == x86asm.PrefixFS || p&0xff == x86asm.PrefixGS {
			return inst, fmt.Errorf("%v has a FS/GS segment override", inst)
		}
	}
	// In 64-bit mode only branches and RIP-relative operands read RIP;
	// this catches any form the checks above miss.
	if inst.PCRel != 0 && !ripMem {
		return inst, fmt.Errorf("%v reads RIP", inst)
	}
	return inst, nil
}

// buildMatcher generates the conditional breakpoint that traps when the
// registers at want.RIP equal want, for the instruction at the start of
// code, with its trampoline page at base (page-aligned, within ±2 GiB of
// want.RIP).
func buildMatcher(code []byte, want *replaylog.Regs, base uint64) (*matcher, error) {
	rip := want.RIP
	inst, err := decodeMatchable(code)
	if err == nil && base%matcherPageSize != 0 {
		err = fmt.Errorf("trampoline page %#x is not page-aligned", base)
	}
	if err != nil {
		return nil, fmt.Errorf("matcher at %#x: %w", rip, err)
	}
	page := make([]byte, matcherPageSize)
	for i, v := range want.GPR {
		binary.LittleEndian.PutUint64(page[mtWantGPR+8*i:], v)
	}
	binary.LittleEndian.PutUint16(page[mtWantAX:], lahfImage(want.RFLAGS))

	data := func(off uint64) uint64 { return base + off }
	start := base + mtEntry
	a := &asm{pc: start}
	a.ripRel(data(mtSaveRAX), 0x48, 0x89, 0x05) // mov [save_rax], rax
	a.emit(0x9f, 0x0f, 0x90, 0xc0)              // lahf; seto al
	a.ripRel(data(mtSaveAX), 0x66, 0x89, 0x05)  // mov [save_ax], ax
	a.ripRel(data(mtWantAX), 0x66, 0x3b, 0x05)  // cmp ax, [want_ax]
	var toMiss []int                            // offsets of the jne displacements, fixed up below
	jne := func() { toMiss = append(toMiss, a.ripRel(a.pc+6, 0x0f, 0x85)) }
	jne()
	a.ripRel(data(mtSaveRAX), 0x48, 0x8b, 0x05) // mov rax, [save_rax]
	for r := range uint64(16) {
		// cmp r64, [want_r]: REX.W, REX.R for r8-r15, ModRM reg=r, rm=RIP+disp32.
		// want.GPR[r] is register number r: see toLogRegs.
		a.ripRel(data(mtWantGPR+8*r), 0x48|byte(r>>3)<<2, 0x3b, byte(r&7)<<3|5)
		jne()
	}
	restore := func() {
		a.ripRel(data(mtSaveAX), 0x66, 0x8b, 0x05)  // mov ax, [save_ax]
		a.emit(0x04, 0x7f, 0x9e)                    // add al, 0x7f (OF = saved OF); sahf
		a.ripRel(data(mtSaveRAX), 0x48, 0x8b, 0x05) // mov rax, [save_rax]
	}
	restore()
	hit := a.pc
	a.emit(0xcc) // int3
	miss := a.pc
	for _, off := range toMiss {
		binary.LittleEndian.PutUint32(a.b[off:], uint32(miss-(start+uint64(off)+4)))
	}
	restore()
	resume := a.pc
	reloc, err := relocate(inst, code, rip, resume)
	if err != nil {
		return nil, fmt.Errorf("matcher at %#x: %w", rip, err)
	}
	a.emit(reloc...)
	a.ripRel(rip+uint64(inst.Len), 0xe9) // jmp back
	copy(page[mtEntry:], a.b)

	p := &asm{pc: rip}
	p.ripRel(start, 0xe9)
	for len(p.b) < inst.Len {
		p.emit(0xcc) // never executed
	}
	if err := errors.Join(a.err, p.err); err != nil {
		return nil, fmt.Errorf("matcher at %#x with its page at %#x: %w", rip, base, err)
	}
	return &matcher{Patch: p.b, Page: page, HitRIP: hit, ResumeRIP: resume}, nil
}

// lahfImage returns the value "lahf; seto al" leaves in AX when RFLAGS is
// rflags: AH = SF ZF 0 AF 0 PF 1 CF, AL = OF.
func lahfImage(rflags uint64) uint16 {
	return uint16(rflags&0xd5|0x02)<<8 | uint16(rflags>>11&1)
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
