package machine_test

// Probes of the CREW enforcement primitives on the host's /dev/kvm: what a
// protected access produces, memory slots as the alternative, guest
// debugging, the dirty log, and what each costs as a ratio to a plain
// HC_TIME hypercall exit. crew/HOSTFACTS.md records the results; reproduce
// them with
//
//	go test ./vmm/machine -run 'CREWProbe|DecodeAccesses' -v -count=1
//
// The tests assert only what the recorder relies on (and what holds on any
// host); the rest they report, so that a different host is described
// rather than failed.

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/crewvm/crewvm/vmm/engine/run"

	"golang.org/x/arch/x86/x86asm"
	"golang.org/x/sys/unix"

	gokvm "github.com/bobuhiro11/gokvm/kvm"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/vmm/abi"
	"github.com/crewvm/crewvm/vmm/internal/probe"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/machine"
	"github.com/crewvm/crewvm/vmm/x86"
)

// Snippets, hand-assembled. "out" (0xef) with DX = the hypercall port is a
// marker the probe steps over (or a hypercall the VMM serves).
var (
	// mov rax, [rbx]; out; jmp back
	snipRead = []byte{0x48, 0x8b, 0x03, 0xef, 0xeb, 0xfa}
	// mov [rbx], rax; out; jmp back
	snipWrite = []byte{0x48, 0x89, 0x03, 0xef, 0xeb, 0xfa}
	// jmp rbx, to a page holding snipFetchTarget
	snipFetch = []byte{0xff, 0xe3}
	// out; jmp rcx (back to snipFetch)
	snipFetchTarget = []byte{0xef, 0xff, 0xe1}
	// mov eax, HC_TIME; out; jmp back
	snipTime = []byte{0xb8, abi.HCTime, 0, 0, 0, 0xef, 0xeb, 0xf8}
	// 0: mov [rbx], rax    write page A
	// 3: mov [rcx], rax    write page B
	// 6: mov rsi, r8       then touch r9 pages from r8 on
	// 9: mov rdi, r9
	// c: test rdi, rdi
	// f: jz 0x20
	// 11: mov [rsi], rax
	// 14: add rsi, 0x1000
	// 1b: dec rdi
	// 1e: jmp 0xc
	// 20: jmp 0
	snipPingPong = []byte{
		0x48, 0x89, 0x03, 0x48, 0x89, 0x01, 0x4c, 0x89, 0xc6, 0x4c, 0x89, 0xcf,
		0x48, 0x85, 0xff, 0x74, 0x0f, 0x48, 0x89, 0x06, 0x48, 0x81, 0xc6, 0x00, 0x10, 0x00, 0x00,
		0x48, 0xff, 0xcf, 0xeb, 0xec, 0xeb, 0xde,
	}
	// nop; nop; nop; mov [rbx], rax; rep stosb; out; jmp back
	snipSteps = []byte{0x90, 0x90, 0x90, 0x48, 0x89, 0x03, 0xf3, 0xaa, 0xef, 0xeb, 0xf5}
	// nop; jmp back
	snipSpin = []byte{0x90, 0xeb, 0xfd}
	// int3; jmp back
	snipInt3 = []byte{0xcc, 0xeb, 0xfd}
)

// table collects a markdown table for the test log.
type table struct {
	head string
	rows []string
}

func (tb *table) add(cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = fmt.Sprint(c)
	}
	tb.rows = append(tb.rows, "| "+strings.Join(s, " | ")+" |")
}

func (tb *table) log(t *testing.T) {
	cols := strings.Count(tb.head, "|") - 1
	t.Logf("\n%s\n|%s\n%s", tb.head, strings.Repeat(" --- |", cols), strings.Join(tb.rows, "\n"))
}

