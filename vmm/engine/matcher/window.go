package matcher

// Patch windows. The jmp rel32 to a trampoline takes 5 bytes, more than
// many instructions have, so the patch covers a window of whole
// instructions starting at the recorded RIP, at least 5 bytes long, all
// of them relocated into the trampoline. The bytes of the window past the
// jmp are int3, so that a branch from elsewhere into the middle of the
// window traps instead of executing half an instruction; a branch to an
// instruction boundary inside the jmp's displacement lands on a
// displacement byte, which the trampoline's placement makes 0xcc too (see
// chooseEntry). The displacement's top byte sets the ±2 GiB reach and is
// not free, so a window with a boundary 4 bytes past RIP is refused.

import (
	"errors"
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

const (
	// jmpLen is the length of the patch proper, jmp rel32.
	jmpLen = 5
	// WindowFetch is how many code bytes suffice to decode any window:
	// its last instruction starts at most 3 bytes past RIP.
	WindowFetch = 32
	// pinnedBytes are the displacement bytes that the trampoline's
	// placement can make 0xcc: the low three.
	pinnedBytes = 3
)

// A window is the run of whole instructions at rip that a patch covers,
// and the tail after it that its relocated copies run on with (extend).
type window struct {
	rip   uint64
	code  []byte // the window's bytes
	n     int    // the window's instructions: insts[:n]; the tail's follow
	insts []x86asm.Inst
	offs  []int  // offs[i] is where insts[i] starts, from rip
	src   []byte // the bytes of insts, from rip
}

// Bounds of a window's tail: its instructions, and the bytes of a
// relocated copy of the window and the tail, which a jrcxz must be able
// to skip (the trampoline's inline misses).
const (
	maxTail      = 16
	maxCopyBytes = 100
	// TailFetch is how many code bytes at the position are enough for a
	// window and its longest tail.
	TailFetch = 128
)

// Patchable reports whether the instructions at the start of code,
// fetched at rip, can be patched with a jmp to a matcher, and why not.
// code should hold WindowFetch bytes where RAM has them; the record
// engine's Settle uses it (through Seekable) to stop kicked vCPUs where
// replay can seek them at native speed.
func Patchable(code []byte, rip uint64) error {
	_, err := decodeWindow(code, rip)
	return err
}

// decodeWindow decodes the shortest run of whole instructions at the
// start of code, fetched at rip, that is long enough for a jmp rel32, and
// checks that every one can be relocated into a trampoline and that
// branches into the window can be caught.
func decodeWindow(code []byte, rip uint64) (*window, error) {
	w := &window{rip: rip}
	n := 0
	for n < jmpLen {
		inst, err := decodeRelocatable(code[n:])
		if err != nil {
			return nil, fmt.Errorf("patch at %#x: instruction at +%d: %w", rip, n, err)
		}
		if n == jmpLen-1 {
			return nil, fmt.Errorf("patch at %#x: %v starts at +%d, inside the jmp's top displacement byte", rip, inst, n)
		}
		w.insts = append(w.insts, inst)
		w.offs = append(w.offs, n)
		n += inst.Len
	}
	w.code, w.src, w.n = code[:n], code[:n], len(w.insts)
	for i, inst := range w.insts {
		t, ok := w.branchTarget(i)
		if !ok || t <= rip || t >= rip+uint64(n) {
			continue
		}
		if _, ok := w.boundary(t); !ok {
			return nil, fmt.Errorf("patch at %#x: %v branches into the middle of an instruction of the window", rip, inst)
		}
	}
	return w, nil
}

// extend appends to w the instructions after it in code (the bytes at
// w.rip), up to the first that transfers control, as long as each can be
// relocated too, does not exit to the VMM and does not branch into the
// middle of the window. A miss then runs on in the trampoline to the
// branch, typically a loop's, instead of jumping back in between: one
// taken branch less per pass. The originals of the tail stay as they
// are; only the window is patched.
func (w *window) extend(code []byte) {
	off := len(w.code)
	size := 5 // the jmp back
	for i := range w.insts {
		size += w.relocatedLen(i)
	}
	if endsFlow(w.insts[len(w.insts)-1]) {
		return
	}
	for range maxTail {
		if off >= len(code) {
			return
		}
		inst, err := decodeRelocatable(code[off:])
		if err != nil || exitsToVMM(inst) {
			return
		}
		w.insts, w.offs, w.src = append(w.insts, inst), append(w.offs, off), code[:off+inst.Len]
		i := len(w.insts) - 1
		t, ok := w.branchTarget(i)
		_, boundary := w.boundary(t)
		if size+w.relocatedLen(i) > maxCopyBytes || ok && t > w.rip && t < w.rip+uint64(len(w.code)) && !boundary {
			w.insts, w.offs, w.src = w.insts[:i], w.offs[:i], code[:off]
			return
		}
		size += w.relocatedLen(i)
		off += inst.Len
		if endsFlow(inst) {
			return
		}
	}
}

// endsFlow reports an instruction after which a tail need not go on: a
// branch, a ret or an indirect jmp.
func endsFlow(inst x86asm.Inst) bool {
	switch inst.Op {
	case x86asm.RET, x86asm.JMP:
		return true
	}
	return isRel(inst.Args[0])
}

func isRel(a x86asm.Arg) bool { _, ok := a.(x86asm.Rel); return ok }

// exitsToVMM reports instructions that exit to the VMM (or trap) at
// CPL 3, which a tail leaves where they are so that the exit has the
// guest's RIP.
func exitsToVMM(inst x86asm.Inst) bool {
	switch inst.Op {
	case x86asm.IN, x86asm.OUT, x86asm.INSB, x86asm.INSW, x86asm.INSD, x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD,
		x86asm.HLT, x86asm.CPUID, x86asm.RDTSC, x86asm.RDTSCP, x86asm.RDPMC, x86asm.RDRAND,
		x86asm.XSAVE, x86asm.XSAVE64, x86asm.XSAVEOPT, x86asm.XSAVEOPT64, x86asm.XRSTOR, x86asm.XRSTOR64,
		x86asm.PAUSE:
		return true
	}
	return false
}

// branchTarget is where insts[i] branches, if it is a relative branch.
func (w *window) branchTarget(i int) (uint64, bool) {
	inst := w.insts[i]
	rel, ok := inst.Args[0].(x86asm.Rel)
	if !ok {
		return 0, false
	}
	return w.rip + uint64(w.offs[i]+inst.Len) + uint64(int64(rel)), true
}

// boundary returns the index of the instruction of the window at addr,
// if one starts there.
func (w *window) boundary(addr uint64) (int, bool) {
	for i, off := range w.offs[:w.n] {
		if w.rip+uint64(off) == addr {
			return i, true
		}
	}
	return 0, false
}

// pinned says which of the jmp's low displacement bytes a branch can land
// on, which must therefore be 0xcc: byte b-1 for a boundary at rip+b.
func (w *window) pinned() [pinnedBytes]bool {
	var p [pinnedBytes]bool
	for _, off := range w.offs[1:w.n] {
		if off < jmpLen-1 {
			p[off-1] = true
		}
	}
	return p
}

// chooseEntry returns the lowest address in [lo, lo+2^24) where a
// trampoline may start so that the jmp rel32 at rip reaching it has 0xcc
// in the pinned displacement bytes. Any 2^24 consecutive addresses hold
// one for every combination, the reason the trampoline region is that
// large.
func chooseEntry(rip uint64, pinned [pinnedBytes]bool, lo uint64) uint64 {
	var mask uint64
	top := -1
	for i, p := range pinned {
		if p {
			mask |= 0xff << (8 * i)
			top = i
		}
	}
	if top < 0 {
		return lo
	}
	period := uint64(1) << (8 * (top + 1))
	from := lo - (rip + jmpLen) // the displacement that reaches lo
	d := from&^mask | 0xcccccc&mask
	if int64(d-from) < 0 {
		d += period
	}
	return rip + jmpLen + d
}

// decodeRelocatable decodes the instruction at the start of code and
// checks that a copy of it elsewhere behaves the same: it depends on its
// address only through a RIP-relative memory operand or a relative branch
// (both re-encoded), and it neither pushes its address nor traps.
func decodeRelocatable(code []byte) (x86asm.Inst, error) {
	inst, err := x86asm.Decode(code, 64)
	if err == nil && inst.Op == 0 {
		err = errors.New("unknown instruction")
	}
	if err != nil {
		return inst, fmt.Errorf("decode % x: %w", code[:min(len(code), 15)], err)
	}
	switch inst.Op {
	case x86asm.LJMP, x86asm.CALL, x86asm.LCALL, x86asm.LRET,
		x86asm.IRET, x86asm.IRETD, x86asm.IRETQ, x86asm.INT, x86asm.INTO, x86asm.ICEBP,
		x86asm.SYSCALL, x86asm.SYSENTER, x86asm.SYSEXIT, x86asm.SYSRET, x86asm.RSM,
		x86asm.JCXZ, x86asm.XBEGIN, x86asm.XABORT, x86asm.XEND, x86asm.UD0, x86asm.UD1, x86asm.UD2:
		return inst, fmt.Errorf("%v transfers control", inst)
	}
	ripMem, rel := false, false
	for _, a := range inst.Args {
		switch a := a.(type) {
		case x86asm.Rel:
			rel = true
		case x86asm.Mem:
			ripMem = ripMem || isRIPRel(inst, a)
		}
	}
	if rel {
		k, ok := branchKind(inst)
		if !ok {
			return inst, fmt.Errorf("%v: relative branch of an unknown kind", inst)
		}
		// An operand-size prefix truncates the target on some CPUs; an
		// address-size prefix only selects ECX for loop and jecxz.
		for _, p := range inst.Prefix {
			if p&0xff == x86asm.PrefixDataSize || p&0xff == x86asm.PrefixAddrSize && k != branchRCX {
				return inst, fmt.Errorf("%v has a size prefix", inst)
			}
		}
	}
	// FS/GS-relative operands are refused, as they were before windows:
	// the guest does not use them, and the fewer forms relocated code
	// takes, the less there is to get wrong.
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
	if inst.PCRel != 0 && !ripMem && !rel {
		return inst, fmt.Errorf("%v reads RIP", inst)
	}
	return inst, nil
}
