// Package matcher generates the in-guest conditional breakpoints that
// replay stops a vCPU with at a recorded state position. It is its own
// package because it is pure code generation over instruction bytes and
// registers, with no KVM in it: the record engine (settle asks Seekable
// where a kicked vCPU may stop) and the replay engine (seek installs a
// Matcher) share it, and it is tested without /dev/kvm.
package matcher

// In-guest conditional breakpoints. Replay must stop a vCPU at the first
// point where its registers equal recorded ones, typically some iteration
// of a loop. An int3 on every pass costs a VM exit per iteration, so
// instead the instructions at the recorded RIP are replaced by a jmp to a
// trampoline that compares the registers in the guest itself, at native
// speed, and traps only when they all match (window.go: which
// instructions the jmp covers; rep.go: positions inside a REP string
// instruction).
//
// The trampoline runs at CPL 3 with the guest's own registers and stack,
// so it must be invisible: it never pushes (guest memory is hashed, and
// below RSP may be live), keeps its scratch state in a data page of its
// own through RIP-relative addressing, and preserves RFLAGS exactly. The
// common case, a pass at the wrong iteration, must be cheap, since it
// runs at every pass of a loop until the recorded one: each GPR is
// compared without touching the flags, as "mov rcx, -want; lea rcx,
// [r + rcx]" and a "jrcxz" past the miss, so a miss costs a few
// instructions and no taken branch but the patch's jmp and the way back
// (see trampoline). Only when every GPR matches are the flags compared:
// lahf and seto capture SF ZF AF PF CF and OF, and "add al, 0x7f; sahf"
// puts them back (no other flag is modified). lahf and sahf need CPUID
// LAHF-LM, which every x86-64 KVM host has.
//
// Trampoline region (one per vCPU, mapped above RAM in that vCPU's VM
// only), as offsets from its base:
//
//	0x0000  data: want GPR[0..15] in replaylog.Regs.GPR order, which is
//	        register-number order (rax rcx rdx rbx rsp rbp rsi rdi
//	        r8..r15, the order crewview.LogRegs fills it in); want AX, the value
//	        "lahf; seto al" leaves in AX for want.RFLAGS; the saved guest
//	        RAX, AX and RCX
//	0x1000  code, at an entry chosen in [0x1000, 0x1000+2^24) so that the
//	        patch's displacement bytes are 0xcc where a branch can land:
//	entry:  where the window writes RCX, compare it, and on a difference
//	        restore it and run a relocated copy of the window, inline;
//	        else save RCX
//	        compare the first other GPR the same way (the window's first)
//	        compare each other GPR, "jmp miss" on a difference
//	        restore RCX; save RAX and the flags; compare the flags (and
//	        for a REP string instruction check RCX, RSI and RDI instead
//	        of comparing them), "jmp restore" on a difference
//	        restore the flags and RAX
//	hit:    int3
//	restore: restore the flags and RAX
//	miss:   restore RCX
//	resume: the window's instructions, relocated
//	        jmp want.RIP + the window's length
//	stub:   (REP string instructions) the instruction; int3
//
// The code starts a page past the data it stores to so that those stores
// are not taken for self-modifying code. The region is read, written and
// executed by the guest, so each vCPU needs its own (and its own private
// copy of the patched code page).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"golang.org/x/arch/x86/x86asm"

	"github.com/crewvm/crewvm/replaylog"
)

const (
	mtWantGPR = 0x000
	mtWantAX  = 0x080
	mtSaveRAX = 0x088
	mtSaveAX  = 0x090
	mtSaveRCX = 0x098
	mtDataLen = 0x0a0
	mtCode    = 0x1000
	// RegionSize covers every entry chooseEntry may pick and the
	// longest trampoline after it.
	RegionSize  = mtCode + 1<<24 + 0x1000
	regionAlign = 0x1000
)