// TestCREWProbeProtect: mprotect on vCPU 0's mapping of a page while vCPU
// 1's stays read-write. What does each access produce, does the other vCPU
// run on, and does granting access and re-entering finish the instruction?
func TestCREWProbeProtect(t *testing.T) {
	probe.LockThread(t)
	tb := table{head: "| access | vCPU 0 view | vCPU 0 gets | decoded from RIP | vCPU 1 (RW view) | after restoring RW, re-enter |"}
	prots := map[int]string{unix.PROT_NONE: "PROT_NONE", unix.PROT_READ: "PROT_READ"}
	for _, tc := range []struct {
		access string
		prot   int
	}{
		{"read", unix.PROT_NONE}, {"read", unix.PROT_READ},
		{"write", unix.PROT_NONE}, {"write", unix.PROT_READ},
		{"fetch", unix.PROT_NONE}, {"fetch", unix.PROT_READ},
	} {
		p := probe.New(t, 2)
		target := uint64(probe.A + 8)
		switch tc.access {
		case "read":
			p.Load(probe.Code, snipRead)
		case "write":
			p.Load(probe.Code, snipWrite)
		case "fetch":
			p.Load(probe.Code, snipFetch)
			p.Load(probe.A, snipFetchTarget)
			target = probe.A
		}
		for cpu := 0; cpu < 2; cpu++ {
			p.Start(cpu, probe.Code, func(r *kvm.Regs) { r.RBX, r.RCX, r.RAX = target, probe.Code, probe.Store })
		}
		p.Protect(0, probe.A, tc.prot)
		o := p.Run(0)
		decoded := "-"
		if o.Errno != 0 {
			decoded = decodedPage(p, o.RIP)
		}
		// vCPU 1 must not notice vCPU 0's protection.
		binary.LittleEndian.PutUint64(p.M.Memory().Host()[probe.A+8:], probe.Value)
		o1 := p.Run(1)
		if !p.AtMarker(1, o1) {
			t.Errorf("%s: vCPU 1 with a read-write view did not complete: %v", tc.access, o1)
		}
		if r := p.Regs(1); tc.access == "read" && r.RAX != probe.Value {
			t.Errorf("read: vCPU 1 read %#x, want %#x", r.RAX, probe.Value)
		}
		blocked := o.Errno != 0 || o.Reason == kvm.ExitMMIO || o.Reason == kvm.ExitInternalError
		after := "-"
		if blocked {
			if o.Errno == 0 && o.Reason == kvm.ExitMMIO {
				after = "(MMIO: the VMM completes it)"
			} else {
				p.Protect(0, probe.A, unix.PROT_READ|unix.PROT_WRITE)
				binary.LittleEndian.PutUint64(p.M.Memory().Host()[probe.A+8:], probe.Value)
				o2 := p.Run(0)
				after = "completes natively"
				switch {
				case !p.AtMarker(0, o2):
					after = "does not complete: " + o2.String()
				case tc.access == "read" && p.Regs(0).RAX != probe.Value:
					after = fmt.Sprintf("read %#x, want %#x", p.Regs(0).RAX, probe.Value)
				case tc.access == "write" && p.Word(probe.A+8) != probe.Store:
					after = fmt.Sprintf("memory holds %#x, want %#x", p.Word(probe.A+8), probe.Store)
				}
				if after != "completes natively" {
					t.Errorf("%s under %s: after granting access the instruction %s", tc.access, prots[tc.prot], after)
				}
			}
		}
		wantBlocked := tc.prot == unix.PROT_NONE || tc.access == "write"
		if wantBlocked && !blocked {
			t.Errorf("%s under %s was not stopped: %v", tc.access, prots[tc.prot], o)
		}
		if wantBlocked && o.Errno != 0 && !strings.HasPrefix(decoded, fmt.Sprintf("%#x", probe.A)) {
			t.Errorf("%s under %s: the faulting page is not recoverable from RIP: %s", tc.access, prots[tc.prot], decoded)
		}
		tb.add(tc.access, prots[tc.prot], o, decoded, o1, after)
	}
	tb.log(t)
}

// TestCREWProbeRevokeRunning: mprotect on the mapping of a vCPU that is
// running in the guest takes effect when mprotect returns: its stores stop
// and it leaves KVM_RUN with the same EFAULT.
func TestCREWProbeRevokeRunning(t *testing.T) {
	p := probe.New(t, 1)
	// inc qword [rbx]; jmp back
	p.Load(probe.Code, []byte{0x48, 0xff, 0x03, 0xeb, 0xfb})
	p.Start(0, probe.Code, func(r *kvm.Regs) { r.RBX = probe.A })
	v := p.VCPU(0)
	done := make(chan unix.Errno)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		done <- probe.Enter(v)
	}()
	for p.Word(probe.A) < 1000 {
		select {
		case errno := <-done:
			t.Fatalf("the vCPU stopped before its page was protected: %v", errno)
		default:
			runtime.Gosched()
		}
	}
	if err := p.View(0).Protect(probe.A, machine.PageSize, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	v1 := p.Word(probe.A)
	var errno unix.Errno
	select {
	case errno = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the vCPU kept running after its page was made read-only")
	}
	v2 := p.Word(probe.A)
	how := fmt.Sprintf("exit %d", v.RunData().ExitReason)
	if errno != 0 {
		how = unix.ErrnoName(errno)
	}
	if (errno != unix.EFAULT && (errno != 0 || v.RunData().ExitReason != kvm.ExitMMIO)) || v1 != v2 {
		t.Errorf("KVM_RUN %s; counter %d when mprotect returned, %d after", how, v1, v2)
	}
	t.Logf("running vCPU: KVM_RUN %s at RIP %#x after %d increments; none after mprotect returned: %v", how, p.Regs(0).RIP, v1, v1 == v2)
}

// decodedPage names the page a vCPU that failed KVM_RUN with EFAULT at rip
// wanted: rip's own page when the fetch itself faults (the instruction
// cannot be read through the host view, or starts the page), else the
// pages of the memory operands x86.DecodeAccesses finds.
func decodedPage(p *probe.P, rip uint64) string {
	code, err := p.M.Memory().Slice(rip, min(15, probe.Mem-rip))
	if err != nil {
		return err.Error()
	}
	r := p.Regs(0)
	// The VMM knows which pages it revoked; for the probe that is page A.
	if rip&^(machine.PageSize-1) == probe.A {
		return fmt.Sprintf("%#x (fetch: RIP is in the page)", probe.A)
	}
	inst, acc, err := decodeLinear(code, r)
	if err != nil {
		return err.Error()
	}
	var s []string
	for _, a := range acc {
		s = append(s, fmt.Sprintf("%#x (%v: %d-byte %s at %#x)", a.Addr&^(machine.PageSize-1), inst, a.Size, a.Kind, a.Addr))
	}
	return strings.Join(s, ", ")
}

