package matcher

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/internal/probe"
)

// TestMatcherWindow: which runs of short instructions make a window,
// where their boundaries pin displacement bytes, and which cannot.
func TestMatcherWindow(t *testing.T) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	var (
		nop      = []byte{0x90}
		incRAX   = []byte{0x48, 0xff, 0xc0}
		decRBX   = []byte{0x48, 0xff, 0xcb}
		jnz      = func(d int8) []byte { return []byte{0x75, byte(d)} }
		out      = []byte{0xef}
		jmpSelf  = []byte{0xeb, 0xfe}
		store    = []byte{0x48, 0x89, 0x01} // mov [rcx], rax
		movEAX   = []byte{0xb8, 1, 0, 0, 0}
		ripLoad  = d32([]byte{0x48, 0x8b, 0x05}, 0x1000)
		addRDX   = []byte{0x48, 0x83, 0xc2, 0x01}
		falseRun = []byte{0x48, 0x8b, 0x01, 0x48, 0x83, 0xc2, 0x01, 0x48, 0x83, 0xc0, 0x01, 0x48, 0x89, 0x01,
			0x48, 0x39, 0xf2, 0x75, 0xed, 0xc3, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x90}
	)
	loop := cat(incRAX, decRBX, jnz(-8), out, jmpSelf)
	for _, tc := range []struct {
		name string
		code []byte
		offs []int  // the window's instructions
		pin  string // pinned displacement bytes, "012" for all
		err  string
	}{
		{"inc rax; dec rbx", loop, []int{0, 3}, "2", ""},
		{"dec rbx; jnz", loop[3:], []int{0, 3}, "2", ""},
		{"jnz; out; jmp", loop[6:], []int{0, 2, 3}, "12", ""},
		{"dec rbx; jnz back to it", cat(decRBX, jnz(-5), out, jmpSelf), []int{0, 3}, "2", ""},
		{"nop; mov eax, 1", cat(nop, movEAX), []int{0, 1}, "0", ""},
		{"push; push; mov rax, [rip+d]", cat([]byte{0x50, 0x53}, ripLoad), []int{0, 1, 2}, "01", ""},
		{"nop; jz (not last); mov [rcx], rax", cat(nop, []byte{0x74, 0x10}, store), []int{0, 1, 3}, "02", ""},
		{"je to a boundary inside", cat([]byte{0x74, 0x01}, nop, movEAX), []int{0, 2, 3}, "12", ""},
		{"loop to itself; mov [rcx], rax", cat([]byte{0xe2, 0xfe}, store), []int{0, 2}, "1", ""},
		{"jecxz; mov [rcx], rax", cat([]byte{0x67, 0xe3, 0x10}, store), []int{0, 3}, "2", ""},
		{"xor eax, eax; ret; padding", cat([]byte{0x31, 0xc0, 0xc3}, []byte{0x66, 0x90}), []int{0, 2, 3}, "12", ""},
		{"jmp [rax]; mov [rcx], rax", cat([]byte{0xff, 0x20}, store), []int{0, 2}, "1", ""},
		{"rep stosb; mov [rcx], rax", cat([]byte{0xf3, 0xaa}, store), []int{0, 2}, "1", ""},
		{"repne scasb (a32); mov [rcx], rax", cat([]byte{0x67, 0xf2, 0xae}, store), []int{0, 3}, "2", ""},
		{"falseshare: load", falseRun, []int{0, 3}, "2", ""},
		{"falseshare: store", falseRun[11:], []int{0, 3}, "2", ""},
		{"falseshare: cmp", falseRun[14:], []int{0, 3}, "2", ""},
		{"falseshare: jne; ret; padding", falseRun[17:], []int{0, 2, 3}, "12", ""},

		{"falseshare: add rdx, 1", falseRun[3:], nil, "", "top displacement byte"},
		{"add rdx, 1; nop", cat(addRDX, nop), nil, "", "top displacement byte"},
		{"five nops", cat(nop, nop, nop, nop, nop), nil, "", "top displacement byte"},
		{"nop; call", d32([]byte{0x90, 0xe8}, 0x100), nil, "", "transfers control"},
		{"nop; syscall", cat(nop, []byte{0x0f, 0x05}, nop, nop), nil, "", "transfers control"},
		{"nop; int3", cat(nop, []byte{0xcc}, movEAX), nil, "", "transfers control"},
		{"nop; call rax", cat(nop, []byte{0xff, 0xd0}, movEAX), nil, "", "transfers control"},
		{"jmp into the middle of mov", cat([]byte{0xeb, 0x01}, movEAX), nil, "", "middle of an instruction"},
		{"jnz with operand-size prefix", cat([]byte{0x66, 0x75, 0x10}, store), nil, "", "size prefix"},
		{"nop; mov rax, fs:[0]", d32([]byte{0x90, 0x64, 0x48, 0x8b, 0x04, 0x25}, 0), nil, "", "FS/GS"},
		{"window cut short by the end of RAM", cat(incRAX, nop), nil, "", "decode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := decodeWindow(tc.code, testMatchRIP)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("decodeWindow: %v, want an error containing %q", err, tc.err)
				}
				if Patchable(tc.code, testMatchRIP) == nil {
					t.Error("Patchable accepts it")
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeWindow: %v", err)
			}
			if !slicesEqual(w.offs, tc.offs) {
				t.Errorf("instructions at %v, want %v", w.offs, tc.offs)
			}
			pin := ""
			for i, p := range w.pinned() {
				if p {
					pin += string(rune('0' + i))
				}
			}
			if pin != tc.pin {
				t.Errorf("pinned displacement bytes %q, want %q", pin, tc.pin)
			}
			m, err := Build(tc.code, &replaylog.Regs{RIP: testMatchRIP}, testMatchBase)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			checkPatch(t, m, testMatchRIP, len(w.code), tc.offs)
		})
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkPatch checks m's patch over a window of n bytes at rip with
// instructions at offs: a jmp rel32 to the entry, int3 everywhere else a
// branch into the window can land.
func checkPatch(t *testing.T, m *Matcher, rip uint64, n int, offs []int) {
	t.Helper()
	jmp, err := x86asm.Decode(m.Patch, 64)
	if err != nil || jmp.Op != x86asm.JMP || jmp.Len != 5 || len(m.Patch) != n {
		t.Fatalf("patch % x = %v (%v), want jmp rel32 over %d bytes", m.Patch, jmp, err, n)
	}
	if to := rip + 5 + uint64(jmp.Args[0].(x86asm.Rel)); to != m.Entry {
		t.Errorf("patch jumps to %#x, the entry is %#x", to, m.Entry)
	}
	for _, off := range offs[1:] {
		if m.Patch[off] != 0xcc {
			t.Errorf("patch byte %d, where an instruction starts, is %#x", off, m.Patch[off])
		}
	}
	for i := 5; i < n; i++ {
		if m.Patch[i] != 0xcc {
			t.Errorf("patch byte %d is %#x, want int3", i, m.Patch[i])
		}
	}
	if m.Entry < testMatchBase+mtCode || m.Entry+uint64(len(m.Code)) > testMatchBase+RegionSize {
		t.Errorf("code %#x+%d is outside the region's code part", m.Entry, len(m.Code))
	}
	for i, off := range offs {
		if to, ok := m.Relocated(rip, rip+uint64(off)); ok != (i > 0) || ok && to != m.Reloc[i] {
			t.Errorf("relocated(+%d) = %#x, %v; want %#x", off, to, ok, m.Reloc[i])
		}
		if to, ok := m.Redirect(rip, rip+uint64(off)+1); ok != (i > 0) || ok && to != m.Reloc[i] {
			t.Errorf("redirect after the int3 at +%d = %#x, %v; want %#x", off, to, ok, m.Reloc[i])
		}
	}
}

