package replay

// End-to-end tests of seeking state positions on real KVM: a one-vCPU
// probe guest (vmm/internal/probe) runs hand-assembled loops from
// probe.Code; the position is the state a real execution reaches, made by
// single-stepping from an equivalent start, and the seek must stop there
// from the loop's beginning with a handful of exits, however many
// iterations separate them.

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"golang.org/x/arch/x86/x86asm"
	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/engine/crewview"
	"github.com/crewvm/crewvm/vmm/engine/matcher"
	"github.com/crewvm/crewvm/vmm/engine/record"
	"github.com/crewvm/crewvm/vmm/internal/probe"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/machine"
)

// Buffers of the REP tests, 4 pages each.
const (
	seekSrc    = 0x400000
	seekDst    = 0x500000
	seekBufLen = 0x4000
	seekWord   = probe.A + 0x100 // the loops' memory word
)

// seekProbe is a probe vCPU running one snippet.
type seekProbe struct {
	*probe.P
	e    *Engine
	c    *machine.VCPU
	code []byte
}

func newSeekProbe(t *testing.T, code []byte) *seekProbe {
	t.Helper()
	probe.LockThread(t)
	p := probe.New(t, 1)
	p.Load(probe.Code, code)
	e, err := New(p.M, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &seekProbe{P: p, e: e, c: p.M.VCPUs()[0], code: code}
}

// regsAt is the vCPU's registers at probe.Code+off, changed by set.
func (p *seekProbe) regsAt(off uint64, set func(r *kvm.Regs)) *kvm.Regs {
	p.T.Helper()
	r := p.Regs(0)
	r.RIP = probe.Code + off
	r.RFLAGS &^= matcher.RFLAGSArith | matcher.RFLAGSDF | replaylog.RFLAGSIgnored
	if set != nil {
		set(r)
	}
	return r
}

// stepped runs n single steps from r (one per REP iteration) and returns
// the registers they lead to: a real state of the snippet.
func (p *seekProbe) stepped(r *kvm.Regs, n int) *kvm.Regs {
	p.T.Helper()
	p.SetRegs(0, r)
	v := p.VCPU(0)
	for i := range n {
		if err := v.SetGuestDebug(kvm.DebugEnable|kvm.DebugSingleStep, [8]uint64{}); err != nil {
			p.T.Fatal(err)
		}
		if o := p.Run(0); o.Reason != kvm.ExitShutdown || o.Vector != 1 {
			p.T.Fatalf("step %d: %v", i, o)
		}
	}
	if err := v.SetGuestDebug(0, [8]uint64{}); err != nil {
		p.T.Fatal(err)
	}
	return p.Regs(0)
}

// seekFrom puts the vCPU at start and seeks want; it returns the exits
// the seek took, and checks that the vCPU stands at want with the
// snippet's code intact in its view.
func (p *seekProbe) seekFrom(start, want *kvm.Regs) int {
	p.T.Helper()
	p.SetRegs(0, start)
	pos := &replaylog.Position{Kind: replaylog.PosState, Regs: crewview.LogRegs(want), Seq: 1}
	t0 := time.Now()
	exits, err := p.e.seekExits(p.c, pos, 0)
	if err != nil {
		p.T.Fatalf("seek %s: %v", pos, err)
	}
	took := time.Since(t0)
	got, w := crewview.LogRegs(p.Regs(0)), pos.Regs
	got.RFLAGS &^= replaylog.RFLAGSIgnored
	w.RFLAGS &^= replaylog.RFLAGSIgnored
	if got != w {
		p.T.Fatalf("seek stopped at\n%+v\nwant\n%+v", got, w)
	}
	view := p.View(0).Bytes()[probe.Code : probe.Code+uint64(len(p.code))]
	if !bytes.Equal(view, p.code) || !bytes.Equal(p.M.Memory().Host()[probe.Code:][:len(p.code)], p.code) {
		p.T.Fatalf("code after the seek: % x, want % x", view, p.code)
	}
	p.T.Logf("seek to RIP +%#x: %d exits, %v", want.RIP-probe.Code, exits, took)
	return exits
}

// runToMarker lets the vCPU run to its marker out and returns the
// registers there.
func (p *seekProbe) runToMarker() *kvm.Regs {
	p.T.Helper()
	// The out traps (#GP), or KVM serves it as port I/O, RIP past it.
	o := p.Run(0)
	if o.Errno == 0 && o.Reason == kvm.ExitIO && p.M.Memory().Host()[o.RIP-1] == 0xef {
		return p.Regs(0)
	}
	if !p.AtMarker(0, o) {
		p.T.Fatalf("the snippet did not reach its marker: %v", o)
	}
	return p.Regs(0)
}

func wantExits(t *testing.T, got, max int) {
	t.Helper()
	if got > max {
		t.Errorf("%d exits, want at most %d", got, max)
	}
}

// TestSeekShortLoop: positions on each instruction of "inc rax; dec rbx;
// jnz", every one shorter than a jmp rel32, millions of iterations in.
func TestSeekShortLoop(t *testing.T) {
	code := []byte{
		0x48, 0xff, 0xc0, // 0x00: inc rax
		0x48, 0xff, 0xcb, // 0x03: dec rbx
		0x75, 0xf8, // 0x06: jnz 0x00
		0xef,       // 0x08: out (marker)
		0xeb, 0xfe, // 0x09: jmp $
	}
	const n, i = 10_000_000, 6_000_000
	p := newSeekProbe(t, code)
	start := p.regsAt(0, func(r *kvm.Regs) { r.RAX, r.RBX = 0, n })
	// The state at the loop's top after i iterations: rax = i, rbx = n-i,
	// the flags of the last dec (inc and dec leave CF alone).
	top := p.stepped(p.regsAt(0, func(r *kvm.Regs) { r.RAX, r.RBX = i-1, n-i+1 }), 3)
	for k, name := range []string{"inc rax", "dec rbx", "jnz"} {
		t.Run(name, func(t *testing.T) {
			p.T = t
			want := p.stepped(top, k)
			wantExits(t, p.seekFrom(start, want), 2)
			if r := p.runToMarker(); r.RAX != n || r.RBX != 0 {
				t.Errorf("after the seek the loop ends with rax %d rbx %d, want %d 0", r.RAX, r.RBX, n)
			}
		})
	}
}

// TestSeekTwoInstructionLoop: "dec rbx; jnz" back to itself.
func TestSeekTwoInstructionLoop(t *testing.T) {
	code := []byte{
		0x48, 0xff, 0xcb, // 0x00: dec rbx
		0x75, 0xfb, // 0x03: jnz 0x00
		0xef,       // 0x05: out
		0xeb, 0xfe, // 0x06: jmp $
	}
	const n, left = 20_000_000, 7_777_777
	p := newSeekProbe(t, code)
	start := p.regsAt(0, func(r *kvm.Regs) { r.RBX = n })
	top := p.stepped(p.regsAt(0, func(r *kvm.Regs) { r.RBX = left + 1 }), 2)
	for k, name := range []string{"dec rbx", "jnz"} {
		t.Run(name, func(t *testing.T) {
			p.T = t
			want := p.stepped(top, k)
			wantExits(t, p.seekFrom(start, want), 2)
			if r := p.runToMarker(); r.RBX != 0 {
				t.Errorf("after the seek the loop ends with rbx %d", r.RBX)
			}
		})
	}
}

// TestSeekBranchIntoWindow: the window at the position (inc rax; dec rbx)
// is entered in its middle, at dec rbx, first by a jmp from outside it,
// then by a vCPU that stands there when the seek starts.
func TestSeekBranchIntoWindow(t *testing.T) {
	code := []byte{
		0xeb, 0x03, // 0x00: jmp 0x05, into the window
		0x48, 0xff, 0xc0, // 0x02: inc rax <- the position
		0x48, 0xff, 0xcb, // 0x05: dec rbx
		0x75, 0xf8, // 0x08: jnz 0x02
		0xef,       // 0x0a: out
		0xeb, 0xfe, // 0x0b: jmp $
	}
	if mt := windowAt(t, code[2:], probe.Code+2); !slices.Equal(mt.Offs, []int{0, 3}) || mt.Patch[3] != 0xcc {
		t.Fatalf("window at inc rax: instructions at %v, patch % x; want 0 3, displacement byte 2 pinned", mt.Offs, mt.Patch)
	}
	const n, m = 5_000_000, 3_000_000 // the m-th arrival at inc rax
	p := newSeekProbe(t, code)
	want := p.stepped(p.regsAt(5, func(r *kvm.Regs) { r.RAX, r.RBX = m-1, n-m+1 }), 2)
	for _, from := range []uint64{0, 5} {
		start := p.regsAt(from, func(r *kvm.Regs) { r.RAX, r.RBX = 0, n })
		wantExits(t, p.seekFrom(start, want), 2)
		if r := p.runToMarker(); r.RAX != n-1 || r.RBX != 0 {
			t.Errorf("from +%d: after the seek the loop ends with rax %d rbx %d", from, r.RAX, r.RBX)
		}
	}
}

// TestSeekFallbackInt3: where no window can be patched (add rdx, 1 is 4
// bytes, so an instruction starts in the jmp's top displacement byte),
// the int3 and single-step path still stops exactly.
func TestSeekFallbackInt3(t *testing.T) {
	code := probe.FalseshareLoop()
	const n, i = 2000, 1234
	p := newSeekProbe(t, code)
	if err := matcher.Patchable(code[3:], probe.Code+3); err == nil {
		t.Fatal("add rdx, 1 is patchable")
	}
	set := func(rdx uint64) func(r *kvm.Regs) {
		return func(r *kvm.Regs) { r.RCX, r.RDX, r.RSI = seekWord, rdx, n }
	}
	// From the end of iteration i-1 (cmp; jne; mov) to add rdx, 1 in
	// iteration i, with the flags of the cmp.
	binary.LittleEndian.PutUint64(p.M.Memory().Host()[seekWord:], i)
	want := p.stepped(p.regsAt(0x0e, set(i)), 3)
	binary.LittleEndian.PutUint64(p.M.Memory().Host()[seekWord:], 0)
	exits := p.seekFrom(p.regsAt(0, set(0)), want)
	if exits < i {
		t.Errorf("%d exits: the int3 path should trap at every pass", exits)
	}
}

// windowAt builds a matcher for code fetched at rip, its region a page
// near it: the window it patches is in its Offs and Patch.
func windowAt(t *testing.T, code []byte, rip uint64) *matcher.Matcher {
	t.Helper()
	mt, err := matcher.Build(code, &replaylog.Regs{RIP: rip}, rip&^0xfff+1<<20)
	if err != nil {
		t.Fatalf("window at %#x: %v", rip, err)
	}
	return mt
}

// TestSeekSettledKick is the recorder's path: the vCPU runs the
// falseshare loop natively, is kicked at an arbitrary instruction,
// settle steps it to a patchable one, and replay seeks that state from
// the loop's start with a couple of exits.
func TestSeekSettledKick(t *testing.T) {
	p := newSeekProbe(t, probe.FalseshareLoop())
	start := p.regsAt(0, func(r *kvm.Regs) { r.RCX, r.RDX, r.RSI = seekWord, 0, 1<<40 })
	p.SetRegs(0, start)
	tid := unix.Gettid() // the test's thread is locked (newSeekProbe)
	go func() {
		time.Sleep(50 * time.Millisecond)
		unix.Tgkill(unix.Getpid(), tid, unix.SIGURG)
	}()
	t0 := time.Now()
	if errno := p.c.KVM().Run(); errno != unix.EINTR {
		t.Fatalf("KVM_RUN: %v, want EINTR from the kick", errno)
	}
	native := time.Since(t0)
	kicked := p.Regs(0)
	if errno := record.Settle(p.M, p.c); errno != unix.EINTR {
		t.Fatalf("settle: %v", errno)
	}
	want := p.Regs(0)
	word := p.Word(seekWord)
	code := p.M.Memory().Host()[want.RIP:][:matcher.WindowFetch]
	if err := matcher.Patchable(code, want.RIP); err != nil {
		t.Fatalf("settled at +%#x: %v", want.RIP-probe.Code, err)
	}
	t.Logf("kicked at +%#x after %d iterations (%v), settled at +%#x", kicked.RIP-probe.Code, kicked.RDX, native, want.RIP-probe.Code)
	binary.LittleEndian.PutUint64(p.M.Memory().Host()[seekWord:], 0)
	t0 = time.Now()
	wantExits(t, p.seekFrom(start, want), 2)
	t.Logf("seek %v, %.2fx the native run", time.Since(t0), float64(time.Since(t0))/float64(native))
	if got := p.Word(seekWord); got != word {
		t.Errorf("word %d after the seek, %d when kicked", got, word)
	}
}

// repLoop assembles "again: <setup>; <rep>; <next>; jnz again; out;
// jmp $" and returns it with the offset of the REP instruction.
func repLoop(setup, rep, next []byte) ([]byte, uint64) {
	code := append(append([]byte(nil), setup...), rep...)
	at := uint64(len(setup))
	code = append(code, next...)
	code = append(code, 0x75, byte(-(len(code) + 2)), 0xef, 0xeb, 0xfe)
	return code, at
}

var (
	movRDIRSI = []byte{0x48, 0x89, 0xf7}             // mov rdi, rsi
	movECX    = []byte{0xb9, 0x00, 0x40, 0x00, 0x00} // mov ecx, seekBufLen
	cmpRBX0   = []byte{0x48, 0x83, 0xfb, 0x00}       // cmp rbx, 0: the flags depend on rbx only
	decRBX    = []byte{0x48, 0xff, 0xcb}             // dec rbx
)

// TestSeekRepString: positions in the middle of rep stosb, rep movsb and
// rep movsq over 4 pages, forwards and backwards, in the third of eight
// arrivals: the matcher tells arrivals apart natively, then the VMM runs
// the iterations before the position in one go. Where the REP
// instruction cannot be patched (rep movsq; cld: an instruction starts 4
// bytes in), an int3 on it costs two exits an arrival: six here.
func TestSeekRepString(t *testing.T) {
	movs := func(count byte) []byte { // mov rsi, r8; mov rdi, r9; mov ecx, count<<8; cmp rbx, 0
		return append([]byte{0x4c, 0x89, 0xc6, 0x4c, 0x89, 0xcf, 0xb9, 0x00, count, 0, 0}, cmpRBX0...)
	}
	stos := append(append(append([]byte(nil), movRDIRSI...), movECX...), cmpRBX0...)
	cld := []byte{0xfc}
	for _, c := range []struct {
		name         string
		setup, rep   []byte
		next         []byte // after the REP instruction, before dec rbx
		df           bool
		iters, exits int
	}{
		{"rep stosb", stos, []byte{0xf3, 0xaa}, nil, false, 10_000, 2},
		{"rep stosb, DF", stos, []byte{0xf3, 0xaa}, nil, true, 10_000, 2},
		{"rep stosb, a32", stos, []byte{0x67, 0xf3, 0xaa}, nil, false, 10_000, 2},
		{"rep movsb", movs(0x40), []byte{0xf3, 0xa4}, nil, false, 10_000, 2},
		{"rep movsb, DF", movs(0x40), []byte{0xf3, 0xa4}, nil, true, 10_000, 2},
		{"rep movsq", movs(0x08), []byte{0xf3, 0x48, 0xa5}, nil, false, 1500, 2},
		{"rep movsq; cld, not patchable", movs(0x08), []byte{0xf3, 0x48, 0xa5}, cld, false, 1500, 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, at := repLoop(c.setup, c.rep, append(append([]byte(nil), c.next...), decRBX...))
			if err := matcher.Patchable(code[at:], probe.Code+at); (err == nil) != (c.next == nil) {
				t.Fatalf("patchable: %v", err)
			}
			p := newSeekProbe(t, code)
			ram := p.M.Memory().Host()
			for i := range seekBufLen {
				ram[seekSrc+i] = byte(i*7 + 1)
			}
			set := func(rbx uint64) func(r *kvm.Regs) {
				return func(r *kvm.Regs) {
					r.RAX, r.RBX = 0x5a, rbx
					r.RSI, r.R8, r.R9 = seekDst, seekSrc, seekDst
					if c.df {
						r.RFLAGS |= matcher.RFLAGSDF
						r.RSI, r.R8, r.R9 = seekDst+seekBufLen-1, seekSrc+seekBufLen-1, seekDst+seekBufLen-1
					}
				}
			}
			const arrivals, third = 8, 6 // rbx counts down: the third arrival has rbx 6
			want := p.stepped(p.regsAt(0, set(third)), setupLen(c.setup)+c.iters)
			if want.RIP != probe.Code+at {
				t.Fatalf("the position is at +%#x, not on the REP instruction at +%#x", want.RIP-probe.Code, at)
			}
			clear(ram[seekDst : seekDst+seekBufLen])
			wantExits(t, p.seekFrom(p.regsAt(0, set(arrivals)), want), c.exits)
			if r := p.runToMarker(); r.RBX != 0 || r.RCX != 0 {
				t.Errorf("after the seek the loop ends with rbx %d rcx %d", r.RBX, r.RCX)
			}
			if !bytes.Equal(ram[seekDst:seekDst+seekBufLen], want0(ram, c.rep)) {
				t.Error("the destination differs from what the loop writes")
			}
		})
	}
}