// TestCREWProbeSlots: a vCPU's view through memory slots instead: page A
// as a hole (no slot) or a KVM_MEM_READONLY slot.
func TestCREWProbeSlots(t *testing.T) {
	probe.LockThread(t)
	tb := table{head: "| access | page A in vCPU 0's VM | exit | after the VMM serves it and re-enters |"}
	for _, tc := range []struct {
		access string
		hole   bool
	}{
		{"read", true}, {"write", true}, {"fetch", true},
		{"read", false}, {"write", false}, {"fetch", false},
	} {
		p := probe.New(t, 1)
		target := uint64(probe.A + 8)
		switch tc.access {
		case "read":
			p.Load(probe.Code, snipRead)
		case "write":
			p.Load(probe.Code, snipWrite)
		case "fetch":
			p.Load(probe.Code, snipFetch)
			p.Load(probe.A, snipFetchTarget)
			target = probe.A
		}
		p.Start(0, probe.Code, func(r *kvm.Regs) { r.RBX, r.RCX, r.RAX = target, probe.Code, probe.Store })
		p.Slot(0, 0, 0, 0, 0)
		p.Slot(0, 0, 0, 0, probe.A)
		p.Slot(0, 2, 0, probe.A+machine.PageSize, probe.Mem-probe.A-machine.PageSize)
		view := "hole"
		if !tc.hole {
			view = "read-only slot"
			p.Slot(0, 1, kvm.SlotReadonly, probe.A, machine.PageSize)
		}
		o := p.Run(0)
		after := "-"
		switch {
		case o.Errno == 0 && o.Reason == kvm.ExitMMIO && !o.Write:
			// Supply the data from the VMM's view; KVM finishes the load.
			binary.LittleEndian.PutUint64((*[8]byte)(unsafe.Pointer(&p.VCPU(0).RunData().Data[1]))[:], p.Word(o.GPA))
			o2 := p.Run(0)
			after = fmt.Sprintf("load completes with the VMM's data: %v", p.AtMarker(0, o2) && p.Regs(0).RAX == probe.Value)
		case o.Errno == 0 && o.Reason == kvm.ExitMMIO && o.Write:
			after = fmt.Sprintf("RIP already past the store (%v); the VMM must store the data itself", o.RIP == probe.Code+3)
		case o.Reason == kvm.ExitInternalError:
			p.Slot(0, 1, 0, probe.A, machine.PageSize)
			after = fmt.Sprintf("after adding a RW slot: %v", p.Run(0))
		case p.AtMarker(0, o):
			after = "ran natively"
		}
		if tc.access != "fetch" && (tc.hole || tc.access == "write") {
			if o.Reason != kvm.ExitMMIO || o.GPA != target || o.Write != (tc.access == "write") {
				t.Errorf("%s of a %s: %v, want KVM_EXIT_MMIO at %#x", tc.access, view, o, target)
			}
		}
		tb.add(tc.access, view, o, after)
	}
	tb.log(t)
}