// TestMatcherBranches: relative branches of a window are relocated as
// rel32 branches to their original targets, or to the relocated copy of
// an instruction of the window they target, and fall through to the next
// relocated instruction.
func TestMatcherBranches(t *testing.T) {
	const rip = testMatchRIP
	type want struct {
		op     x86asm.Op
		target int64 // from rip; in the window: its relocated copy
	}
	none := int64(-1 << 40)
	for _, tc := range []struct {
		name string
		code []byte
		want [][]want // per instruction of the window, the relocated sequence
	}{
		{"nop; jne out (not last); mov [rcx], rax",
			[]byte{0x90, 0x75, 0x40, 0x48, 0x89, 0x01},
			[][]want{{{x86asm.NOP, none}}, {{x86asm.JNE, 3 + 0x40}}, {{x86asm.MOV, none}}}},
		{"dec rbx; jnz back to the window's start",
			[]byte{0x48, 0xff, 0xcb, 0x75, 0xfb},
			[][]want{{{x86asm.DEC, none}}, {{x86asm.JNE, 0}}}},
		{"jg rel32 backwards", d32([]byte{0x0f, 0x8f}, -0x1234),
			[][]want{{{x86asm.JG, 6 - 0x1234}}}},
		{"je to a boundary inside; nop; mov eax, 1",
			[]byte{0x74, 0x01, 0x90, 0xb8, 1, 0, 0, 0},
			[][]want{{{x86asm.JE, 3}}, {{x86asm.NOP, none}}, {{x86asm.MOV, none}}}},
		{"inc rax; jmp short out",
			[]byte{0x48, 0xff, 0xc0, 0xeb, 0x80},
			[][]want{{{x86asm.INC, none}}, {{x86asm.JMP, 5 - 0x80}}}},
		{"nop; jmp short out (not last); mov [rcx], rax",
			[]byte{0x90, 0xeb, 0x80, 0x48, 0x89, 0x01},
			[][]want{{{x86asm.NOP, none}}, {{x86asm.JMP, 3 - 0x80}}, {{x86asm.MOV, none}}}},
		{"loop to itself; mov [rcx], rax",
			[]byte{0xe2, 0xfe, 0x48, 0x89, 0x01},
			[][]want{{{x86asm.LOOP, none}, {x86asm.JMP, none}, {x86asm.JMP, 0}}, {{x86asm.MOV, none}}}},
		{"jecxz forward; mov [rcx], rax",
			[]byte{0x67, 0xe3, 0x20, 0x48, 0x89, 0x01},
			[][]want{{{x86asm.JECXZ, none}, {x86asm.JMP, none}, {x86asm.JMP, 3 + 0x20}}, {{x86asm.MOV, none}}}},
		{"nop; mov rax, [rip+d]",
			d32([]byte{0x90, 0x48, 0x8b, 0x05}, 0x1000),
			[][]want{{{x86asm.NOP, none}}, {{x86asm.MOV, none}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Build(tc.code, &replaylog.Regs{RIP: rip}, testMatchBase)
			if err != nil {
				t.Fatal(err)
			}
			w, _ := decodeWindow(tc.code, rip)
			if len(m.Reloc) != len(tc.want) {
				t.Fatalf("%d relocated instructions, want %d", len(m.Reloc), len(tc.want))
			}
			pc := m.ResumeRIP
			for i, seq := range tc.want {
				if pc != m.Reloc[i] {
					t.Fatalf("instruction %d relocated at %#x, Reloc says %#x", i, pc, m.Reloc[i])
				}
				for j, wi := range seq {
					inst, err := x86asm.Decode(m.Code[pc-m.Entry:], 64)
					if err != nil || inst.Op != wi.op {
						t.Fatalf("instruction %d, part %d at %#x: %v (%v), want %v", i, j, pc, inst, err, wi.op)
					}
					if rel, ok := inst.Args[0].(x86asm.Rel); ok && wi.target != none {
						got := pc + uint64(inst.Len) + uint64(int64(rel))
						want := rip + uint64(wi.target)
						if k, in := w.boundary(want); in && k > 0 {
							want = m.Reloc[k]
						}
						if got != want {
							t.Errorf("instruction %d, part %d: %v goes to %#x, want %#x", i, j, inst, got, want)
						}
						if len(seq) == 1 && inst.Len != 5 && inst.Len != 6 {
							t.Errorf("instruction %d: %v is not rel32", i, inst)
						}
					}
					if inst.Op == x86asm.MOV && inst.Args[1] != nil {
						if mem, ok := inst.Args[1].(x86asm.Mem); ok && mem.Base == x86asm.RIP {
							orig, _ := x86asm.Decode(w.code[w.offs[i]:], 64)
							if got, want := ripTarget(t, inst, pc), ripTarget(t, orig, rip+uint64(w.offs[i])); got != want {
								t.Errorf("relocated %v addresses %#x, want %#x", inst, got, want)
							}
						}
					}
					pc += uint64(inst.Len)
				}
			}
			if pc != m.End {
				t.Fatalf("relocated window ends at %#x, End says %#x", pc, m.End)
			}
			back, err := x86asm.Decode(m.Code[pc-m.Entry:], 64)
			if err != nil || back.Op != x86asm.JMP || pc+5+uint64(int64(back.Args[0].(x86asm.Rel))) != rip+uint64(len(w.code)) {
				t.Errorf("after the window: %v (%v), want jmp %#x", back, err, rip+uint64(len(w.code)))
			}
			if m.After(len(m.Reloc)-1) != m.End || len(m.Reloc) > 1 && m.After(0) != m.Reloc[1] {
				t.Errorf("after: %#x, %#x", m.After(0), m.After(len(m.Reloc)-1))
			}
		})
	}
}

// TestMatcherEntry: the trampoline's entry makes the pinned displacement
// bytes 0xcc, wherever the code is.
func TestMatcherEntry(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rips := []uint64{0, 0x1000, testMatchRIP, 0x3fff_fffb, 0x7fff_ffff}
	for range 200 {
		rips = append(rips, rng.Uint64N(1<<31))
	}
	for _, rip := range rips {
		lo := testMatchBase + mtCode + rng.Uint64N(1<<20)
		for combo := range 1 << pinnedBytes {
			var pin [pinnedBytes]bool
			for i := range pin {
				pin[i] = combo>>i&1 != 0
			}
			e := chooseEntry(rip, pin, lo)
			if e < lo || e >= lo+1<<24 {
				t.Fatalf("rip %#x, pinned %v: entry %#x outside [%#x, %#x)", rip, pin, e, lo, lo+1<<24)
			}
			d := e - (rip + 5)
			for i, p := range pin {
				if b := byte(d >> (8 * i)); p && b != 0xcc {
					t.Fatalf("rip %#x, pinned %v: entry %#x, displacement %#x has byte %d = %#x", rip, pin, e, d, i, b)
				}
			}
			if combo == 0 && e != lo {
				t.Fatalf("rip %#x, nothing pinned: entry %#x, want %#x", rip, e, lo)
			}
			// The lowest such entry: none below it.
			if combo == 1 && e-lo >= 256 || combo == 3 && e-lo >= 1<<16 {
				t.Fatalf("rip %#x, pinned %v: entry %#x is %#x above the lowest possible", rip, pin, e, e-lo)
			}
		}
	}
}

// TestMatcherTail: a window's relocated copies run on with the
// instructions after it up to the next branch, so that a miss returns to
// the loop by its own branch; the tail stops before what exits to the
// VMM, what cannot be relocated, a branch into the middle of the window,
// and where a copy would grow too long for a jrcxz to skip.
func TestMatcherTail(t *testing.T) {
	loop := probe.FalseshareLoop() // 0x00 mov rax,[rcx] .. 0x11 jne 0x00; 0x13 out; 0x14 jmp $
	nops := bytes.Repeat([]byte{0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0}, 20)
	for _, tc := range []struct {
		name string
		code []byte
		n    int         // window instructions
		ops  []x86asm.Op // window and tail
		end  int         // where the jmp back goes, from the window's start
	}{
		{"falseshare load: the loop's body", loop, 2,
			[]x86asm.Op{x86asm.MOV, x86asm.ADD, x86asm.ADD, x86asm.MOV, x86asm.CMP, x86asm.JNE}, 0x13},
		{"falseshare store", loop[0x0b:], 2, []x86asm.Op{x86asm.MOV, x86asm.CMP, x86asm.JNE}, 0x08},
		{"ends in a branch: no tail", loop[0x0e:], 2, []x86asm.Op{x86asm.CMP, x86asm.JNE}, 5},
		{"stops before out", []byte{0x48, 0xff, 0xc0, 0x48, 0xff, 0xcb, 0x90, 0xef, 0x75, 0xf0}, 2,
			[]x86asm.Op{x86asm.INC, x86asm.DEC, x86asm.NOP}, 7},
		{"stops before cpuid", []byte{0x48, 0xff, 0xc0, 0x48, 0xff, 0xcb, 0x0f, 0xa2, 0x75, 0xf0}, 2,
			[]x86asm.Op{x86asm.INC, x86asm.DEC}, 6},
		{"stops before a call", d32([]byte{0x48, 0xff, 0xc0, 0x48, 0xff, 0xcb, 0xe8}, 0x100), 2,
			[]x86asm.Op{x86asm.INC, x86asm.DEC}, 6},
		{"stops before a branch into the window's middle", []byte{0x48, 0xff, 0xc0, 0x48, 0xff, 0xcb, 0x75, 0xf9}, 2,
			[]x86asm.Op{x86asm.INC, x86asm.DEC}, 6},
		{"takes a branch to a boundary of the window", []byte{0x48, 0xff, 0xc0, 0x48, 0xff, 0xcb, 0x75, 0xfb}, 2,
			[]x86asm.Op{x86asm.INC, x86asm.DEC, x86asm.JNE}, 8},
		{"stops where the copy grows too long", append([]byte{0x48, 0xff, 0xc0, 0x48, 0xff, 0xcb}, nops...), 2,
			[]x86asm.Op{x86asm.INC, x86asm.DEC, x86asm.NOP, x86asm.NOP, x86asm.NOP, x86asm.NOP, x86asm.NOP,
				x86asm.NOP, x86asm.NOP, x86asm.NOP, x86asm.NOP, x86asm.NOP, x86asm.NOP}, 6 + 11*8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := decodeWindow(tc.code, testMatchRIP)
			if err != nil {
				t.Fatal(err)
			}
			w.extend(tc.code)
			var ops []x86asm.Op
			for _, inst := range w.insts {
				ops = append(ops, inst.Op)
			}
			if w.n != tc.n || !slices.Equal(ops, tc.ops) || len(w.src) != tc.end {
				t.Fatalf("window of %d, instructions %v, %d bytes; want %d, %v, %d", w.n, ops, len(w.src), tc.n, tc.ops, tc.end)
			}
			m, err := Build(tc.code, &replaylog.Regs{RIP: testMatchRIP}, testMatchBase)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Offs) != tc.n || len(m.Reloc) != len(tc.ops) || len(m.Patch) != len(w.code) {
				t.Errorf("matcher over %d instructions, %d relocated, patch %d bytes", len(m.Offs), len(m.Reloc), len(m.Patch))
			}
			back, err := x86asm.Decode(m.Code[m.End-m.Entry:], 64)
			if err != nil || back.Op != x86asm.JMP || m.End+5+uint64(int64(back.Args[0].(x86asm.Rel))) != testMatchRIP+uint64(tc.end) {
				t.Errorf("after the copy: %v (%v), want jmp +%#x", back, err, tc.end)
			}
		})
	}
}
