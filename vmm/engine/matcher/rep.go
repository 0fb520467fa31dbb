package matcher

// Seeking inside a REP string instruction. Its iterations share one RIP,
// so a state position on it (RCX = k iterations left) is reached by an
// arrival at that RIP with RCX = n >= k followed by n-k iterations. The
// matcher compares every register the iterations leave alone and checks
// that RSI and RDI, advanced by n-k elements in the direction of DF, give
// the recorded ones. On such a hit the VMM runs exactly n-k iterations of
// a copy of the instruction followed by an int3 (RCX set to n-k), then
// puts RIP back on the instruction and RCX = k remaining: RSI, RDI, the
// memory and for REPE/REPNE the flags are then those of the recording,
// since the same iterations ran. A REPE/REPNE instruction that stops
// early shows that the position is not in this arrival; the VMM puts the
// vCPU where the instruction would have left it and lets it go on.

import (
	"bytes"
	"fmt"

	"golang.org/x/arch/x86/x86asm"

	"github.com/crewvm/crewvm/replaylog"
)

// Where no window can be patched at a REP string instruction (its
// successor starts 4 bytes in, say), the stop is an int3 on it and the
// region holds just the copy and its int3 (BuildRepStub): each arrival
// costs two exits, whatever the iterations, the VMM doing the matcher's
// checks, and running the rest of an arrival that is not the position in
// the copy.

// Conditions of a REP string instruction.
const (
	repAlways = iota // rep movs/stos/lods: RCX alone ends it
	repE             // repe cmps/scas: ends when ZF = 0
	repNE            // repne cmps/scas: ends when ZF = 1
)

// Register numbers, in replaylog.Regs.GPR order.
const (
	gprRAX = 0
	GPRRCX = 1
	gprRSI = 6
	gprRDI = 7
)

// RFLAGSArith are the flags a compare sets: CF PF AF ZF SF OF.
const RFLAGSArith = 0x8d5

// RFLAGS bits: ZF, and DF, the direction of the string instructions.
const (
	rflagsZF = 1 << 6
	RFLAGSDF = 1 << 10
)

// RepOp is a REP string instruction as the seek inside it needs it.
type RepOp struct {
	size   uint64 // bytes per element
	si, di bool   // each iteration advances RSI, RDI
	loadsA bool   // lods: each iteration loads RAX
	cond   int    // repAlways, repE or repNE
	a32    bool   // address-size prefix: ECX, ESI and EDI
}

// repStringOp recognises a REP string instruction whose state positions
// can be sought by running iterations (not ins/outs: they trap at once).
func repStringOp(inst x86asm.Inst) (RepOp, bool) {
	rep := 0
	for _, p := range inst.Prefix {
		switch p & 0xff {
		case x86asm.PrefixREP:
			rep = repE
		case x86asm.PrefixREPN:
			rep = repNE
		}
	}
	if rep == 0 || !isString(inst) {
		return RepOp{}, false
	}
	o := RepOp{size: uint64(stringSize(inst.Op)), a32: inst.AddrSize == 32}
	switch inst.Op {
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ:
		o.si, o.di = true, true
	case x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ:
		o.di = true
	case x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ:
		o.si, o.loadsA = true, true
	case x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ:
		o.di, o.cond = true, rep
	case x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ:
		o.si, o.di, o.cond = true, true, rep
	default:
		return RepOp{}, false
	}
	return o, true
}

// BuildRepStub generates the stop for a position inside the REP string
// instruction at the start of code, fetched at want.RIP, where no window
// can be patched: an int3 on it, and in the region at base a copy of it
// followed by an int3.
func BuildRepStub(code []byte, want *replaylog.Regs, base uint64) (*Matcher, error) {
	inst, err := decodeRelocatable(code)
	if err != nil {
		return nil, fmt.Errorf("REP stub at %#x: %w", want.RIP, err)
	}
	op, ok := repStringOp(inst)
	if !ok || want.GPR[GPRRCX]&op.Mask() == 0 {
		return nil, fmt.Errorf("REP stub at %#x: %v is no REP string instruction with iterations left", want.RIP, inst)
	}
	if base%regionAlign != 0 {
		return nil, fmt.Errorf("REP stub at %#x: trampoline region %#x is not page-aligned", want.RIP, base)
	}
	entry := base + mtCode
	mt := &Matcher{Patch: []byte{0xcc}, HitRIP: want.RIP, Entry: entry, DataAddr: base, Offs: []int{0},
		Rep: &op, RepLen: inst.Len, StubOnly: true, Stub: entry, StubInt3: entry + uint64(inst.Len)}
	mt.Code = append(bytes.Clone(code[:inst.Len]), 0xcc) // no RIP-relative operand
	return mt, nil
}