// TestCREWProbeDebug: single-step, hardware breakpoints and software
// breakpoints, for replaying state-matched positions.
func TestCREWProbeDebug(t *testing.T) {
	probe.LockThread(t)
	tb := table{head: "| mechanism | result |"}
	set := func(r *kvm.Regs) { r.RBX, r.RDI, r.RCX = probe.A+8, probe.A+0x100, 3 }
	// Expected stops when stepping snipSteps: three nops, the store, then
	// rep stosb once per iteration (RCX 3, 2, 1), then the out.
	wantRIPs := []uint64{1, 2, 3, 6, 6, 6, 8}
	wantRCX := []uint64{3, 3, 3, 3, 2, 1, 0}
	// rearm runs after the VMM moved RIP with KVM_SET_REGS.
	step := func(p *probe.P, rearm func()) (string, bool) {
		var got []string
		ok := true
		for i := range wantRIPs {
			o := p.Run(0)
			r := p.Regs(0)
			got = append(got, fmt.Sprintf("+%d/rcx%d", o.RIP-probe.Code, r.RCX))
			if o.Reason != kvm.ExitShutdown || o.Vector != 1 || o.RIP != probe.Code+wantRIPs[i] || r.RCX != wantRCX[i] {
				ok = false
				got = append(got, "("+o.String()+")")
				break
			}
		}
		if ok {
			// The out traps (#GP); the VMM completes it with
			// KVM_SET_REGS, and stepping must go on from there.
			o := p.Run(0)
			ok = o.Vector == 13 && o.RIP == probe.Code+8 && p.AtMarker(0, o)
			got = append(got, fmt.Sprintf("out(#GP %v)", ok))
			rearm()
			o = p.Run(0)
			got = append(got, fmt.Sprintf("+%d", o.RIP-probe.Code))
			if o.Reason != kvm.ExitShutdown || o.Vector != 1 || o.RIP != probe.Code {
				ok = false
				got = append(got, "("+o.String()+")")
			}
		}
		return fmt.Sprintf("%s: stops %s", map[bool]string{true: "exact, REP per iteration", false: "NOT as expected"}[ok], strings.Join(got, " ")), ok
	}

	p := probe.New(t, 1)
	p.Load(probe.Code, snipSteps)
	p.Start(0, probe.Code, func(r *kvm.Regs) { set(r); r.RFLAGS |= 1 << 8 })
	res, ok := step(p, func() {})
	if probe.IsPVM() && !ok {
		t.Errorf("single-step with RFLAGS.TF: %s", res)
	}
	tb.add("RFLAGS.TF set by the VMM (#DB: shutdown, vector 1)", res)

	p = probe.New(t, 1)
	p.Load(probe.Code, snipSteps)
	p.Start(0, probe.Code, set)
	single := func() error { return p.VCPU(0).SetGuestDebug(kvm.DebugEnable|kvm.DebugSingleStep, [8]uint64{}) }
	if err := single(); err != nil {
		tb.add("KVM_GUESTDBG_SINGLESTEP", err)
	} else {
		res, _ := step(p, func() {})
		tb.add("KVM_GUESTDBG_SINGLESTEP", res)
		p = probe.New(t, 1)
		p.Load(probe.Code, snipSteps)
		p.Start(0, probe.Code, set)
		if err := single(); err != nil {
			t.Fatal(err)
		}
		res, _ = step(p, func() {
			if err := single(); err != nil {
				t.Fatal(err)
			}
		})
		tb.add("KVM_GUESTDBG_SINGLESTEP, re-issued after each KVM_SET_REGS", res)
	}

	// Hardware breakpoints: DR0 on the third nop (execute), DR1 on the
	// store's target (write, 8 bytes), through KVM_SET_GUEST_DEBUG and
	// through the guest's own debug registers.
	dr7 := uint64(1<<0 | 1<<2 | 1<<20 | 3<<22)
	for _, how := range []string{"KVM_GUESTDBG_USE_HW_BP", "KVM_SET_DEBUGREGS (guest DR0-DR7)"} {
		p = probe.New(t, 1)
		p.Load(probe.Code, snipSteps)
		p.Start(0, probe.Code, set)
		var err error
		if how == "KVM_GUESTDBG_USE_HW_BP" {
			err = p.VCPU(0).SetGuestDebug(kvm.DebugEnable|kvm.DebugUseHWBP, [8]uint64{probe.Code + 2, probe.A + 8, 0, 0, 0, 0, 0, dr7})
		} else {
			var d gokvm.DebugRegs
			if err = gokvm.GetDebugRegs(p.VCPU(0).Fd(), &d); err == nil {
				d.DB[0], d.DB[1], d.DR7 = probe.Code+2, probe.A+8, 0x400|dr7
				err = gokvm.SetDebugRegs(p.VCPU(0).Fd(), &d)
			}
		}
		if err != nil {
			tb.add(how, err)
			continue
		}
		o := p.Run(0)
		fired := o.Reason == kvm.ExitDebug || (o.Reason == kvm.ExitShutdown && o.Vector == 1)
		tb.add(how+": execute bp at +2, write watchpoint on the store", fmt.Sprintf("fires: %v (%v)", fired, o))
	}

	// Software breakpoint: int3 written into a private copy-on-write copy
	// of the code page in vCPU 0's mapping only.
	p = probe.New(t, 2)
	p.Load(probe.Code, snipSteps)
	p.Start(0, probe.Code, set)
	p.Start(1, probe.Code, set)
	if _, err := unix.MmapPtr(p.M.Memory().Fd(), probe.Code, unsafe.Pointer(&p.View(0).Bytes()[probe.Code]), machine.PageSize,
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
		t.Fatal(err)
	}
	p.View(0).Bytes()[probe.Code+2] = 0xcc
	o0, o1 := p.Run(0), p.Run(1)
	ok = o0.Reason == kvm.ExitShutdown && o0.Vector == 3 && o0.RIP == probe.Code+3 &&
		o1.Reason == kvm.ExitShutdown && o1.Vector == 13 && o1.RIP == probe.Code+8 && p.M.Memory().Host()[probe.Code+2] == 0x90
	if probe.IsPVM() && !ok {
		t.Errorf("int3 in vCPU 0's private code page: vCPU 0 %v, vCPU 1 %v", o0, o1)
	}
	tb.add("int3 in a MAP_PRIVATE copy of the code page in vCPU 0's view",
		fmt.Sprintf("vCPU 0: %v (after the int3); vCPU 1 and the shared page unaffected: %v", o0, ok))
	tb.log(t)
}