// A Matcher is a conditional breakpoint on want.RIP, ready to install: the
// VMM writes Patch over the window at want.RIP (in the vCPU's private
// copy of the code page) and puts Data at DataAddr and Code at Entry in
// the trampoline region, user-accessible, writable and executable.
//
// On a full match the guest executes the int3 at HitRIP with all its GPRs
// and RFLAGS equal to its true ones; only RIP differs. The int3 is a trap,
// so an exit that reports the guest's RIP as delivered (a CPL-3 guest
// without an IDT shuts down, see vmm/machine/trap.go) has RIP = HitRIP+1, whereas
// KVM_GUESTDBG_USE_SW_BP reports the int3 itself, RIP = HitRIP. The VMM
// compares the registers itself (the trampoline ignores RIP and the
// non-arithmetic flags); on a false hit it sets RIP = ResumeRIP and lets
// the guest go on: that runs the relocated window and jumps back.
// Resuming at HitRIP+1 unchanged works too, as long as RAX, RCX and
// RFLAGS are left alone. Any other stop inside the trampoline (an
// interrupt exit) is not a guest position: RIP, RAX, RCX and the flags
// are the trampoline's there.
//
// An int3 at want.RIP+b+1, b an interior offset of Offs, is a branch into
// the window: the guest goes on at Reloc[i], the relocated copy of the
// instruction at Offs[i] = b.
type Matcher struct {
	Patch     []byte // written at want.RIP; as long as the window
	Entry     uint64 // where Code goes, the jmp's target
	Code      []byte
	DataAddr  uint64 // where Data goes
	Data      []byte
	HitRIP    uint64 // address of the int3 executed on a full match
	ResumeRIP uint64 // address of the relocated window
	Offs      []int  // the window's instructions, as offsets from want.RIP
	Reloc     []uint64
	End       uint64 // the jmp back after the relocated window

	// Rep is set for a position inside a REP string instruction: the
	// matcher checks RCX, RSI and RDI for consistency instead of
	// equality, and Stub holds a copy of the instruction whose int3 is
	// at StubInt3.
	Rep      *RepOp
	Stub     uint64
	StubInt3 uint64
	// StubOnly: no window could be patched, so Patch is an int3 on the
	// REP instruction, and only Stub is in the region (BuildRepStub).
	StubOnly bool
	RepLen   int // the REP instruction's length
}

// After is where the guest goes on once the window's instruction i is
// done and falls through.
func (mt *Matcher) After(i int) uint64 {
	if i+1 < len(mt.Reloc) {
		return mt.Reloc[i+1]
	}
	return mt.End
}

// Relocated returns the relocated copy of the window's instruction at
// addr, if one starts there other than the first: where a vCPU that
// stands at addr goes on while the patch is in.
func (mt *Matcher) Relocated(want, addr uint64) (uint64, bool) {
	if mt == nil {
		return 0, false
	}
	for i, off := range mt.Offs[1:] {
		if addr == want+uint64(off) {
			return mt.Reloc[i+1], true
		}
	}
	return 0, false
}

// Redirect returns where a vCPU goes on that trapped on an int3 of the
// patch with RIP = rip, past the int3, if it branched into the window.
func (mt *Matcher) Redirect(want, rip uint64) (uint64, bool) {
	return mt.Relocated(want, rip-1)
}

// Build generates the conditional breakpoint that traps when the
// registers at want.RIP equal want, for the instructions at the start of
// code (TailFetch bytes where RAM has them), with its trampoline region
// at base (page-aligned, within ±2 GiB of want.RIP).
func Build(code []byte, want *replaylog.Regs, base uint64) (*Matcher, error) {
	return BuildFrom(code, want, nil, base)
}