// want0 is what a REP test loop leaves in the destination: its fill
// byte for stos, the source for movs.
func want0(ram, rep []byte) []byte {
	if rep[len(rep)-1] == 0xaa {
		return bytes.Repeat([]byte{0x5a}, seekBufLen)
	}
	return ram[seekSrc : seekSrc+seekBufLen]
}

// setupLen counts the instructions of a REP test's setup.
func setupLen(setup []byte) int {
	n := 0
	for off := 0; off < len(setup); n++ {
		inst, err := x86asm.Decode(setup[off:], 64)
		if err != nil {
			panic(err)
		}
		off += inst.Len
	}
	return n
}

// TestSeekRepScan: a position in the middle of repne scasb, forwards and
// backwards, in an arrival whose registers equal those of the two before
// it: those stop early, on bytes the loop then clears, and the VMM must
// tell it from the iterations it runs.
func TestSeekRepScan(t *testing.T) {
	for _, df := range []bool{false, true} {
		name := map[bool]string{false: "forwards", true: "backwards"}[df]
		t.Run(name, func(t *testing.T) {
			clearFound := []byte{0xc6, 0x47, 0xff, 0x00} // mov byte [rdi-1], 0
			if df {
				clearFound = []byte{0xc6, 0x47, 0x01, 0x00} // mov byte [rdi+1], 0
			}
			next := append(clearFound, 0x48, 0xff, 0x0a) // dec qword [rdx]
			code, at := repLoop(append(append([]byte(nil), movRDIRSI...), movECX...), []byte{0xf2, 0xae}, next)
			p := newSeekProbe(t, code)
			ram := p.M.Memory().Host()
			found := []uint64{1000, 5000, 12000}
			byteAt := func(i uint64) uint64 {
				if df {
					return seekSrc + seekBufLen - 1 - i
				}
				return seekSrc + i
			}
			fill := func(from int) {
				clear(ram[seekSrc : seekSrc+seekBufLen])
				for _, i := range found[from:] {
					ram[byteAt(i)] = 0x55
				}
				binary.LittleEndian.PutUint64(ram[seekWord:], 100)
			}
			set := func(r *kvm.Regs) {
				r.RAX, r.RDX, r.RSI = 0x55, seekWord, byteAt(0)
				if df {
					r.RFLAGS |= matcher.RFLAGSDF
				}
			}
			const iters = 9000 // in the third arrival, past where the first two stop
			fill(2)
			want := p.stepped(p.regsAt(0, set), 2+iters)
			if want.RIP != probe.Code+at || want.RCX != seekBufLen-iters {
				t.Fatalf("the position is at +%#x rcx %d", want.RIP-probe.Code, want.RCX)
			}
			fill(0)
			wantExits(t, p.seekFrom(p.regsAt(0, set), want), 6)
			for _, i := range found[:2] {
				if ram[byteAt(i)] != 0 {
					t.Errorf("byte %d not cleared by the arrival that found it", i)
				}
			}
			if ram[byteAt(found[2])] != 0x55 {
				t.Errorf("byte %d cleared before the position", found[2])
			}
		})
	}
}