// TestCREWProbeDirtyLog: is each VM's dirty log exactly its own vCPU's
// writes?
func TestCREWProbeDirtyLog(t *testing.T) {
	probe.LockThread(t)
	tb := table{head: "| round | vCPU 0 (writes A) log | vCPU 1 (writes B) log |"}
	p := probe.New(t, 2)
	p.Load(probe.Code, snipWrite)
	p.Start(0, probe.Code, func(r *kvm.Regs) { r.RBX = probe.A })
	p.Start(1, probe.Code, func(r *kvm.Regs) { r.RBX = probe.B })
	bm := make([]uint64, probe.Mem/machine.PageSize/64)
	for cpu := 0; cpu < 2; cpu++ {
		p.Slot(cpu, 0, kvm.SlotLogDirty, 0, probe.Mem)
		if err := p.VCPU(cpu).DirtyLog(0, bm); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 3; round++ {
		if round == 2 {
			p.M.Memory().Host()[probe.C] = 1 // the VMM's own store is in no log
		}
		var logs [2][]uint64
		for cpu := 0; cpu < 2; cpu++ {
			if o := p.Run(cpu); !p.AtMarker(cpu, o) {
				t.Fatalf("vCPU %d: %v", cpu, o)
			}
			clear(bm)
			if err := p.VCPU(cpu).DirtyLog(0, bm); err != nil {
				t.Fatal(err)
			}
			logs[cpu] = dirtyPages(bm)
		}
		if !slices.Contains(logs[0], probe.A) || slices.Contains(logs[0], probe.B) ||
			!slices.Contains(logs[1], probe.B) || slices.Contains(logs[1], probe.A) ||
			slices.Contains(logs[0], probe.C) || slices.Contains(logs[1], probe.C) {
			t.Errorf("round %d: logs %#x / %#x do not separate the vCPUs' writes", round, logs[0], logs[1])
		}
		tb.add(round, fmt.Sprintf("%#x", logs[0]), fmt.Sprintf("%#x", logs[1]))
	}
	tb.log(t)
}

func dirtyPages(bm []uint64) []uint64 {
	var out []uint64
	for i, w := range bm {
		for b := 0; b < 64; b++ {
			if w&(1<<b) != 0 {
				out = append(out, uint64(i*64+b)*machine.PageSize)
			}
		}
	}
	return out
}

// meter times operations against the baseline, interleaved: each rep
// times n HC_TIME exits, then n calls of the operation, and the result is
// the median of the per-rep ratios. The machine is shared with other
// work; interleaving lets a burst of load hit both sides alike.
type meter struct {
	reps, n int
	base    func()
}

// ratio is f's cost in HC_TIME exits.
func (m meter) ratio(f func()) float64 {
	return m.ratioTimed(func() time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	})
}

// ratioTimed is ratio for an f that times itself (leaving out its setup).
func (m meter) ratioTimed(f func() time.Duration) float64 {
	var rs []float64
	for range m.reps {
		start := time.Now()
		for range m.n {
			m.base()
		}
		b := time.Since(start)
		var d time.Duration
		for range m.n {
			d += f()
		}
		rs = append(rs, float64(d)/float64(b))
	}
	slices.Sort(rs)
	return rs[len(rs)/2]
}

