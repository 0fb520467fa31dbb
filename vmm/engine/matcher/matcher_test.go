package matcher

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/crewvm/crewvm/replaylog"
)

const (
	testMatchRIP  = 0x40_1000
	testMatchBase = 0x60_0000
)

// ripTarget is the absolute address of inst's memory operand, fetched at
// pc, taken as RIP-relative.
func ripTarget(t *testing.T, inst x86asm.Inst, pc uint64) uint64 {
	t.Helper()
	for _, a := range inst.Args {
		if m, ok := a.(x86asm.Mem); ok {
			return pc + uint64(inst.Len) + uint64(int32(m.Disp)) // x86asm zero-extends disp32
		}
	}
	t.Fatalf("%v has no memory operand", inst)
	return 0
}

// mtAt returns n bytes of m's trampoline at addr, code or data.
func mtAt(t *testing.T, m *Matcher, addr uint64, n int) []byte {
	t.Helper()
	for _, part := range []struct {
		at uint64
		b  []byte
	}{{m.Entry, m.Code}, {m.DataAddr, m.Data}} {
		if addr >= part.at && addr-part.at+uint64(n) <= uint64(len(part.b)) {
			return part.b[addr-part.at:][:n]
		}
	}
	t.Fatalf("%#x+%d is outside the trampoline", addr, n)
	return nil
}

func d32(op []byte, disp int32, tail ...byte) []byte {
	return append(binary.LittleEndian.AppendUint32(op, uint32(disp)), tail...)
}