// Seekable reports whether replay can find a state position at the
// instruction at the start of code, fetched at rip, without an exit per
// pass or per REP iteration: a window can be patched, or it is a REP
// string instruction (at most two exits per arrival, BuildRepStub).
func Seekable(code []byte, rip uint64) error {
	err := Patchable(code, rip)
	if err == nil {
		return nil
	}
	if inst, derr := decodeRelocatable(code); derr == nil {
		if _, ok := repStringOp(inst); ok {
			return nil
		}
	}
	return err
}

// Mask selects the bits of RCX, RSI and RDI the instruction uses.
func (o RepOp) Mask() uint64 {
	if o.a32 {
		return 0xffffffff
	}
	return ^uint64(0)
}

// Conditional reports a REPE/REPNE instruction (cmps, scas), which a
// compare that fails ends before RCX does.
func (o RepOp) Conditional() bool { return o.cond != repAlways }

// varies reports whether the iterations change GPR i, which the matcher
// therefore does not compare as it is.
func (o RepOp) varies(i int) bool {
	return i == GPRRCX || i == gprRSI && o.si || i == gprRDI && o.di || i == gprRAX && o.loadsA
}

// flagsMask selects the RFLAGS bits the iterations leave alone.
func (o RepOp) flagsMask() uint64 {
	m := ^uint64(replaylog.RFLAGSIgnored)
	if o.cond != repAlways {
		m &^= RFLAGSArith
	}
	return m
}

// Plan decides, for a vCPU arriving at the instruction with registers
// cur, whether the state want can come within this execution of it, and
// after how many iterations. Registers the iterations leave alone must be
// equal, RCX must count at least as many iterations as want has left,
// and RSI/RDI must advance onto want's in the direction of DF. Iterations
// with want's RCX 0 cannot be sought: the instruction ends at once then.
func (o RepOp) Plan(cur, want *[16]uint64, curFlags, wantFlags uint64) (uint64, bool) {
	for i := range cur {
		if !o.varies(i) && cur[i] != want[i] {
			return 0, false
		}
	}
	if fm := o.flagsMask(); curFlags&fm != wantFlags&fm {
		return 0, false
	}
	m := o.Mask()
	n, k := cur[GPRRCX]&m, want[GPRRCX]&m
	if k > n || k == 0 && n != 0 {
		return 0, false
	}
	j := n - k
	step := j * o.size
	if curFlags&RFLAGSDF != 0 {
		step = -step
	}
	if o.si && (cur[gprRSI]+step)&m != want[gprRSI]&m || o.di && (cur[gprRDI]+step)&m != want[gprRDI]&m {
		return 0, false
	}
	return j, true
}

// WithCount returns rcx with the count the instruction uses set to n.
func (o RepOp) WithCount(rcx, n uint64) uint64 {
	m := o.Mask()
	return rcx&^m | n&m
}

// Finish takes the registers after the planned iterations ran (RCX and
// RFLAGS as the copy left them, with RCX = the planned count beforehand)
// and k, the iterations the original had left. It returns the original's
// RCX and whether it is at the position, RIP still on the instruction; if
// not, an early REPE/REPNE termination ended the instruction, and the
// vCPU must go on after it with that RCX.
func (o RepOp) Finish(rcx, rflags, k uint64) (uint64, bool) {
	m := o.Mask()
	left := rcx & m
	orig := o.WithCount(rcx, left+k)
	stopped := o.cond == repE && rflags&rflagsZF == 0 || o.cond == repNE && rflags&rflagsZF != 0
	return orig, left == 0 && !stopped
}

// isString reports a string instruction. (x86asm names the SSE
// instructions that share the mnemonics MOVSD and CMPSD MOVSD_XMM and
// CMPSD_XMM.)
func isString(inst x86asm.Inst) bool {
	switch inst.Op {
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ, x86asm.STOSB, x86asm.STOSW, x86asm.STOSD,
		x86asm.STOSQ, x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ, x86asm.SCASB, x86asm.SCASW,
		x86asm.SCASD, x86asm.SCASQ, x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ,
		x86asm.INSB, x86asm.INSW, x86asm.INSD, x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
		return true
	}
	return false
}

func stringSize(op x86asm.Op) int {
	switch op {
	case x86asm.MOVSW, x86asm.STOSW, x86asm.LODSW, x86asm.SCASW, x86asm.CMPSW:
		return 2
	case x86asm.MOVSD, x86asm.STOSD, x86asm.LODSD, x86asm.SCASD, x86asm.CMPSD:
		return 4
	case x86asm.MOVSQ, x86asm.STOSQ, x86asm.LODSQ, x86asm.SCASQ, x86asm.CMPSQ:
		return 8
	}
	return 1
}