// BuildFrom is Build for a vCPU whose registers are now
// from (nil if unknown): those that differ from want's are the likely
// ones to differ at each pass, and are compared first.
func BuildFrom(code []byte, want, from *replaylog.Regs, base uint64) (*Matcher, error) {
	rip := want.RIP
	w, err := decodeWindow(code, rip)
	if err == nil && base%regionAlign != 0 {
		err = fmt.Errorf("trampoline region %#x is not page-aligned", base)
	}
	if err != nil {
		return nil, fmt.Errorf("matcher at %#x: %w", rip, err)
	}
	w.extend(code)
	mt := &Matcher{DataAddr: base, Data: make([]byte, mtDataLen), Offs: w.offs[:w.n]}
	for i, v := range want.GPR {
		binary.LittleEndian.PutUint64(mt.Data[mtWantGPR+8*i:], v)
	}
	binary.LittleEndian.PutUint16(mt.Data[mtWantAX:], lahfImage(want.RFLAGS))
	if op, ok := repStringOp(w.insts[0]); ok && want.GPR[GPRRCX]&op.Mask() != 0 {
		mt.Rep, mt.RepLen = &op, w.insts[0].Len
	}
	mt.Entry = chooseEntry(rip, w.pinned(), base+mtCode)
	a, err := mt.trampoline(w, want, from, base)
	if err != nil {
		return nil, fmt.Errorf("matcher at %#x: %w", rip, err)
	}
	mt.Code = a.b

	p := &asm{pc: rip}
	p.ripRel(mt.Entry, 0xe9)
	for len(p.b) < len(w.code) {
		p.emit(0xcc) // traps a branch into the window
	}
	if err := errors.Join(a.err, p.err); err != nil {
		return nil, fmt.Errorf("matcher at %#x with its region at %#x: %w", rip, base, err)
	}
	for i, pin := range w.pinned() {
		if pin && p.b[1+i] != 0xcc {
			return nil, fmt.Errorf("matcher at %#x: displacement byte %d is %#x, not int3", rip, i, p.b[1+i])
		}
	}
	mt.Patch = p.b
	return mt, nil
}

