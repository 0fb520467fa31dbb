package vmm

import (
	"bytes"
	"encoding/binary"
	"sort"
	"strings"
	"testing"

	"github.com/crewvm/crewvm/replaylog"
	"golang.org/x/arch/x86/x86asm"
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

func TestMatchable(t *testing.T) {
	d32 := func(op []byte, disp int32, tail ...byte) []byte {
		return append(binary.LittleEndian.AppendUint32(op, uint32(disp)), tail...)
	}
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
		{"vmovdqu xmm0, [abs] (VEX2, SIB)", d32([]byte{0xc5, 0xfa, 0x6f, 0x04, 0x25}, 0x2000), "", false},
		{"mov qword [rax+8], 1", []byte{0x48, 0xc7, 0x40, 0x08, 0x01, 0x00, 0x00, 0x00}, "", false},
		{"lock xadd [rdi], rax", []byte{0xf0, 0x48, 0x0f, 0xc1, 0x07}, "", false},
		{"mov rax, [moffs64]", []byte{0x48, 0xa1, 1, 2, 3, 4, 5, 6, 7, 8}, "", false},
		{"mov rax, imm64", []byte{0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8}, "", false},

		{"add qword [rax], 1", []byte{0x48, 0x83, 0x00, 0x01}, "too short", false},
		{"rep stosq", []byte{0xf3, 0x48, 0xab, 0x90, 0x90}, "too short", false},
		{"call rel32", d32([]byte{0xe8}, 0x100), "transfers control", false},
		{"jne rel32", d32([]byte{0x0f, 0x85}, -0x100), "transfers control", false},
		{"xbegin rel32", d32([]byte{0xc7, 0xf8}, 0x100), "transfers control", false},
		{"call [rip+d]", d32([]byte{0xff, 0x15}, 0x100), "transfers control", false},
		{"jmp [abs]", d32([]byte{0xff, 0x24, 0x25}, 0x1000), "transfers control", false},
		{"mov rax, fs:[0x28]", d32([]byte{0x64, 0x48, 0x8b, 0x04, 0x25}, 0x28), "FS/GS", false},
		{"mov rax, gs:[0x28]", d32([]byte{0x65, 0x48, 0x8b, 0x04, 0x25}, 0x28), "FS/GS", false},
		{"mov fs:[rip+d], rax", d32([]byte{0x64, 0x48, 0x89, 0x05}, 0x100), "FS/GS", false},
		{"truncated", []byte{0x48, 0x8b, 0x05, 0x00}, "decode", false},
		{"invalid", []byte{0xff, 0xff, 0, 0, 0, 0}, "decode", false},
		{"empty", nil, "decode", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := matchable(tc.code, testMatchRIP)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("matchable: %v, want an error containing %q", err, tc.err)
				}
				if _, err := buildMatcher(tc.code, &replaylog.Regs{RIP: testMatchRIP}, testMatchBase); err == nil {
					t.Fatal("buildMatcher accepts it")
				}
				return
			}
			if err != nil {
				t.Fatalf("matchable: %v", err)
			}
			m, err := buildMatcher(tc.code, &replaylog.Regs{RIP: testMatchRIP}, testMatchBase)
			if err != nil {
				t.Fatalf("buildMatcher: %v", err)
			}
			orig, _ := x86asm.Decode(tc.code, 64)
			if len(m.Patch) != orig.Len {
				t.Errorf("patch is %d bytes, the instruction %d", len(m.Patch), orig.Len)
			}
			relocBytes := m.Page[m.ResumeRIP-testMatchBase:][:orig.Len]
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
	for _, tc := range []struct {
		name      string
		code      []byte
		rip, base uint64
		err       string // "" if accepted
	}{
		{"page beyond 2 GiB", store, testMatchRIP, 0x1_0000_0000, "beyond the reach"},
		{"page below by more than 2 GiB", store, 0x9000_0000, 0x1000, "beyond the reach"},
		{"page just within 2 GiB", store, 0x7000_0000, 0x7000_0000 + 0x7fff_0000, ""},
		{"unaligned page", store, testMatchRIP, testMatchBase + 0x10, "page-aligned"},
		{"operand out of reach of the page", load, 0x7000_0000, 0x1000, "cannot address"},
		{"operand within reach of the page", load, 0x7000_0000, 0xe000_0000, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildMatcher(tc.code, &replaylog.Regs{RIP: tc.rip}, tc.base)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("buildMatcher: %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

// TestMatcherTrampoline decodes the whole trampoline and checks it
// instruction by instruction against the documented sequence.
func TestMatcherTrampoline(t *testing.T) {
	code := []byte{0x48, 0x8b, 0x05, 0x00, 0x10, 0x00, 0x00, 0x90} // mov rax, [rip+0x1000]; nop
	want := &replaylog.Regs{RIP: testMatchRIP + 0x234, RFLAGS: 0x2 | 1<<0 | 1<<6 | 1<<11}
	for i := range want.GPR {
		want.GPR[i] = 0x0101_0101_0101_0101*uint64(i+1) ^ 0x8000_0000_0000_0000
	}
	const base = testMatchBase
	m, err := buildMatcher(code, want, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Page) != 4096 {
		t.Fatalf("page is %d bytes", len(m.Page))
	}
	at := func(addr uint64, n int) []byte {
		t.Helper()
		if addr < base || addr-base+uint64(n) > uint64(len(m.Page)) {
			t.Fatalf("%#x+%d is outside the page at %#x", addr, n, uint64(base))
		}
		return m.Page[addr-base:][:n]
	}

	patch, err := x86asm.Decode(m.Patch, 64)
	if err != nil || patch.Op != x86asm.JMP || patch.Len != 5 || len(m.Patch) != 7 ||
		!bytes.Equal(m.Patch[5:], []byte{0xcc, 0xcc}) {
		t.Fatalf("patch % x = %v (%v), want jmp rel32 padded to 7 bytes with int3", m.Patch, patch, err)
	}
	entry := want.RIP + 5 + uint64(patch.Args[0].(x86asm.Rel))

	type decoded struct {
		pc   uint64
		inst x86asm.Inst
	}
	var ins []decoded
	for pc := entry; len(ins) == 0 || ins[len(ins)-1].inst.Op != x86asm.JMP; {
		inst, err := x86asm.Decode(m.Page[pc-base:], 64)
		if err != nil {
			t.Fatalf("%#x: %v", pc, err)
		}
		ins = append(ins, decoded{pc, inst})
		pc += uint64(inst.Len)
	}
	codeEnd := ins[len(ins)-1].pc + 5

	// step checks the next instruction's op and arguments; ripMem and
	// rel stand for any RIP-relative operand and branch target, whose
	// absolute address it returns with the instruction's.
	ripMem, rel := x86asm.Mem{Base: x86asm.RIP}, x86asm.Rel(0)
	next := 0
	step := func(op x86asm.Op, args ...x86asm.Arg) (pc, target uint64) {
		t.Helper()
		if next == len(ins) {
			t.Fatalf("trampoline ends before %v", op)
		}
		d := ins[next]
		next++
		if d.inst.Op != op || d.inst.Args[len(args)] != nil {
			t.Fatalf("%#x: %v, want %v with %d arguments", d.pc, d.inst, op, len(args))
		}
		for i, a := range args {
			switch got := d.inst.Args[i].(type) {
			case x86asm.Mem:
				if a != ripMem || got.Base != x86asm.RIP || got.Index != 0 {
					t.Fatalf("%#x: %v, argument %d should be %v", d.pc, d.inst, i, a)
				}
				target = d.pc + uint64(d.inst.Len) + uint64(int32(got.Disp))
			case x86asm.Rel:
				if a != rel {
					t.Fatalf("%#x: %v, argument %d should be %v", d.pc, d.inst, i, a)
				}
				target = d.pc + uint64(d.inst.Len) + uint64(got)
			default:
				if got != a {
					t.Fatalf("%#x: %v, argument %d should be %v", d.pc, d.inst, i, a)
				}
			}
		}
		return d.pc, target
	}
	type span struct {
		addr uint64
		n    int
	}
	spans := []span{{entry, int(codeEnd - entry)}}
	slot := func(addr uint64, n int) []byte {
		spans = append(spans, span{addr, n})
		return at(addr, n)
	}

	_, saveRAX := step(x86asm.MOV, ripMem, x86asm.RAX)
	slot(saveRAX, 8)
	step(x86asm.LAHF)
	step(x86asm.SETO, x86asm.AL)
	_, saveAX := step(x86asm.MOV, ripMem, x86asm.AX)
	slot(saveAX, 2)
	_, wantAX := step(x86asm.CMP, x86asm.AX, ripMem)
	if got, want := binary.LittleEndian.Uint16(slot(wantAX, 2)), sdmLAHFSETO(want.RFLAGS); got != want {
		t.Errorf("want_ax %#04x, want %#04x", got, want)
	}
	_, miss := step(x86asm.JNE, rel)
	if _, a := step(x86asm.MOV, x86asm.RAX, ripMem); a != saveRAX {
		t.Errorf("rax reloaded from %#x, saved at %#x", a, saveRAX)
	}
	gprs := []x86asm.Reg{x86asm.RAX, x86asm.RCX, x86asm.RDX, x86asm.RBX, x86asm.RSP, x86asm.RBP, x86asm.RSI, x86asm.RDI,
		x86asm.R8, x86asm.R9, x86asm.R10, x86asm.R11, x86asm.R12, x86asm.R13, x86asm.R14, x86asm.R15}
	for i, r := range gprs {
		_, a := step(x86asm.CMP, r, ripMem)
		if got := binary.LittleEndian.Uint64(slot(a, 8)); got != want.GPR[i] {
			t.Errorf("%v compared with %#x, want GPR[%d] = %#x", r, got, i, want.GPR[i])
		}
		if _, to := step(x86asm.JNE, rel); to != miss {
			t.Errorf("jne after cmp %v goes to %#x, the others to %#x", r, to, miss)
		}
	}
	restore := func() {
		t.Helper()
		if _, a := step(x86asm.MOV, x86asm.AX, ripMem); a != saveAX {
			t.Errorf("ax restored from %#x, saved at %#x", a, saveAX)
		}
		step(x86asm.ADD, x86asm.AL, x86asm.Imm(0x7f))
		step(x86asm.SAHF)
		if _, a := step(x86asm.MOV, x86asm.RAX, ripMem); a != saveRAX {
			t.Errorf("rax restored from %#x, saved at %#x", a, saveRAX)
		}
	}
	restore()
	if hit, _ := step(x86asm.INT, x86asm.Imm(3)); hit != m.HitRIP || at(hit, 1)[0] != 0xcc || miss != hit+1 {
		t.Errorf("int3 at %#x, miss at %#x; HitRIP %#x", hit, miss, m.HitRIP)
	}
	restore()
	if pc, a := step(x86asm.MOV, x86asm.RAX, ripMem); pc != m.ResumeRIP || a != want.RIP+7+0x1000 {
		t.Errorf("relocated instruction at %#x addresses %#x; ResumeRIP %#x, want address %#x",
			pc, a, m.ResumeRIP, want.RIP+7+0x1000)
	}
	if _, to := step(x86asm.JMP, rel); to != want.RIP+7 {
		t.Errorf("jmp back to %#x, want %#x", to, want.RIP+7)
	}

	// Data and code must not overlap.
	sort.Slice(spans, func(i, j int) bool { return spans[i].addr < spans[j].addr })
	for i := 1; i < len(spans); i++ {
		if p := spans[i-1]; p.addr+uint64(p.n) > spans[i].addr {
			t.Errorf("%#x+%d overlaps %#x+%d", p.addr, p.n, spans[i].addr, spans[i].n)
		}
	}
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
