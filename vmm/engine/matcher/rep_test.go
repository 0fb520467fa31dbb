package matcher

import (
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/crewvm/crewvm/replaylog"
)

func TestMatcherRepOp(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
		ok   bool
		want RepOp
	}{
		{"rep stosb", []byte{0xf3, 0xaa}, true, RepOp{size: 1, di: true}},
		{"rep stosq", []byte{0xf3, 0x48, 0xab}, true, RepOp{size: 8, di: true}},
		{"rep movsb", []byte{0xf3, 0xa4}, true, RepOp{size: 1, si: true, di: true}},
		{"rep movsd", []byte{0xf3, 0xa5}, true, RepOp{size: 4, si: true, di: true}},
		{"rep movsw", []byte{0x66, 0xf3, 0xa5}, true, RepOp{size: 2, si: true, di: true}},
		{"repne movsb (a rep)", []byte{0xf2, 0xa4}, true, RepOp{size: 1, si: true, di: true}},
		{"rep lodsb", []byte{0xf3, 0xac}, true, RepOp{size: 1, si: true, loadsA: true}},
		{"repne scasb", []byte{0xf2, 0xae}, true, RepOp{size: 1, di: true, cond: repNE}},
		{"repe scasq", []byte{0xf3, 0x48, 0xaf}, true, RepOp{size: 8, di: true, cond: repE}},
		{"repe cmpsb", []byte{0xf3, 0xa6}, true, RepOp{size: 1, si: true, di: true, cond: repE}},
		{"repne cmpsw", []byte{0x66, 0xf2, 0xa7}, true, RepOp{size: 2, si: true, di: true, cond: repNE}},
		{"rep stosd, a32", []byte{0x67, 0xf3, 0xab}, true, RepOp{size: 4, di: true, a32: true}},
		{"repne scasb, a32", []byte{0x67, 0xf2, 0xae}, true, RepOp{size: 1, di: true, cond: repNE, a32: true}},
		{"f3 then f2: the last wins", []byte{0xf3, 0xf2, 0xae}, true, RepOp{size: 1, di: true, cond: repNE}},

		{"stosb without rep", []byte{0xaa}, false, RepOp{}},
		{"rep insb", []byte{0xf3, 0x6c}, false, RepOp{}},
		{"rep outsb", []byte{0xf3, 0x6e}, false, RepOp{}},
		{"pause", []byte{0xf3, 0x90}, false, RepOp{}},
		{"rep ret", []byte{0xf3, 0xc3}, false, RepOp{}},
		{"popcnt", []byte{0xf3, 0x48, 0x0f, 0xb8, 0xc0}, false, RepOp{}},
		{"movsd xmm0, xmm1 (SSE)", []byte{0xf2, 0x0f, 0x10, 0xc1}, false, RepOp{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, err := x86asm.Decode(tc.code, 64)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := repStringOp(inst)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("repStringOp(%v) = %+v, %v; want %+v, %v", inst, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestMatcherRepPlan: the arithmetic that finds a REP position in an
// arrival at the instruction.
func TestMatcherRepPlan(t *testing.T) {
	stosb := RepOp{size: 1, di: true}
	movsq := RepOp{size: 8, si: true, di: true}
	scasb := RepOp{size: 1, di: true, cond: repNE}
	lodsw := RepOp{size: 2, si: true, loadsA: true}
	stosd32 := RepOp{size: 4, di: true, a32: true}
	const df = RFLAGSDF
	type regs struct{ rax, rcx, rsi, rdi, rbx, flags uint64 }
	for _, tc := range []struct {
		name      string
		op        RepOp
		cur, want regs
		j         uint64
		ok        bool
	}{
		{"stosb, k = n", stosb, regs{rcx: 100, rdi: 0x1000}, regs{rcx: 100, rdi: 0x1000}, 0, true},
		{"stosb forwards", stosb, regs{rcx: 100, rdi: 0x1000}, regs{rcx: 40, rdi: 0x1000 + 60}, 60, true},
		{"stosb backwards", stosb, regs{rcx: 100, rdi: 0x1000, flags: df}, regs{rcx: 40, rdi: 0x1000 - 60, flags: df}, 60, true},
		{"stosb, RDI off by one", stosb, regs{rcx: 100, rdi: 0x1000}, regs{rcx: 40, rdi: 0x1000 + 61}, 0, false},
		{"stosb, wrong direction", stosb, regs{rcx: 100, rdi: 0x1000}, regs{rcx: 40, rdi: 0x1000 - 60}, 0, false},
		{"stosb, DF differs", stosb, regs{rcx: 100, rdi: 0x1000}, regs{rcx: 40, rdi: 0x1000 + 60, flags: df}, 0, false},
		{"stosb, more left than arrived with", stosb, regs{rcx: 10, rdi: 0x1000}, regs{rcx: 40, rdi: 0x1000 - 30}, 0, false},
		{"stosb, other register differs", stosb, regs{rcx: 100, rdi: 0x1000, rbx: 1}, regs{rcx: 40, rdi: 0x1000 + 60}, 0, false},
		{"stosb, RAX (the value) differs", stosb, regs{rcx: 100, rdi: 0x1000, rax: 1}, regs{rcx: 40, rdi: 0x1000 + 60}, 0, false},
		{"stosb, RSI not used", stosb, regs{rcx: 100, rdi: 0x1000, rsi: 5}, regs{rcx: 40, rdi: 0x1000 + 60, rsi: 6}, 0, false},
		{"stosb, arithmetic flags must be equal", stosb, regs{rcx: 100, rdi: 0x1000, flags: 1}, regs{rcx: 40, rdi: 0x1000 + 60}, 0, false},
		{"stosb, TF and RF ignored", stosb, regs{rcx: 100, rdi: 0x1000, flags: 1<<8 | 1<<16}, regs{rcx: 40, rdi: 0x1000 + 60}, 60, true},
		{"stosb, want RCX 0 only at once", stosb, regs{rcx: 100, rdi: 0x1000}, regs{rcx: 0, rdi: 0x1000 + 100}, 0, false},
		{"stosb, RCX 0 at once", stosb, regs{rcx: 0, rdi: 0x1000}, regs{rcx: 0, rdi: 0x1000}, 0, true},
		{"stosb, RDI wraps", stosb, regs{rcx: 100, rdi: ^uint64(9)}, regs{rcx: 40, rdi: 50}, 60, true},
		{"movsq forwards", movsq, regs{rcx: 512, rsi: 0x2000, rdi: 0x8000}, regs{rcx: 12, rsi: 0x2000 + 500*8, rdi: 0x8000 + 500*8}, 500, true},
		{"movsq backwards", movsq, regs{rcx: 512, rsi: 0x2ff8, rdi: 0x8ff8, flags: df},
			regs{rcx: 12, rsi: 0x2ff8 - 500*8, rdi: 0x8ff8 - 500*8, flags: df}, 500, true},
		{"movsq, RSI inconsistent", movsq, regs{rcx: 512, rsi: 0x2000, rdi: 0x8000}, regs{rcx: 12, rsi: 0x2000 + 499*8, rdi: 0x8000 + 500*8}, 0, false},
		{"movsq, RDI inconsistent", movsq, regs{rcx: 512, rsi: 0x2000, rdi: 0x8000}, regs{rcx: 12, rsi: 0x2000 + 500*8, rdi: 0x8000 + 500}, 0, false},
		{"scasb: flags of the compares not compared", scasb, regs{rcx: 4096, rdi: 0x3000, flags: 0x8d5}, regs{rcx: 96, rdi: 0x3000 + 4000}, 4000, true},
		{"scasb: DF still compared", scasb, regs{rcx: 4096, rdi: 0x3000, flags: df}, regs{rcx: 96, rdi: 0x3000 + 4000}, 0, false},
		{"scasb: AL compared", scasb, regs{rcx: 4096, rdi: 0x3000, rax: 0x55}, regs{rcx: 96, rdi: 0x3000 + 4000, rax: 0x56}, 0, false},
		{"lodsw: RAX loaded, not compared", lodsw, regs{rcx: 10, rsi: 0x100, rax: 7}, regs{rcx: 4, rsi: 0x100 + 12, rax: 9}, 6, true},
		{"stosd a32: ECX, EDI", stosd32, regs{rcx: 0xdead_0000_0000_0010, rdi: 0xffff_fff0}, regs{rcx: 0x8, rdi: 0x10}, 8, true},
		{"stosd a32: EDI inconsistent", stosd32, regs{rcx: 0x10, rdi: 0xffff_fff0}, regs{rcx: 0x8, rdi: 0x1_0000_0010 + 4}, 0, false},
		{"stosd a32: ECX counts, not RCX", stosd32, regs{rcx: 0x1_0000_0000}, regs{rcx: 0}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gpr := func(r regs) [16]uint64 {
				var g [16]uint64
				g[gprRAX], g[GPRRCX], g[gprRSI], g[gprRDI], g[3] = r.rax, r.rcx, r.rsi, r.rdi, r.rbx
				g[4] = 0x7fff_0000 // rsp, equal
				return g
			}
			cur, want := gpr(tc.cur), gpr(tc.want)
			j, ok := tc.op.Plan(&cur, &want, tc.cur.flags|2, tc.want.flags|2)
			if j != tc.j || ok != tc.ok {
				t.Fatalf("plan = %d, %v; want %d, %v", j, ok, tc.j, tc.ok)
			}
		})
	}
}

// TestMatcherRepFinish: after the planned iterations, is the vCPU at the
// position, or did a REPE/REPNE stop early, and with what RCX?
func TestMatcherRepFinish(t *testing.T) {
	stosb := RepOp{size: 1, di: true}
	repne := RepOp{size: 1, di: true, cond: repNE}
	repe := RepOp{size: 1, si: true, di: true, cond: repE}
	a32 := RepOp{size: 1, di: true, cond: repNE, a32: true}
	const zf = rflagsZF
	for _, tc := range []struct {
		name         string
		op           RepOp
		rcx, flags   uint64 // as the copy left them
		k            uint64
		wantRCX      uint64
		wantPosition bool
	}{
		{"rep stosb done", stosb, 0, 0, 40, 40, true},
		{"rep stosb done, ZF irrelevant", stosb, 0, zf, 40, 40, true},
		{"repne scasb, no match yet", repne, 0, 0, 96, 96, true},
		{"repne scasb found it in the last planned iteration", repne, 0, zf, 96, 96, false},
		{"repne scasb found it early", repne, 1000, zf, 96, 1096, false},
		{"repe cmpsb, equal so far", repe, 0, zf, 5, 5, true},
		{"repe cmpsb differed in the last iteration", repe, 0, 0, 5, 5, false},
		{"repe cmpsb differed early", repe, 7, 0, 5, 12, false},
		{"a32: upper RCX bits kept", a32, 0xabcd_0000_0000_0003, zf, 0x10, 0xabcd_0000_0000_0013, false},
		{"a32: ECX wraps within 32 bits", a32, 0xabcd_0000_0000_0000, 0, 0x10, 0xabcd_0000_0000_0010, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcx, at := tc.op.Finish(tc.rcx, tc.flags|2, tc.k)
			if rcx != tc.wantRCX || at != tc.wantPosition {
				t.Fatalf("finish = %#x, %v; want %#x, %v", rcx, at, tc.wantRCX, tc.wantPosition)
			}
		})
	}
	if got := (RepOp{a32: true}).WithCount(0x1234_5678_9abc_def0, 7); got != 0x1234_5678_0000_0007 {
		t.Errorf("withCount a32: %#x", got)
	}
	if got := (RepOp{}).WithCount(0x1234_5678_9abc_def0, 7); got != 7 {
		t.Errorf("withCount: %#x", got)
	}
}

// TestMatcherRepTrampoline: the matcher of a position inside a REP string
// instruction leaves RCX, RSI and RDI (and RAX for lods, the flags for
// REPE/REPNE) to a native consistency check, and carries a copy of the
// instruction followed by an int3.
func TestMatcherRepTrampoline(t *testing.T) {
	store := []byte{0x48, 0x89, 0x01} // mov [rcx], rax
	for _, tc := range []struct {
		name  string
		code  []byte
		df    bool
		a32   bool
		shift byte
		si    bool
		cond  bool
	}{
		{"rep stosb", append([]byte{0xf3, 0xaa}, store...), false, false, 0, false, false},
		{"rep stosb, DF", append([]byte{0xf3, 0xaa}, store...), true, false, 0, false, false},
		{"rep movsq", append([]byte{0xf3, 0x48, 0xa5}, store...), false, false, 3, true, false},
		{"repne scasb, DF", append([]byte{0xf2, 0xae}, store...), true, false, 0, false, true},
		{"repe cmpsb, a32", append([]byte{0x67, 0xf3, 0xa6}, store...), false, true, 0, true, true},
		{"repne cmpsw, DF", append([]byte{0x66, 0xf2, 0xa7}, store...), true, false, 1, true, true},
		{"rep lodsq", append([]byte{0xf3, 0x48, 0xad}, store...), false, false, 3, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := &replaylog.Regs{RIP: testMatchRIP, RFLAGS: 2}
			for i := range want.GPR {
				want.GPR[i] = uint64(i+1) << 12
			}
			if tc.df {
				want.RFLAGS |= RFLAGSDF
			}
			m, err := Build(tc.code, want, testMatchBase)
			if err != nil {
				t.Fatal(err)
			}
			if m.Rep == nil {
				t.Fatal("no REP matcher")
			}
			w := newTrampolineWalk(t, m)
			order, _ := compareOrder(mustWindow(t, tc.code), want, nil)
			_, saveRCX, _ := w.gprChecks(want, order, m.Rep.varies)
			_, saveRAX := w.step(x86asm.MOV, ripMem, x86asm.RAX)
			w.step(x86asm.LAHF)
			w.step(x86asm.SETO, x86asm.AL)
			w.step(x86asm.MOV, ripMem, x86asm.AX)
			var restore uint64
			if !tc.cond {
				w.step(x86asm.CMP, x86asm.AX, ripMem)
				_, restore = w.step(x86asm.JNE, relArg)
			}
			acc, cnt, src, dst := x86asm.RAX, x86asm.RCX, x86asm.RSI, x86asm.RDI
			if tc.a32 {
				acc, cnt, src, dst = x86asm.EAX, x86asm.ECX, x86asm.ESI, x86asm.EDI
			}
			miss := func(to uint64) {
				t.Helper()
				if restore == 0 {
					restore = to
				} else if to != restore {
					t.Errorf("consistency miss goes to %#x, the others to %#x", to, restore)
				}
			}
			w.step(x86asm.MOV, acc, cnt)
			if _, a := w.step(x86asm.SUB, acc, ripMem); a != m.DataAddr+mtWantGPR+8*GPRRCX {
				t.Errorf("subtracts %#x, want RCX at %#x", a, m.DataAddr+mtWantGPR+8*GPRRCX)
			}
			_, to := w.step(x86asm.JB, relArg)
			miss(to)
			if tc.shift != 0 {
				w.step(x86asm.SHL, acc, x86asm.Imm(tc.shift))
			}
			if tc.df {
				w.step(x86asm.NEG, acc)
			}
			if tc.si {
				w.step(x86asm.ADD, acc, src)
				if _, a := w.step(x86asm.CMP, acc, ripMem); a != m.DataAddr+mtWantGPR+8*gprRSI {
					t.Errorf("compares with %#x, want RSI at %#x", a, m.DataAddr+mtWantGPR+8*gprRSI)
				}
				_, to := w.step(x86asm.JNE, relArg)
				miss(to)
				w.step(x86asm.SUB, acc, src)
			}
			if m.Rep.di {
				w.step(x86asm.ADD, acc, dst)
				if _, a := w.step(x86asm.CMP, acc, ripMem); a != m.DataAddr+mtWantGPR+8*gprRDI {
					t.Errorf("compares with %#x, want RDI at %#x", a, m.DataAddr+mtWantGPR+8*gprRDI)
				}
				_, to = w.step(x86asm.JNE, relArg)
				miss(to)
			}
			restoreFlags := func() {
				t.Helper()
				w.step(x86asm.MOV, x86asm.AX, ripMem)
				w.step(x86asm.ADD, x86asm.AL, x86asm.Imm(0x7f))
				w.step(x86asm.SAHF)
				if _, a := w.step(x86asm.MOV, x86asm.RAX, ripMem); a != saveRAX {
					t.Errorf("RAX restored from %#x, saved at %#x", a, saveRAX)
				}
			}
			restoreFlags()
			if pc, _ := w.step(x86asm.INT, x86asm.Imm(3)); pc != m.HitRIP || restore != pc+1 {
				t.Errorf("int3 at %#x, miss at %#x; HitRIP %#x", pc, restore, m.HitRIP)
			}
			restoreFlags()
			if _, a := w.step(x86asm.MOV, x86asm.RCX, ripMem); a != saveRCX {
				t.Errorf("RCX restored from %#x, saved at %#x", a, saveRCX)
			}
			orig, _ := x86asm.Decode(tc.code, 64)
			if pc := w.stepOp(orig.Op); pc != m.ResumeRIP {
				t.Errorf("relocated REP instruction at %#x, ResumeRIP %#x", pc, m.ResumeRIP)
			}
			for w.next < len(w.ins) && w.ins[w.next].pc < m.End {
				w.next++
			}
			w.step(x86asm.JMP, relArg)
			if pc := w.stepOp(orig.Op); pc != m.Stub {
				t.Errorf("stub at %#x, Stub %#x", pc, m.Stub)
			}
			if pc, _ := w.step(x86asm.INT, x86asm.Imm(3)); pc != m.StubInt3 || !bytesEqual(mtAt(t, m, m.Stub, orig.Len), tc.code[:orig.Len]) {
				t.Errorf("stub int3 at %#x, StubInt3 %#x; stub % x", pc, m.StubInt3, mtAt(t, m, m.Stub, orig.Len))
			}
			w.checkOverlap()
		})
	}
	// A position with nothing left (RCX 0) can only be the arrival: an
	// ordinary matcher compares RCX.
	want := &replaylog.Regs{RIP: testMatchRIP}
	if m, err := Build([]byte{0xf3, 0xaa, 0x48, 0x89, 0x01}, want, testMatchBase); err != nil || m.Rep != nil {
		t.Errorf("RCX 0: %v, Rep %v", err, m.Rep)
	}
}

func mustWindow(t *testing.T, code []byte) *window {
	t.Helper()
	w, err := decodeWindow(code, testMatchRIP)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// TestMatcherRepStub: where no window can be patched at a REP string
// instruction, the stop is an int3 and the region holds a copy of the
// instruction with an int3 after it; Seekable accepts it for settle.
func TestMatcherRepStub(t *testing.T) {
	movsqCld := []byte{0xf3, 0x48, 0xa5, 0xfc, 0x48, 0xff, 0xcb} // rep movsq; cld; dec rbx
	want := &replaylog.Regs{RIP: testMatchRIP}
	want.GPR[GPRRCX] = 100
	if err := Patchable(movsqCld, want.RIP); err == nil {
		t.Fatal("rep movsq; cld is Patchable")
	}
	if err := Seekable(movsqCld, want.RIP); err != nil {
		t.Errorf("Seekable: %v", err)
	}
	if _, err := Build(movsqCld, want, testMatchBase); err == nil {
		t.Fatal("Build accepts it")
	}
	m, err := BuildRepStub(movsqCld, want, testMatchBase)
	if err != nil {
		t.Fatal(err)
	}
	if !bytesEqual(m.Patch, []byte{0xcc}) || !m.StubOnly || m.HitRIP != want.RIP || m.RepLen != 3 ||
		m.Rep == nil || *m.Rep != (RepOp{size: 8, si: true, di: true}) {
		t.Errorf("stub %+v", m)
	}
	if m.Stub != m.Entry || m.StubInt3 != m.Stub+3 || !bytesEqual(m.Code, []byte{0xf3, 0x48, 0xa5, 0xcc}) {
		t.Errorf("stub code % x at %#x, int3 at %#x", m.Code, m.Stub, m.StubInt3)
	}
	if to, ok := m.Redirect(want.RIP, want.RIP+4); ok {
		t.Errorf("redirect into a stub: %#x", to)
	}
	want.GPR[GPRRCX] = 0
	if _, err := BuildRepStub(movsqCld, want, testMatchBase); err == nil {
		t.Error("a REP position with RCX 0 left gets a stub")
	}
	want.GPR[GPRRCX] = 100
	for _, code := range [][]byte{
		{0x48, 0x83, 0xc2, 0x01, 0x90},       // add rdx, 1; nop
		{0xf3, 0x6c, 0x90, 0x90, 0x90},       // rep insb; nops
		{0xf3, 0x90, 0x90, 0x90, 0x90, 0x90}, // pause; nops
	} {
		if err := Seekable(code, want.RIP); err == nil {
			t.Errorf("% x is Seekable", code)
		}
		if _, err := BuildRepStub(code, want, testMatchBase); err == nil {
			t.Errorf("% x gets a REP stub", code)
		}
	}
}