// hcBaseline is one HC_TIME hypercall through the VMM's own exit path
// (handleExit; on PVM the trapped-instruction path), in a loop.
func hcBaseline(t *testing.T) func() {
	p := probe.New(t, 1)
	p.Load(probe.Code, snipTime)
	p.Start(0, probe.Code, nil)
	c := p.M.VCPUs()[0]
	e := run.New()
	if err := e.Start(p.M); err != nil {
		t.Fatal(err)
	}
	return func() {
		if errno := probe.Enter(c.KVM()); errno != 0 {
			t.Fatal(errno)
		}
		if err := machine.ServeExit(p.M, c, e); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCREWProbeCosts measures round trips and primitives as ratios to one
// HC_TIME hypercall exit served by the existing path (handleExit).
func TestCREWProbeCosts(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	if !probe.IsPVM() {
		t.Skip("the round trips below expect PVM's EFAULT; DESIGN.md section 3 describes hardware-assisted hosts")
	}
	probe.LockThread(t)
	m := meter{reps: 9, n: 150, base: hcBaseline(t)}
	tb := table{head: "| operation | HC_TIME exits | notes |"}
	add := func(what string, ratio float64, note string) { tb.add(what, fmt.Sprintf("%.2f", ratio), note) }
	fail := func(what string, err error) { tb.add(what, "-", err.Error()) }

	add("HC_TIME hypercall exit, served by handleExit", m.ratio(m.base), "baseline (1 by definition; shows the noise)")
	for _, ws := range []uint64{0, 128} {
		f, faults := mprotectPingPong(t, ws)
		add(fmt.Sprintf("mprotect write-fault round trip, %d-page working set", ws), m.ratio(f),
			"EFAULT, KVM_GET_REGS, decode, 2 mprotect, re-enter")
		if *faults == 0 {
			t.Error("mprotect ping-pong never faulted")
		}
	}
	for _, zapAll := range []bool{true, false} {
		for _, ws := range []uint64{0, 128} {
			what := fmt.Sprintf("read-only-slot write-fault round trip, %d-page working set, zap-all quirk %v", ws, zapAll)
			f, err := slotPingPong(t, ws, zapAll)
			if err != nil {
				fail(what, err)
				continue
			}
			add(what, m.ratio(f), "MMIO exit with data, VMM stores, 4 slot ioctls, re-enter")
		}
	}
	add("hole read: MMIO exit served, no slot change", m.ratio(holeRead(t)), "the trace-mode cost of one access")

	p := probe.New(t, 1)
	add("mprotect pair (PROT_READ, back to RW) on 4 KiB", m.ratio(func() {
		p.View(0).Protect(probe.A, machine.PageSize, unix.PROT_READ)
		p.View(0).Protect(probe.A, machine.PageSize, unix.PROT_READ|unix.PROT_WRITE)
	}), "")
	vmas, f, err := splitMapping(t)
	if err != nil {
		fail("mprotect pair in a split mapping", err)
	} else {
		add(fmt.Sprintf("mprotect pair with the vCPU's mapping split into %d VMAs", vmas), m.ratio(f), "vm.max_map_count bounds VMAs per process")
	}
	for _, zapAll := range []bool{true, false} {
		what := fmt.Sprintf("slot delete + create (one 4 KiB slot of 4), zap-all quirk %v", zapAll)
		p := probe.New(t, 1)
		v := p.VCPU(0)
		if !zapAll {
			if err := v.EnableCap(kvm.CapDisableQuirks2, kvm.QuirkSlotZapAll); err != nil {
				fail(what, err)
				continue
			}
		}
		p.Slot(0, 0, 0, 0, 0)
		p.Slot(0, 0, 0, 0, probe.A)
		p.Slot(0, 2, 0, probe.A+machine.PageSize, probe.Mem-probe.A-machine.PageSize)
		p.Slot(0, 1, 0, probe.A, machine.PageSize)
		add(what, m.ratio(func() {
			v.SetSlot(1, 0, 0, 0)
			v.SetSlot(1, 0, probe.A, machine.PageSize)
		}), "")
	}
	create, toggle, nslots, err := manySlots(t)
	if err != nil {
		fail("4 KiB slots over all RAM", err)
	} else {
		before := m.ratio(func() {})
		start := time.Now()
		create()
		d := time.Since(start) / time.Duration(nslots)
		add(fmt.Sprintf("create one 4 KiB slot, %d in a row (all 8 MiB of RAM)", nslots), m.ratioTimed(func() time.Duration { return d })-before, "the guest then runs on them")
		add(fmt.Sprintf("slot delete + create among %d slots", nslots), m.ratio(toggle), "")
	}
	add("KVM_GET_DIRTY_LOG of an 8 MiB slot", m.ratio(dirtyLogCost(t)), "")
	add("single-step (RFLAGS.TF) + KVM_GET_REGS", m.ratio(stepCost(t, snipSpin, true)), "")
	add("int3 hit + KVM_GET_REGS", m.ratio(stepCost(t, snipInt3, false)), "")
	var lost int
	kick, done := kicker(t, &lost)
	kicks := meter{reps: 5, n: 30, base: m.base}.ratioTimed(kick)
	done()
	add("kick: immediate_exit + tgkill until KVM_RUN returns EINTR", kicks, fmt.Sprintf("latency across threads; %d kicks lost (kicked again after 50 ms)", lost))
	code, _ := p.M.Memory().Slice(probe.Code, 15)
	copy(code, snipPingPong)
	regs := &kvm.Regs{RIP: probe.Code, RBX: probe.A, RCX: probe.B}
	add("decoding one instruction's accesses (x86.DecodeAccesses)", m.ratio(func() { decodeLinear(code, regs) }), "pure CPU")
	tb.log(t)
}

// TestCREWProbeMaxSlots fills a VM with 4 KiB slots up to KVM's limit
// (seconds; set CREWPROBE_MAXSLOTS=1 to run it).
func TestCREWProbeMaxSlots(t *testing.T) {
	if os.Getenv("CREWPROBE_MAXSLOTS") == "" {
		t.Skip("set CREWPROBE_MAXSLOTS=1")
	}
	probe.LockThread(t)
	m := meter{reps: 5, n: 200, base: hcBaseline(t)}
	mc, err := machine.New(machine.Config{CPUs: 1, MemSize: 128 << 20, Image: guest.Kernel})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	v := mc.VCPUs()[0].KVM()
	max, err := v.CheckExtension(kvm.CapNrMemslots)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.SetSlot(0, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n := 0
	for ; n <= max; n++ {
		if err := v.SetSlot(uint32(n), 0, uint64(n)*machine.PageSize, machine.PageSize); err != nil {
			t.Logf("slot %d refused: %v", n, err)
			break
		}
	}
	d := time.Since(start) / time.Duration(n)
	if n != max {
		t.Errorf("created %d slots, KVM_CAP_NR_MEMSLOTS says %d", n, max)
	}
	create := m.ratioTimed(func() time.Duration { return d }) - m.ratio(func() {})
	toggle := m.ratio(func() {
		v.SetSlot(100, 0, 0, 0)
		v.SetSlot(100, 0, 100*machine.PageSize, machine.PageSize)
	})
	t.Logf("KVM_CAP_NR_MEMSLOTS %d; created %d 4 KiB slots at %.2f HC_TIME exits each; delete + create among them: %.2f",
		max, n, create, toggle)
}

// mprotectPingPong: vCPU 0 writes A then B (then ws more pages) in a loop;
// the VMM keeps one of A and B writable and the other read-only, so each
// store to the other page is an EFAULT that the VMM resolves by decoding
// the instruction, swapping the protections and re-entering. One call is
// one fault.
func mprotectPingPong(t *testing.T, ws uint64) (func(), *int) {
	p := probe.New(t, 1)
	p.Load(probe.Code, snipPingPong)
	p.Start(0, probe.Code, func(r *kvm.Regs) { r.RBX, r.RCX, r.R8, r.R9 = probe.A, probe.B, probe.Workset, ws })
	v := p.VCPU(0)
	p.Protect(0, probe.B, unix.PROT_READ)
	faults := 0
	return func() {
		if errno := probe.Enter(v); errno != unix.EFAULT {
			t.Fatalf("ping-pong: KVM_RUN %v, exit %d, want EFAULT", errno, v.RunData().ExitReason)
		}
		r, err := v.Regs()
		if err != nil {
			t.Fatal(err)
		}
		code, err := p.M.Memory().Slice(r.RIP, 15)
		if err != nil {
			t.Fatal(err)
		}
		_, acc, err := decodeLinear(code, r)
		if err != nil || len(acc) != 1 {
			t.Fatalf("decode at %#x: %v %v", r.RIP, acc, err)
		}
		want := acc[0].Addr &^ (machine.PageSize - 1)
		other := uint64(probe.A)
		if want == probe.A {
			other = probe.B
		}
		if err := p.View(0).Protect(other, machine.PageSize, unix.PROT_READ); err != nil {
			t.Fatal(err)
		}
		if err := p.View(0).Protect(want, machine.PageSize, unix.PROT_READ|unix.PROT_WRITE); err != nil {
			t.Fatal(err)
		}
		faults++
	}, &faults
}

// slotPingPong is mprotectPingPong with the pages' views as memory slots:
// the page being written is a read-write slot, the other a read-only one.
func slotPingPong(t *testing.T, ws uint64, zapAll bool) (func(), error) {
	p := probe.New(t, 1)
	p.Load(probe.Code, snipPingPong)
	p.Start(0, probe.Code, func(r *kvm.Regs) { r.RBX, r.RCX, r.R8, r.R9 = probe.A, probe.B, probe.Workset, ws })
	v := p.VCPU(0)
	if !zapAll {
		if err := v.EnableCap(kvm.CapDisableQuirks2, kvm.QuirkSlotZapAll); err != nil {
			return nil, err
		}
	}
	// slots: 0 [0,A) 1 A 2 B 3 [B+4K, end)
	p.Slot(0, 0, 0, 0, 0)
	p.Slot(0, 0, 0, 0, probe.A)
	p.Slot(0, 1, 0, probe.A, machine.PageSize)
	p.Slot(0, 2, kvm.SlotReadonly, probe.B, machine.PageSize)
	p.Slot(0, 3, 0, probe.B+machine.PageSize, probe.Mem-probe.B-machine.PageSize)
	host := p.M.Memory().Host()
	return func() {
		if errno := probe.Enter(v); errno != 0 || v.RunData().ExitReason != kvm.ExitMMIO {
			t.Fatalf("slot ping-pong: KVM_RUN %v, exit %d, want MMIO", errno, v.RunData().ExitReason)
		}
		gpa, size := v.RunData().Data[0], uint32(v.RunData().Data[2])
		copy(host[gpa:gpa+uint64(size)], (*[8]byte)(unsafe.Pointer(&v.RunData().Data[1]))[:size])
		want, other := uint32(1), uint32(2)
		wantGPA, otherGPA := uint64(probe.A), uint64(probe.B)
		if gpa&^(machine.PageSize-1) == probe.B {
			want, other, wantGPA, otherGPA = 2, 1, probe.B, probe.A
		}
		for _, err := range []error{
			v.SetSlot(other, 0, 0, 0), v.SetSlot(other, kvm.SlotReadonly, otherGPA, machine.PageSize),
			v.SetSlot(want, 0, 0, 0), v.SetSlot(want, 0, wantGPA, machine.PageSize),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}, nil
}

// holeRead: a load from a page with no slot, served by the VMM, in a loop.
func holeRead(t *testing.T) func() {
	p := probe.New(t, 1)
	// mov rax, [rbx]; jmp back
	p.Load(probe.Code, []byte{0x48, 0x8b, 0x03, 0xeb, 0xfb})
	p.Start(0, probe.Code, func(r *kvm.Regs) { r.RBX = probe.A + 8 })
	p.Slot(0, 0, 0, 0, 0)
	p.Slot(0, 0, 0, 0, probe.A)
	p.Slot(0, 2, 0, probe.A+machine.PageSize, probe.Mem-probe.A-machine.PageSize)
	v := p.VCPU(0)
	return func() {
		if errno := probe.Enter(v); errno != 0 || v.RunData().ExitReason != kvm.ExitMMIO {
			t.Fatalf("hole read: KVM_RUN %v, exit %d", errno, v.RunData().ExitReason)
		}
		v.RunData().Data[1] = p.Word(v.RunData().Data[0])
	}
}

// manySlots prepares a VM whose RAM will be all 4 KiB slots: create makes
// them (and checks that the guest runs on them), toggle then deletes and
// re-creates one.
func manySlots(t *testing.T) (create, toggle func(), count int, err error) {
	p := probe.New(t, 1)
	v := p.VCPU(0)
	max, err := v.CheckExtension(kvm.CapNrMemslots)
	if err != nil {
		return nil, nil, 0, err
	}
	count = probe.Mem / machine.PageSize
	if count > max {
		return nil, nil, 0, fmt.Errorf("%d slots wanted, KVM_CAP_NR_MEMSLOTS is %d", count, max)
	}
	p.Slot(0, 0, 0, 0, 0)
	create = func() {
		for i := range count {
			if err := v.SetSlot(uint32(i), 0, uint64(i)*machine.PageSize, machine.PageSize); err != nil {
				t.Fatal(err)
			}
		}
		p.Load(probe.Code, snipWrite)
		p.Start(0, probe.Code, func(r *kvm.Regs) { r.RBX, r.RAX = probe.A, probe.Store })
		if o := p.Run(0); !p.AtMarker(0, o) || p.Word(probe.A) != probe.Store {
			t.Fatalf("guest on %d slots: %v", count, o)
		}
	}
	slot := uint32(probe.A / machine.PageSize)
	toggle = func() {
		v.SetSlot(slot, 0, 0, 0)
		v.SetSlot(slot, 0, probe.A, machine.PageSize)
	}
	return create, toggle, count, nil
}

func dirtyLogCost(t *testing.T) func() {
	p := probe.New(t, 1)
	p.Load(probe.Code, snipWrite)
	p.Start(0, probe.Code, func(r *kvm.Regs) { r.RBX = probe.A })
	p.Slot(0, 0, kvm.SlotLogDirty, 0, probe.Mem)
	v := p.VCPU(0)
	bm := make([]uint64, probe.Mem/machine.PageSize/64)
	return func() {
		if err := v.DirtyLog(0, bm); err != nil {
			t.Fatal(err)
		}
	}
}

// stepCost is one exit of code and KVM_GET_REGS: single steps when tf,
// else whatever exception the code raises.
func stepCost(t *testing.T, code []byte, tf bool) func() {
	p := probe.New(t, 1)
	p.Load(probe.Code, code)
	p.Start(0, probe.Code, func(r *kvm.Regs) {
		if tf {
			r.RFLAGS |= 1 << 8
		}
	})
	v := p.VCPU(0)
	return func() {
		if errno := probe.Enter(v); errno != 0 || v.RunData().ExitReason != kvm.ExitShutdown {
			t.Fatalf("step: KVM_RUN %v exit %d", errno, v.RunData().ExitReason)
		}
		if _, err := v.Regs(); err != nil {
			t.Fatal(err)
		}
	}
}

// kicker runs vCPU 0 spinning in the guest on its own thread. kick kicks
// it as Machine.kickAll does (immediate_exit, then tgkill, so a kick that
// lands before KVM_RUN is not lost) and returns the time until KVM_RUN
// returned EINTR in the vCPU thread; done stops the vCPU. Kicks that
// had to be repeated are counted in *lost.
func kicker(t *testing.T, lost *int) (kick func() time.Duration, done func()) {
	p := probe.New(t, 1)
	p.Load(probe.Code, []byte{0xeb, 0xfe}) // jmp $
	p.Start(0, probe.Code, nil)
	v := p.VCPU(0)
	tids := make(chan int)
	back := make(chan time.Time)
	var stop atomic.Bool
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tids <- unix.Gettid()
		for !stop.Load() {
			errno := v.Run()
			now := time.Now()
			if errno != unix.EINTR {
				now = time.Time{}
			}
			v.RunData().ImmediateExit = 0
			back <- now
			if now.IsZero() {
				return
			}
		}
	}()
	tid := <-tids
	kick = func() time.Duration {
		// Give the vCPU time to get back into the guest.
		for spin := time.Now(); time.Since(spin) < 200*time.Microsecond; {
		}
		kicked := time.Now()
		// Kick again every 50 ms, as machine.Hold does: CI once saw a
		// kick lost under load. A lost kick is a host fact for the
		// table, not a failure; a vCPU that no kick moves is.
		for tries := 0; ; tries++ {
			v.RunData().ImmediateExit = 1
			if err := unix.Tgkill(os.Getpid(), tid, unix.SIGURG); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-back:
				if got.IsZero() {
					t.Fatal("kick: KVM_RUN did not return EINTR")
				}
				return got.Sub(kicked)
			case <-time.After(50 * time.Millisecond):
				if tries == 200 {
					t.Fatal("kick: 200 kicks in 10 s, and the vCPU did not leave KVM_RUN")
				}
				*lost++
			}
		}
	}
	done = func() {
		stop.Store(true)
		kick()
	}
	return kick, done
}

// splitMapping protects every other page of vCPU 0's upper 4 MiB, so its
// mapping becomes many VMAs, and returns an mprotect pair among them.
func splitMapping(t *testing.T) (int, func(), error) {
	p := probe.New(t, 1)
	before := countVMAs(t)
	for gpa := uint64(0x400000); gpa < 0x800000-2*abi.StackSize; gpa += 2 * machine.PageSize {
		if err := p.View(0).Protect(gpa, machine.PageSize, unix.PROT_READ); err != nil {
			return 0, nil, err
		}
	}
	return countVMAs(t) - before, func() {
		p.View(0).Protect(0x500000, machine.PageSize, unix.PROT_READ|unix.PROT_WRITE)
		p.View(0).Protect(0x500000, machine.PageSize, unix.PROT_READ)
	}, nil
}

func countVMAs(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// decodeLinear decodes the accesses of the instruction at the start of
// code with registers r, as the identity-mapped probe guest sees them.
func decodeLinear(code []byte, r *kvm.Regs) (x86asm.Inst, []x86.LinearAccess, error) {
	return x86.DecodeAccesses(code, &x86.CPU{Regs: x86.Regs{GPR: machine.GPRs(r), RIP: r.RIP, RFLAGS: r.RFLAGS}})
}