// trampoline assembles mt's code at mt.Entry, the data at base.
//
// A pass at the wrong iteration must cost as little as possible: a few
// instructions and no taken branch beyond the patch's jmp and the way
// back. RCX is the scratch register, so it is compared first where want's
// value fits an immediate: "lea rcx, [rcx - want]" and back are
// reversible, and once equal RCX is restored from an immediate, with no
// store and reload on the way to the guest's addresses it may hold. Each
// compare is "jrcxz" past a miss: the first such miss is a relocated
// copy of the window inline, the later ones jump to the common copy.
func (mt *Matcher) trampoline(w *window, want, from *replaylog.Regs, base uint64) (*asm, error) {
	data := func(off uint64) uint64 { return base + off }
	a := &asm{pc: mt.Entry}
	var toMiss, toRestore []int // offsets of displacements, fixed up below
	var errs []error
	// jrcxzOver assembles "jrcxz" over the code that body assembles.
	jrcxzOver := func(body func(*asm)) {
		b := &asm{pc: a.pc + 2}
		body(b)
		if len(b.b) > 127 {
			errs = append(errs, fmt.Errorf("%d bytes are too many for a jrcxz to skip", len(b.b)))
		}
		a.emit(0xe3, byte(len(b.b)))
		a.emit(b.b...)
		errs = append(errs, b.err)
	}
	inlineMiss := func(restore func(*asm)) func(*asm) {
		return func(b *asm) {
			restore(b)
			if _, _, err := emitWindow(b, w); err != nil {
				errs = append(errs, err)
			}
		}
	}
	jmpMiss := func(b *asm) { toMiss = append(toMiss, len(a.b)+2+b.ripRel(b.pc+5, 0xe9)) }

	// RCX is compared first only where it is likely to differ, a loop
	// counter: elsewhere the first compare is of a register that is, with
	// RCX saved, lest a RCX equal at every pass cost a taken jrcxz.
	wantRCX := want.GPR[GPRRCX]
	order, likely := compareOrder(w, want, from)
	rcxKnown := mt.Rep == nil && fitsImm32(wantRCX) && fitsImm32(-wantRCX) && slices.Contains(order[:likely], GPRRCX)
	restoreRCX := func(b *asm) { b.ripRel(data(mtSaveRCX), 0x48, 0x8b, 0x0d) } // mov rcx, [save_rcx]
	if rcxKnown {
		restoreRCX = func(b *asm) { b.emit(movRCX(wantRCX)...) }
		a.emit(leaDisp(-wantRCX)...) // lea rcx, [rcx - want_rcx]
		jrcxzOver(inlineMiss(func(b *asm) {
			b.emit(leaDisp(wantRCX)...) // lea rcx, [rcx + want_rcx]: as it was
		}))
	} else {
		a.ripRel(data(mtSaveRCX), 0x48, 0x89, 0x0d) // mov [save_rcx], rcx
	}
	first := !rcxKnown
	for _, r := range order {
		if mt.Rep != nil && mt.Rep.varies(r) || r == GPRRCX && rcxKnown {
			continue
		}
		if r == GPRRCX {
			// rcx = -want_rcx + rcx, with the saved RCX in RAX.
			a.ripRel(data(mtSaveRAX), 0x48, 0x89, 0x05) // mov [save_rax], rax
			a.ripRel(data(mtSaveRCX), 0x48, 0x8b, 0x05) // mov rax, [save_rcx]
			a.emit(movRCX(-wantRCX)...)                 // mov rcx, -want_rcx
			a.emit(0x48, 0x8d, 0x0c, 0x08)              // lea rcx, [rax + rcx]
			a.ripRel(data(mtSaveRAX), 0x48, 0x8b, 0x05) // mov rax, [save_rax]
		} else {
			a.emit(movRCX(-want.GPR[r])...) // mov rcx, -want_r
			a.emit(leaSum(r)...)            // lea rcx, [r + rcx]
		}
		if first {
			jrcxzOver(inlineMiss(restoreRCX))
			first = false
		} else {
			jrcxzOver(jmpMiss)
		}
	}
	restoreRCX(a)

	jne := func(cc byte) { toRestore = append(toRestore, a.ripRel(a.pc+6, 0x0f, cc)) }
	a.ripRel(data(mtSaveRAX), 0x48, 0x89, 0x05) // mov [save_rax], rax
	a.emit(0x9f, 0x0f, 0x90, 0xc0)              // lahf; seto al
	a.ripRel(data(mtSaveAX), 0x66, 0x89, 0x05)  // mov [save_ax], ax
	if mt.Rep == nil || mt.Rep.cond == repAlways {
		a.ripRel(data(mtWantAX), 0x66, 0x3b, 0x05) // cmp ax, [want_ax]
		jne(0x85)
	}
	if mt.Rep != nil {
		repCheck(a, mt.Rep, want, data, jne)
	}
	restore := func() {
		a.ripRel(data(mtSaveAX), 0x66, 0x8b, 0x05)  // mov ax, [save_ax]
		a.emit(0x04, 0x7f, 0x9e)                    // add al, 0x7f (OF = saved OF); sahf
		a.ripRel(data(mtSaveRAX), 0x48, 0x8b, 0x05) // mov rax, [save_rax]
	}
	restore()
	mt.HitRIP = a.pc
	a.emit(0xcc) // int3
	fix(a, mt.Entry, toRestore, a.pc)
	restore()
	fix(a, mt.Entry, toMiss, a.pc)
	restoreRCX(a)

	mt.ResumeRIP = a.pc
	var err error
	if mt.Reloc, mt.End, err = emitWindow(a, w); err != nil {
		return nil, err
	}
	if mt.Rep != nil {
		mt.Stub = a.pc
		a.emit(w.code[:w.insts[0].Len]...) // no RIP-relative operand
		mt.StubInt3 = a.pc
		a.emit(0xcc)
	}
	return a, errors.Join(errs...)
}

// emitWindow assembles a relocated copy of the window w at a.pc and the
// jmp back after it. It returns where each instruction went, and the jmp.
func emitWindow(a *asm, w *window) ([]uint64, uint64, error) {
	at := make([]uint64, len(w.insts))
	pc := a.pc
	for i := range w.insts {
		at[i] = pc
		pc += uint64(w.relocatedLen(i))
	}
	for i := range w.insts {
		b, err := w.relocateAt(i, a.pc, at)
		if err != nil {
			return nil, 0, err
		}
		a.emit(b...)
	}
	end := a.pc
	a.ripRel(w.rip+uint64(len(w.src)), 0xe9) // jmp back
	return at, end, nil
}