// TestSeekBranchMisaligned: past an unconditional jmp the window's
// decode can disagree with the code a branch really lands on (here bytes
// that decode as a mov imm32 hold an inc rax two bytes in). The int3
// there is no instruction boundary of the window: the VMM single-steps
// the original instructions out of it, and the seek stays exact.
func TestSeekBranchMisaligned(t *testing.T) {
	code := []byte{
		0x90,       // 0x00: nop <- the position; the window is nop; jmp; "mov"
		0xeb, 0x05, // 0x01: jmp 0x08
		0xb8, 0x90, // 0x03: decodes as mov eax, imm32 ...
		0x48, 0xff, 0xc0, // 0x05: ... but a branch runs inc rax here
		0x48, 0xff, 0xcb, // 0x08: dec rbx
		0x74, 0x0a, // 0x0b: jz 0x17
		0xf6, 0xc3, 0x0f, // 0x0d: test bl, 0x0f
		0x75, 0xf3, // 0x10: jnz 0x05, into the window
		0xeb, 0xec, // 0x12: jmp 0x00, every 16th pass
		0x90, 0x90, 0x90,
		0xef,       // 0x17: out
		0xeb, 0xfe, // 0x18: jmp $
	}
	if mt := windowAt(t, code, probe.Code); len(mt.Patch) != 8 {
		t.Fatalf("window of %d bytes, want 8", len(mt.Patch))
	}
	const n, m = 320, 10 // the m-th arrival at the nop: rbx = n-16(m-1), rax = 15(m-1)
	p := newSeekProbe(t, code)
	want := p.stepped(p.regsAt(8, func(r *kvm.Regs) { r.RAX, r.RBX = 15*(m-1), n-16*(m-1)+1 }), 5)
	if want.RIP != probe.Code {
		t.Fatalf("the position is at +%#x", want.RIP-probe.Code)
	}
	exits := p.seekFrom(p.regsAt(0, func(r *kvm.Regs) { r.RAX, r.RBX = 0, n }), want)
	wantExits(t, exits, 2*15*(m-1)+2)
	if r := p.runToMarker(); r.RAX != n-n/16 || r.RBX != 0 {
		t.Errorf("after the seek the loop ends with rax %d rbx %d, want %d 0", r.RAX, r.RBX, n-n/16)
	}
}