// TestMatchable: windows of one instruction of at least 5 bytes, which
// must be relocated byte for byte but for RIP-relative displacements.
func TestMatchable(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
		err  string // "" if accepted
		rel  bool   // has a RIP-relative operand
	}{
		{"mov rax, [rip+d]", d32([]byte{0x48, 0x8b, 0x05}, 0x1000), "", true},
		{"mov rax, [rip+d], trailing bytes", d32([]byte{0x48, 0x8b, 0x05}, 0x1000, 0x90, 0xcc), "", true},
		{"lea rcx, [rip-d]", d32([]byte{0x48, 0x8d, 0x0d}, -16), "", true},
		{"mov dword [rip+0x10], 0x10", d32([]byte{0xc7, 0x05}, 0x10, 0x10, 0, 0, 0), "", true},
		{"cmp byte [rip+d], 7", d32([]byte{0x80, 0x3d}, 0x100, 7), "", true},
		{"mov rax, [eip+d]", d32([]byte{0x67, 0x48, 0x8b, 0x05}, -0x1000), "", true},
		{"cs: mov rax, [rip+d]", d32([]byte{0x2e, 0x48, 0x8b, 0x05}, 0x1000), "", true},
		{"pop qword [rip+d]", d32([]byte{0x8f, 0x05}, 0x1000), "", true},
		{"movdqa xmm0, [rip+d]", d32([]byte{0x66, 0x0f, 0x6f, 0x05}, 0x2000), "", true},
		{"vmovdqu xmm0, [rip+d] (VEX2)", d32([]byte{0xc5, 0xfa, 0x6f, 0x05}, 0x2000), "", true},
		{"vbroadcastss xmm0, [rip+d] (VEX3)", d32([]byte{0xc4, 0xe2, 0x79, 0x18, 0x05}, -0x2000), "", true},
		{"vaddpd ymm8, ymm3, [rip+d] (VEX2 payload 0x65)", d32([]byte{0xc5, 0x65, 0x58, 0x05}, 0x2000), "", true},
		{"vmovdqu zmm0, [rip+d] (EVEX)", d32([]byte{0x62, 0xf1, 0xfe, 0x48, 0x6f, 0x05}, 0x2000), "", true},
		{"jmp [rip+d]", d32([]byte{0xff, 0x25}, 0x100), "", true},
		{"vmovdqu xmm0, [abs] (VEX2, SIB)", d32([]byte{0xc5, 0xfa, 0x6f, 0x04, 0x25}, 0x2000), "", false},
		{"mov qword [rax+8], 1", []byte{0x48, 0xc7, 0x40, 0x08, 0x01, 0x00, 0x00, 0x00}, "", false},
		{"lock xadd [rdi], rax", []byte{0xf0, 0x48, 0x0f, 0xc1, 0x07}, "", false},
		{"mov rax, [moffs64]", []byte{0x48, 0xa1, 1, 2, 3, 4, 5, 6, 7, 8}, "", false},
		{"mov rax, imm64", []byte{0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8}, "", false},
		{"jmp [abs]", d32([]byte{0xff, 0x24, 0x25}, 0x1000), "", false},

		{"add qword [rax], 1, then nothing", []byte{0x48, 0x83, 0x00, 0x01}, "decode", false},
		{"add qword [rax], 1; nop", []byte{0x48, 0x83, 0x00, 0x01, 0x90}, "top displacement byte", false},
		{"rep stosq; nop; nop", []byte{0xf3, 0x48, 0xab, 0x90, 0x90}, "top displacement byte", false},
		{"call rel32", d32([]byte{0xe8}, 0x100), "transfers control", false},
		{"xbegin rel32", d32([]byte{0xc7, 0xf8}, 0x100), "transfers control", false},
		{"call [rip+d]", d32([]byte{0xff, 0x15}, 0x100), "transfers control", false},
		{"jmp far [rax]", []byte{0xff, 0x28, 0x90, 0x90, 0x90, 0x90}, "transfers control", false},
		{"syscall", []byte{0x0f, 0x05, 0x90, 0x90, 0x90}, "transfers control", false},
		{"int3", []byte{0xcc, 0x90, 0x90, 0x90, 0x90}, "transfers control", false},
		{"mov rax, fs:[0x28]", d32([]byte{0x64, 0x48, 0x8b, 0x04, 0x25}, 0x28), "FS/GS", false},
		{"mov rax, gs:[0x28]", d32([]byte{0x65, 0x48, 0x8b, 0x04, 0x25}, 0x28), "FS/GS", false},
		{"mov fs:[rip+d], rax", d32([]byte{0x64, 0x48, 0x89, 0x05}, 0x100), "FS/GS", false},
		{"truncated", []byte{0x48, 0x8b, 0x05, 0x00}, "decode", false},
		{"invalid", []byte{0xff, 0xff, 0, 0, 0, 0}, "decode", false},
		{"empty", nil, "decode", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Patchable(tc.code, testMatchRIP)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Patchable: %v, want an error containing %q", err, tc.err)
				}
				if _, err := Build(tc.code, &replaylog.Regs{RIP: testMatchRIP}, testMatchBase); err == nil {
					t.Fatal("Build accepts it")
				}
				return
			}
			if err != nil {
				t.Fatalf("Patchable: %v", err)
			}
			m, err := Build(tc.code, &replaylog.Regs{RIP: testMatchRIP}, testMatchBase)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			orig, _ := x86asm.Decode(tc.code, 64)
			if len(m.Patch) != orig.Len || len(m.Offs) != 1 {
				t.Errorf("patch is %d bytes over %d instructions, the instruction %d", len(m.Patch), len(m.Offs), orig.Len)
			}
			relocBytes := mtAt(t, m, m.ResumeRIP, orig.Len)
			reloc, err := x86asm.Decode(relocBytes, 64)
			if err != nil || reloc.Op != orig.Op || reloc.Len != orig.Len || reloc.Prefix != orig.Prefix {
				t.Fatalf("relocated % x = %v (%v), want %v", relocBytes, reloc, err, orig)
			}
			for i := range orig.Args {
				if _, ok := orig.Args[i].(x86asm.Mem); ok && tc.rel {
					continue
				}
				if reloc.Args[i] != orig.Args[i] {
					t.Errorf("relocated argument %d: %v, want %v", i, reloc.Args[i], orig.Args[i])
				}
			}
			if !tc.rel {
				if !bytes.Equal(relocBytes, tc.code[:orig.Len]) {
					t.Errorf("relocated % x, want the original % x", relocBytes, tc.code[:orig.Len])
				}
				return
			}
			if got, want := ripTarget(t, reloc, m.ResumeRIP), ripTarget(t, orig, testMatchRIP); got != want {
				t.Errorf("relocated %v addresses %#x, the original %v %#x", reloc, got, orig, want)
			}
			// Without PCRelOff, the displacement must be found by search.
			orig.PCRel, orig.PCRelOff = 0, 0
			if b, err := relocate(orig, tc.code, testMatchRIP, m.ResumeRIP); err != nil || !bytes.Equal(b, relocBytes) {
				t.Errorf("relocate without PCRelOff: % x, %v; want % x", b, err, relocBytes)
			}
		})
	}
}