// repCheck assembles the consistency check of a REP string position,
// with RAX and the flags saved: RCX >= want's, and RSI/RDI advanced by
// the difference, in elements, in want's direction, equal to want's.
func repCheck(a *asm, o *RepOp, want *replaylog.Regs, data func(uint64) uint64, jcc func(byte)) {
	// Without REX.W the same encodings work on EAX, ECX, ESI and EDI.
	w := []byte{0x48}
	if o.a32 {
		w = nil
	}
	op := func(b ...byte) []byte { return append(append([]byte(nil), w...), b...) }
	a.emit(op(0x89, 0xc8)...)                             // mov rax, rcx
	a.ripRel(data(mtWantGPR+8*GPRRCX), op(0x2b, 0x05)...) // sub rax, [want_rcx]
	jcc(0x82)                                             // jb: fewer left than want
	if s := byte(bits.TrailingZeros64(o.size)); s != 0 {
		a.emit(op(0xc1, 0xe0, s)...) // shl rax, log2(size)
	}
	if want.RFLAGS&RFLAGSDF != 0 {
		a.emit(op(0xf7, 0xd8)...) // neg rax
	}
	if o.si {
		a.emit(op(0x01, 0xf0)...)                             // add rax, rsi
		a.ripRel(data(mtWantGPR+8*gprRSI), op(0x3b, 0x05)...) // cmp rax, [want_rsi]
		jcc(0x85)
		a.emit(op(0x29, 0xf0)...) // sub rax, rsi
	}
	if o.di {
		a.emit(op(0x01, 0xf8)...)                             // add rax, rdi
		a.ripRel(data(mtWantGPR+8*gprRDI), op(0x3b, 0x05)...) // cmp rax, [want_rdi]
		jcc(0x85)
	}
}

// compareOrder lists the GPR numbers in the order the matcher compares
// them, and how many of the first are likely to differ from pass to
// pass, so that a miss is decided by the first compare: those that
// differ between from (the registers at the start of the seek) and want,
// the window's first (windowRegs) first; without from, the window's.
func compareOrder(w *window, want, from *replaylog.Regs) ([]int, int) {
	var order []int
	add := func(r int) {
		if !slices.Contains(order, r) {
			order = append(order, r)
		}
	}
	regs := windowRegs(w)
	if from != nil {
		for _, r := range regs {
			if from.GPR[r] != want.GPR[r] {
				add(r)
			}
		}
		for r := range 16 {
			if from.GPR[r] != want.GPR[r] {
				add(r)
			}
		}
	}
	if len(order) == 0 {
		for _, r := range regs {
			add(r)
		}
	}
	likely := len(order)
	for r := range 16 {
		add(r)
	}
	return order, likely
}

// windowRegs lists the registers that the window's instructions have as
// their first operand, which most of them write, without repeats.
func windowRegs(w *window) []int {
	var regs []int
	for _, inst := range w.insts[:w.n] {
		if r, ok := gprNumber(inst.Args[0]); ok && !slices.Contains(regs, r) {
			regs = append(regs, r)
		}
	}
	return regs
}

// gprNumber is the number of the 64-bit register that a is part of.
func gprNumber(a x86asm.Arg) (int, bool) {
	r, ok := a.(x86asm.Reg)
	switch {
	case !ok:
	case r >= x86asm.RAX && r <= x86asm.R15:
		return int(r - x86asm.RAX), true
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return int(r - x86asm.EAX), true
	case r >= x86asm.AX && r <= x86asm.R15W:
		return int(r - x86asm.AX), true
	case r >= x86asm.AL && r <= x86asm.BL:
		return int(r - x86asm.AL), true
	case r >= x86asm.AH && r <= x86asm.BH:
		return int(r - x86asm.AH), true
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return int(r-x86asm.SPB) + 4, true
	}
	return 0, false
}

// lahfImage returns the value "lahf; seto al" leaves in AX when RFLAGS is
// rflags: AH = SF ZF 0 AF 0 PF 1 CF, AL = OF.
func lahfImage(rflags uint64) uint16 {
	return uint16(rflags&0xd5|0x02)<<8 | uint16(rflags>>11&1)
}