// TestSeekMatcherMisses runs loops to their end with a matcher installed
// that never hits, on each instruction in turn: millions of passes
// through the trampoline must leave every register, the flags and memory
// as the native run does. It logs what the passes cost. (Not on the
// loops' jnz: its window takes in the out after the loop, which then
// traps in the trampoline; a seek would call that a divergence.)
func TestSeekMatcherMisses(t *testing.T) {
	const n = 5_000_000
	for _, tc := range []struct {
		name    string
		code    []byte
		offs    []uint64
		counter int // the GPR that counts iterations
		set     func(r *kvm.Regs)
	}{
		{"falseshare", probe.FalseshareLoop(), []uint64{0, 0x0b, 0x0e}, 2, func(r *kvm.Regs) { r.RCX, r.RDX, r.RSI = seekWord, 0, n }},
		{"inc; dec; jnz", []byte{0x48, 0xff, 0xc0, 0x48, 0xff, 0xcb, 0x75, 0xf8, 0xef, 0xeb, 0xfe}, []uint64{0, 3}, 0,
			func(r *kvm.Regs) { r.RAX, r.RBX, r.RCX = 0, n, 12345 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newSeekProbe(t, tc.code)
			run := func() (*kvm.Regs, uint64, time.Duration) {
				binary.LittleEndian.PutUint64(p.M.Memory().Host()[seekWord:], 0)
				p.SetRegs(0, p.regsAt(0, tc.set))
				t0 := time.Now()
				r := p.runToMarker()
				return r, p.Word(seekWord), time.Since(t0)
			}
			native, word, took := run()
			for range 2 {
				_, _, d := run()
				took = min(took, d)
			}
			for _, off := range tc.offs {
				// As a seek would have it: the counter differs from
				// the start; rbx too, so that no pass matches.
				never := crewview.LogRegs(p.regsAt(off, tc.set))
				never.GPR[tc.counter] = n / 2
				never.GPR[3] ^= 1 << 62
				from := crewview.LogRegs(p.regsAt(0, tc.set))
				bp, err := p.e.insertBreakpoint(p.c, &never, &from)
				if err != nil || bp.mt == nil {
					t.Fatalf("+%#x: no matcher: %v", off, err)
				}
				got, gotWord, d := run()
				for range 2 {
					_, _, d2 := run()
					d = min(d, d2)
				}
				if err := bp.remove(p.e); err != nil {
					t.Fatal(err)
				}
				g, w := crewview.LogRegs(got), crewview.LogRegs(native)
				if g != w || gotWord != word {
					t.Errorf("+%#x: the loop ends at\n%+v word %d\nnatively at\n%+v word %d", off, g, gotWord, w, word)
				}
				t.Logf("matcher at +%#x: %v for %d passes, %.2fx the native %v", off, d, n, float64(d)/float64(took), took)
			}
		})
	}
}