func TestMatcherErrors(t *testing.T) {
	store := []byte{0x48, 0xc7, 0x40, 0x08, 0x01, 0x00, 0x00, 0x00} // mov qword [rax+8], 1
	load := []byte{0x48, 0x8b, 0x05, 0x00, 0x00, 0xff, 0x7f}        // mov rax, [rip+0x7fff0000]
	jcc := []byte{0x48, 0xff, 0xcb, 0x75, 0x80}                     // dec rbx; jnz -0x80
	for _, tc := range []struct {
		name      string
		code      []byte
		rip, base uint64
		err       string // "" if accepted
	}{
		{"region beyond 2 GiB", store, testMatchRIP, 0x1_0000_0000, "beyond the reach"},
		{"region below by more than 2 GiB", store, 0x9000_0000, 0x1000, "beyond the reach"},
		{"region just within 2 GiB", store, 0x7000_0000, 0x7000_0000 + 0x7fff_0000 - mtCode, ""},
		{"unaligned region", store, testMatchRIP, testMatchBase + 0x10, "page-aligned"},
		{"operand out of reach of the region", load, 0x7000_0000, 0x1000, "cannot address"},
		{"operand within reach of the region", load, 0x7000_0000, 0xe000_0000, ""},
		{"branch target out of reach of the region", jcc, 0x1000, 0x8000_0000 - mtCode, "beyond the reach"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(tc.code, &replaylog.Regs{RIP: tc.rip}, tc.base)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Build: %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

// trampolineWalk decodes a trampoline instruction by instruction and
// checks it against the documented sequence.
type trampolineWalk struct {
	t    *testing.T
	m    *Matcher
	ins  []decodedInst
	next int
	// spans are the data each instruction touches, checked for overlap
	// with the code.
	spans []span
}

type decodedInst struct {
	pc   uint64
	inst x86asm.Inst
}

type span struct {
	addr uint64
	n    int
}

var (
	ripMem = x86asm.Mem{Base: x86asm.RIP}
	relArg = x86asm.Rel(0)
)

func newTrampolineWalk(t *testing.T, m *Matcher) *trampolineWalk {
	t.Helper()
	w := &trampolineWalk{t: t, m: m, spans: []span{{m.Entry, len(m.Code)}}}
	for pc := m.Entry; pc < m.Entry+uint64(len(m.Code)); {
		inst, err := x86asm.Decode(m.Code[pc-m.Entry:], 64)
		if err != nil {
			t.Fatalf("%#x: %v", pc, err)
		}
		w.ins = append(w.ins, decodedInst{pc, inst})
		pc += uint64(inst.Len)
	}
	return w
}

// step checks the next instruction's op and arguments; ripMem and relArg
// stand for any RIP-relative operand and branch target, whose absolute
// address it returns with the instruction's.
func (w *trampolineWalk) step(op x86asm.Op, args ...x86asm.Arg) (pc, target uint64) {
	t := w.t
	t.Helper()
	if w.next == len(w.ins) {
		t.Fatalf("trampoline ends before %v", op)
	}
	d := w.ins[w.next]
	w.next++
	if d.inst.Op != op || d.inst.Args[len(args)] != nil {
		t.Fatalf("%#x: %v, want %v with %d arguments", d.pc, d.inst, op, len(args))
	}
	for i, a := range args {
		switch got := d.inst.Args[i].(type) {
		case x86asm.Mem:
			if a == ripMem {
				if got.Base != x86asm.RIP || got.Index != 0 {
					t.Fatalf("%#x: %v, argument %d should be %v", d.pc, d.inst, i, a)
				}
				target = d.pc + uint64(d.inst.Len) + uint64(int32(got.Disp))
			} else if got != a {
				t.Fatalf("%#x: %v, argument %d should be %v", d.pc, d.inst, i, a)
			}
		case x86asm.Rel:
			if a != relArg {
				t.Fatalf("%#x: %v, argument %d should be %v", d.pc, d.inst, i, a)
			}
			target = d.pc + uint64(d.inst.Len) + uint64(int64(got))
		default:
			if got != a {
				t.Fatalf("%#x: %v, argument %d should be %v", d.pc, d.inst, i, a)
			}
		}
	}
	return d.pc, target
}

// stepOp checks the next instruction's op only and returns its address.
func (w *trampolineWalk) stepOp(op x86asm.Op) uint64 {
	w.t.Helper()
	if w.next == len(w.ins) {
		w.t.Fatalf("trampoline ends before %v", op)
	}
	d := w.ins[w.next]
	w.next++
	if d.inst.Op != op {
		w.t.Fatalf("%#x: %v, want %v", d.pc, d.inst, op)
	}
	return d.pc
}

// data records that addr+n is data and returns it.
func (w *trampolineWalk) data(addr uint64, n int) []byte {
	w.spans = append(w.spans, span{addr, n})
	return mtAt(w.t, w.m, addr, n)
}

func (w *trampolineWalk) u64(addr uint64) uint64 { return binary.LittleEndian.Uint64(w.data(addr, 8)) }

// checkOverlap fails if data and code overlap.
func (w *trampolineWalk) checkOverlap() {
	sort.Slice(w.spans, func(i, j int) bool { return w.spans[i].addr < w.spans[j].addr })
	for i := 1; i < len(w.spans); i++ {
		if p := w.spans[i-1]; p.addr+uint64(p.n) > w.spans[i].addr && p.addr != w.spans[i].addr {
			w.t.Errorf("%#x+%d overlaps %#x+%d", p.addr, p.n, w.spans[i].addr, w.spans[i].n)
		}
	}
	if w.m.Entry-(w.m.DataAddr+mtDataLen) < 0x800 {
		w.t.Errorf("code at %#x is within 2 KiB of the data it stores to at %#x", w.m.Entry, w.m.DataAddr)
	}
}

var gprs = []x86asm.Reg{x86asm.RAX, x86asm.RCX, x86asm.RDX, x86asm.RBX, x86asm.RSP, x86asm.RBP, x86asm.RSI, x86asm.RDI,
	x86asm.R8, x86asm.R9, x86asm.R10, x86asm.R11, x86asm.R12, x86asm.R13, x86asm.R14, x86asm.R15}

// gprChecks walks the flag-free GPR compares, in order, skipping skip; it
// returns the miss target and where RCX is restored from (0 for an
// immediate) and RAX saved.
func (w *trampolineWalk) gprChecks(want *replaylog.Regs, order []int, skip func(int) bool) (miss, saveRCX, saveRAX uint64) {
	t := w.t
	t.Helper()
	var compared []int
	wantRCX := want.GPR[GPRRCX]
	rcxKnown := w.ins[w.next].inst.Op == x86asm.LEA
	// restoreRCX checks RCX restored, from want's as an immediate or from
	// where it was saved.
	restoreRCX := func() {
		t.Helper()
		if rcxKnown {
			w.step(x86asm.MOV, x86asm.RCX, x86asm.Imm(int64(wantRCX)))
		} else if _, a := w.step(x86asm.MOV, x86asm.RCX, ripMem); a != saveRCX {
			t.Errorf("RCX restored from %#x, saved at %#x", a, saveRCX)
		}
	}
	// jrcxzOverMiss checks "jrcxz" over an inline copy of the window,
	// after restore, and returns the address after it.
	jrcxzOverMiss := func(restore func()) {
		t.Helper()
		_, eq := w.step(x86asm.JRCXZ, relArg)
		restore()
		w.windowCopy()
		if pc := w.ins[w.next].pc; pc != eq {
			t.Errorf("jrcxz over the inline miss goes to %#x, want %#x", eq, pc)
		}
	}
	if rcxKnown {
		// RCX compared first by a reversible lea, restored from want's.
		// (x86asm zero-extends the disp32.)
		w.step(x86asm.LEA, x86asm.RCX, x86asm.Mem{Base: x86asm.RCX, Disp: int64(uint32(-wantRCX))})
		jrcxzOverMiss(func() {
			w.step(x86asm.LEA, x86asm.RCX, x86asm.Mem{Base: x86asm.RCX, Disp: int64(uint32(wantRCX))})
		})
		compared = append(compared, GPRRCX)
	} else {
		_, saveRCX = w.step(x86asm.MOV, ripMem, x86asm.RCX)
		w.data(saveRCX, 8)
	}
	first := !rcxKnown
	for _, r := range order {
		if skip(r) || r == GPRRCX && rcxKnown {
			continue
		}
		compared = append(compared, r)
		if r == GPRRCX {
			_, saveRAX = w.step(x86asm.MOV, ripMem, x86asm.RAX)
			if _, a := w.step(x86asm.MOV, x86asm.RAX, ripMem); a != saveRCX {
				t.Errorf("RCX compared with %#x, saved at %#x", a, saveRCX)
			}
			w.step(x86asm.MOV, x86asm.RCX, x86asm.Imm(int64(-wantRCX)))
			w.step(x86asm.LEA, x86asm.RCX, x86asm.Mem{Base: x86asm.RAX, Index: x86asm.RCX, Scale: 1})
			if _, a := w.step(x86asm.MOV, x86asm.RAX, ripMem); a != saveRAX {
				t.Errorf("RAX restored from %#x, saved at %#x", a, saveRAX)
			}
		} else {
			w.step(x86asm.MOV, x86asm.RCX, x86asm.Imm(int64(-want.GPR[r])))
			w.step(x86asm.LEA, x86asm.RCX, x86asm.Mem{Base: gprs[r], Index: x86asm.RCX, Scale: 1})
		}
		if first {
			jrcxzOverMiss(restoreRCX)
			first = false
			continue
		}
		pc, eq := w.step(x86asm.JRCXZ, relArg)
		_, to := w.step(x86asm.JMP, relArg)
		if eq != pc+7 {
			t.Errorf("jrcxz after the compare of %v goes to %#x, want past the jmp", gprs[r], eq)
		}
		if miss == 0 {
			miss = to
		} else if to != miss {
			t.Errorf("the compare of %v misses to %#x, the others to %#x", gprs[r], to, miss)
		}
	}
	if a, b := len(compared), 16-countSkipped(skip); a != b {
		t.Errorf("%d registers compared, want %d", a, b)
	}
	restoreRCX()
	return miss, saveRCX, saveRAX
}

// windowCopy checks a relocated copy of the window, the same
// instructions as the common one at ResumeRIP, and the jmp back after it:
// branches within the window go to the same instruction of this copy,
// the others to the same address.
func (w *trampolineWalk) windowCopy() {
	t, m := w.t, w.m
	t.Helper()
	var common []decodedInst
	for _, d := range w.ins {
		if d.pc >= m.ResumeRIP && d.pc <= m.End {
			common = append(common, d)
		}
	}
	if len(common) == 0 {
		t.Fatal("no relocated window at ResumeRIP")
	}
	start := w.ins[w.next].pc
	for _, d := range common {
		got := w.ins[w.next]
		w.next++
		if got.inst.Op != d.inst.Op || got.inst.Len != d.inst.Len || got.pc-start != d.pc-m.ResumeRIP {
			t.Fatalf("%#x: %v, the relocated window has %v", got.pc, got.inst, d.inst)
		}
		rel, ok := got.inst.Args[0].(x86asm.Rel)
		if !ok {
			continue
		}
		target := got.pc + uint64(got.inst.Len) + uint64(int64(rel))
		want := d.pc + uint64(d.inst.Len) + uint64(int64(d.inst.Args[0].(x86asm.Rel)))
		if want >= m.ResumeRIP && want <= m.End {
			want = want - m.ResumeRIP + start
		}
		if target != want {
			t.Errorf("%#x: %v goes to %#x, want %#x", got.pc, got.inst, target, want)
		}
	}
}

func countSkipped(skip func(int) bool) int {
	n := 0
	for r := range 16 {
		if skip(r) {
			n++
		}
	}
	return n
}

// TestMatcherTrampoline decodes a whole trampoline and checks it
// instruction by instruction against the documented sequence.
func TestMatcherTrampoline(t *testing.T) {
	for _, dst := range []x86asm.Reg{x86asm.RAX, x86asm.RCX} {
		for _, rcx := range []int64{0x0202_0202_0202_0202, 0x1000, 1<<31 - 1, -(1<<31 - 1), 1 << 31, -1 << 31} {
			t.Run(fmt.Sprintf("mov %v/rcx=%#x", dst, rcx), func(t *testing.T) { testTrampoline(t, dst, uint64(rcx)) })
		}
	}
}

// testTrampoline checks the matcher of "mov dst, [rip+0x1000]" with
// want's RCX rcx: compared first, restored from an immediate, where the
// window writes RCX and its value fits.
func testTrampoline(t *testing.T, dst x86asm.Reg, rcx uint64) {
	r := int(dst - x86asm.RAX)
	code := []byte{0x48, 0x8b, 0x05 | byte(r)<<3, 0x00, 0x10, 0x00, 0x00, 0x90} // mov dst, [rip+0x1000]; nop
	want := &replaylog.Regs{RIP: testMatchRIP + 0x234, RFLAGS: 0x2 | 1<<0 | 1<<6 | 1<<11}
	for i := range want.GPR {
		want.GPR[i] = 0x0101_0101_0101_0101*uint64(i+1) ^ 0x8000_0000_0000_0000
	}
	want.GPR[GPRRCX] = rcx
	m, err := Build(code, want, testMatchBase)
	if err != nil {
		t.Fatal(err)
	}
	checkPatch(t, m, want.RIP, 7, []int{0})
	if !bytes.Equal(m.Patch[5:], []byte{0xcc, 0xcc}) {
		t.Errorf("patch % x: not padded with int3", m.Patch)
	}
	w := newTrampolineWalk(t, m)
	if m.Entry != testMatchBase+mtCode {
		t.Errorf("entry %#x, want %#x when nothing is pinned", m.Entry, testMatchBase+mtCode)
	}
	order := []int{r} // the window writes it
	for i := range 16 {
		if i != r {
			order = append(order, i)
		}
	}
	first := w.ins[0].inst.Op
	miss, saveRCX, saveRAX := w.gprChecks(want, order, func(int) bool { return false })
	small := int64(rcx) > -1<<31 && int64(rcx) < 1<<31
	if (small && dst == x86asm.RCX) != (first == x86asm.LEA) {
		t.Errorf("RCX %#x: starts with %v", rcx, first)
	}
	if _, a := w.step(x86asm.MOV, ripMem, x86asm.RAX); saveRAX == 0 {
		saveRAX = a
	} else if a != saveRAX {
		t.Errorf("RAX saved at %#x, before at %#x", a, saveRAX)
	}
	w.data(saveRAX, 8)
	w.step(x86asm.LAHF)
	w.step(x86asm.SETO, x86asm.AL)
	_, saveAX := w.step(x86asm.MOV, ripMem, x86asm.AX)
	w.data(saveAX, 2)
	_, wantAX := w.step(x86asm.CMP, x86asm.AX, ripMem)
	if got, want := binary.LittleEndian.Uint16(w.data(wantAX, 2)), sdmLAHFSETO(want.RFLAGS); got != want {
		t.Errorf("want_ax %#04x, want %#04x", got, want)
	}
	_, restore2 := w.step(x86asm.JNE, relArg)
	restore := func() {
		t.Helper()
		if _, a := w.step(x86asm.MOV, x86asm.AX, ripMem); a != saveAX {
			t.Errorf("ax restored from %#x, saved at %#x", a, saveAX)
		}
		w.step(x86asm.ADD, x86asm.AL, x86asm.Imm(0x7f))
		w.step(x86asm.SAHF)
		if _, a := w.step(x86asm.MOV, x86asm.RAX, ripMem); a != saveRAX {
			t.Errorf("rax restored from %#x, saved at %#x", a, saveRAX)
		}
	}
	restore()
	if hit, _ := w.step(x86asm.INT, x86asm.Imm(3)); hit != m.HitRIP || restore2 != hit+1 {
		t.Errorf("int3 at %#x, flags miss at %#x; HitRIP %#x", hit, restore2, m.HitRIP)
	}
	restore()
	if saveRCX == 0 {
		if pc, _ := w.step(x86asm.MOV, x86asm.RCX, x86asm.Imm(int64(rcx))); pc != miss {
			t.Errorf("miss at %#x, want %#x", pc, miss)
		}
	} else if pc, a := w.step(x86asm.MOV, x86asm.RCX, ripMem); pc != miss || a != saveRCX {
		t.Errorf("miss at %#x restores RCX from %#x; want %#x, %#x", pc, a, miss, saveRCX)
	}
	if pc, a := w.step(x86asm.MOV, dst, ripMem); pc != m.ResumeRIP || a != want.RIP+7+0x1000 {
		t.Errorf("relocated instruction at %#x addresses %#x; ResumeRIP %#x, want address %#x",
			pc, a, m.ResumeRIP, want.RIP+7+0x1000)
	}
	w.step(x86asm.NOP) // the tail, to the end of code
	if pc, to := w.step(x86asm.JMP, relArg); to != want.RIP+8 || pc != m.End {
		t.Errorf("jmp back at %#x to %#x, want %#x at End %#x", pc, to, want.RIP+8, m.End)
	}
	if w.next != len(w.ins) || m.Rep != nil {
		t.Errorf("%d more instructions after the jmp back; Rep %v", len(w.ins)-w.next, m.Rep)
	}
	w.checkOverlap()
}

// sdmLAHFSETO is what "lahf; seto al" leave in AX, after the SDM: AH =
// SF:ZF:0:AF:0:PF:1:CF, AL = 1 if OF else 0.
func sdmLAHFSETO(rflags uint64) uint16 {
	bit := func(n uint) uint16 { return uint16(rflags>>n) & 1 }
	ah := bit(7)<<7 | bit(6)<<6 | bit(4)<<4 | bit(2)<<2 | 1<<1 | bit(0)
	return ah<<8 | bit(11)
}

// TestMatcherFlagImage checks want_ax for every combination of the flags
// the trampoline compares, and that its restore sequence gives them back.
func TestMatcherFlagImage(t *testing.T) {
	flags := []uint{0, 2, 4, 6, 7, 11} // CF PF AF ZF SF OF
	for combo := range 1 << len(flags) {
		rflags := uint64(0x2 | 1<<9 | 1<<10 | 1<<21) // reserved 1, IF, DF, ID: not compared
		for i, f := range flags {
			rflags |= uint64(combo>>i&1) << f
		}
		img := lahfImage(rflags)
		if want := sdmLAHFSETO(rflags); img != want {
			t.Errorf("rflags %#x: want_ax %#04x, lahf; seto al gives %#04x", rflags, img, want)
		}
		// add al, 0x7f sets OF iff the signed sum overflows; sahf loads
		// SF ZF AF PF CF from AH (and bit 1 stays 1).
		ah, al := img>>8, int8(img)
		sum := int(al) + 0x7f
		restored := uint64(ah&0xd5) | 0x2
		if sum > 127 || sum < -128 {
			restored |= 1 << 11
		}
		if arith := rflags & (0xd5 | 1<<11 | 0x2); restored != arith {
			t.Errorf("rflags %#x: restored arithmetic flags %#x, want %#x", rflags, restored, arith)
		}
	}
}

// TestMatcherLEA: the flag-free compare encodes "lea rcx, [r + rcx]" for
// every register, rbp and r13 included (they need a disp8 as a base).
func TestMatcherLEA(t *testing.T) {
	for r := range 16 {
		if r == GPRRCX {
			continue
		}
		b := leaSum(r)
		inst, err := x86asm.Decode(b, 64)
		want := x86asm.Mem{Base: gprs[r], Index: x86asm.RCX, Scale: 1}
		if err != nil || inst.Op != x86asm.LEA || inst.Len != len(b) || inst.Args[0] != x86asm.RCX || inst.Args[1] != want {
			t.Errorf("leaSum(%v) = % x = %v (%v)", gprs[r], b, inst, err)
		}
	}
}
