// Package probe boots the built-in guest on the machine core and runs
// hand-assembled snippets on its vCPUs one KVM_RUN at a time, with no
// engine: the harness of the tests that probe what the host's KVM does
// (vmm/machine) and of the seek tests (vmm/engine/replay).
package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"

	gokvm "github.com/bobuhiro11/gokvm/kvm"
	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/guest"
	"github.com/crewvm/crewvm/vmm/abi"
	"github.com/crewvm/crewvm/vmm/guestmem"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/machine"
)

// Probe layout: snippets run from Code, inside the built-in guest's
// heap; the data pages follow it in the same guest 2 MiB page, so the
// probes also show that 4 KiB protections work under a guest large page.
const (
	Mem     = 8 << 20
	Code    = 0x200000
	A       = 0x201000
	B       = 0x202000
	C       = 0x203000
	Workset = 0x300000 // pages a cost loop touches besides A and B
	Value   = 0x1122334455667788
	Store   = 0xabcd
)

// IsPVM reports whether /dev/kvm is the PVM flavour (software
// virtualisation with shadow paging).
func IsPVM() bool {
	_, err := os.Stat("/sys/module/kvm_pvm")
	return err == nil
}

// P is a booted built-in guest whose vCPUs run hand-assembled
// snippets instead of the kernel, one KVM_RUN at a time.
type P struct {
	T testing.TB
	M *machine.Machine
}

// New boots a machine of cpus vCPUs for t, closed when t ends, with
// Value in the word at A+8.
func New(t testing.TB, cpus int) *P {
	t.Helper()
	m, err := machine.New(machine.Config{CPUs: cpus, MemSize: Mem, Image: guest.Kernel})
	if errors.Is(err, machine.ErrKVMUnavailable) {
		t.Skipf("no KVM: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	binary.LittleEndian.PutUint64(m.Memory().Host()[A+8:], Value)
	return &P{T: t, M: m}
}

// VCPU is cpu's KVM handle.
func (p *P) VCPU(cpu int) *kvm.VCPU { return p.M.VCPUs()[cpu].KVM() }

// View is cpu's own mapping of RAM.
func (p *P) View(cpu int) *guestmem.View { return p.M.VCPUs()[cpu].View() }

// Load copies code to gpa through the VMM's view of RAM.
func (p *P) Load(gpa uint64, code []byte) {
	p.T.Helper()
	b, err := p.M.Memory().Slice(gpa, uint64(len(code)))
	if err != nil {
		p.T.Fatal(err)
	}
	copy(b, code)
}

// Word reads the 64-bit word at gpa.
func (p *P) Word(gpa uint64) uint64 { return binary.LittleEndian.Uint64(p.M.Memory().Host()[gpa:]) }

// Start points cpu at rip. RDX is the hypercall port, so an out is a
// marker (or a hypercall); set adjusts the other registers.
func (p *P) Start(cpu int, rip uint64, set func(r *kvm.Regs)) {
	p.T.Helper()
	r := p.Regs(cpu)
	r.RIP, r.RDX = rip, abi.PortHypercall
	if set != nil {
		set(r)
	}
	p.SetRegs(cpu, r)
}

// Regs reads cpu's registers.
func (p *P) Regs(cpu int) *kvm.Regs {
	p.T.Helper()
	r, err := p.VCPU(cpu).Regs()
	if err != nil {
		p.T.Fatal(err)
	}
	return r
}

// SetRegs sets cpu's registers.
func (p *P) SetRegs(cpu int, r *kvm.Regs) {
	p.T.Helper()
	if err := p.VCPU(cpu).SetRegs(r); err != nil {
		p.T.Fatal(err)
	}
}

// Protect sets the host protection of the page at gpa in cpu's view.
func (p *P) Protect(cpu int, gpa uint64, prot int) {
	p.T.Helper()
	if err := p.View(cpu).Protect(gpa, machine.PageSize, prot); err != nil {
		p.T.Fatal(err)
	}
}

// Slot sets a memory slot of cpu's VM.
func (p *P) Slot(cpu int, slot, flags uint32, gpa, size uint64) {
	p.T.Helper()
	if err := p.VCPU(cpu).SetSlot(slot, flags, gpa, size); err != nil {
		p.T.Fatal(err)
	}
}

// Exception is the vector of the exception behind a shutdown exit, from
// KVM_GET_VCPU_EVENTS (PVM leaves it there).
func (p *P) Exception(cpu int) int {
	p.T.Helper()
	var e gokvm.VCPUEvents
	if err := gokvm.GetVCPUEvents(p.VCPU(cpu).Fd(), &e); err != nil {
		p.T.Fatal(err)
	}
	return int(e.E.Nr)
}

// Outcome is what one KVM_RUN produced.
type Outcome struct {
	Errno  unix.Errno
	Reason uint32
	RIP    uint64
	Vector int // shutdown: the exception behind it
	// KVM_EXIT_MMIO
	GPA   uint64
	Len   uint32
	Write bool
	Data  uint64
	// KVM_EXIT_INTERNAL_ERROR
	Suberror uint32
}

func (o Outcome) String() string {
	switch {
	case o.Errno != 0:
		return fmt.Sprintf("KVM_RUN fails %s, exit_reason %d, RIP %#x", unix.ErrnoName(o.Errno), o.Reason, o.RIP)
	case o.Reason == kvm.ExitMMIO:
		return fmt.Sprintf("KVM_EXIT_MMIO gpa %#x len %d write %v data %#x, RIP %#x", o.GPA, o.Len, o.Write, o.Data, o.RIP)
	case o.Reason == kvm.ExitInternalError:
		return fmt.Sprintf("KVM_EXIT_INTERNAL_ERROR suberror %d, RIP %#x", o.Suberror, o.RIP)
	case o.Reason == kvm.ExitShutdown:
		return fmt.Sprintf("KVM_EXIT_SHUTDOWN (vector %d), RIP %#x", o.Vector, o.RIP)
	}
	return fmt.Sprintf("exit reason %d, RIP %#x", o.Reason, o.RIP)
}

// Enter runs v until an exit of the guest's own, retrying when a signal
// (the Go runtime preempts with SIGURG) interrupts KVM_RUN.
func Enter(v *kvm.VCPU) unix.Errno {
	for {
		errno := v.Run()
		if errno != unix.EINTR && errno != unix.EAGAIN {
			return errno
		}
	}
}

// Run enters cpu once and describes what came back.
func (p *P) Run(cpu int) Outcome {
	p.T.Helper()
	v := p.VCPU(cpu)
	v.RunData().ExitReason = 0
	o := Outcome{Errno: Enter(v)}
	o.Reason = v.RunData().ExitReason
	o.RIP = p.Regs(cpu).RIP
	d := v.RunData().Data
	switch {
	case o.Errno != 0:
	case o.Reason == kvm.ExitMMIO:
		o.GPA, o.Len, o.Write = d[0], uint32(d[2]), byte(d[2]>>32) != 0
		o.Data = d[1]
		if o.Len < 8 {
			o.Data &= 1<<(8*o.Len) - 1
		}
	case o.Reason == kvm.ExitInternalError:
		o.Suberror = uint32(d[0])
	case o.Reason == kvm.ExitShutdown:
		o.Vector = p.Exception(cpu)
	}
	return o
}

// AtMarker reports whether cpu stopped on its marker out (0xef) and steps
// it over.
func (p *P) AtMarker(cpu int, o Outcome) bool {
	p.T.Helper()
	if o.Errno != 0 || o.Reason != kvm.ExitShutdown || p.M.Memory().Host()[o.RIP] != 0xef {
		return false
	}
	r := p.Regs(cpu)
	r.RIP++
	p.SetRegs(cpu, r)
	return true
}

// LockThread locks the test goroutine to its thread, as KVM_RUN needs.
func LockThread(t testing.TB) {
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
}

// FalseshareLoop is the falseshare workload's loop: *word += 1 until rdx
// reaches rsi, with rcx = word.
func FalseshareLoop() []byte {
	return []byte{
		0x48, 0x8b, 0x01, // 0x00: mov rax, [rcx]
		0x48, 0x83, 0xc2, 0x01, // 0x03: add rdx, 1
		0x48, 0x83, 0xc0, 0x01, // 0x07: add rax, 1
		0x48, 0x89, 0x01, // 0x0b: mov [rcx], rax
		0x48, 0x39, 0xf2, // 0x0e: cmp rdx, rsi
		0x75, 0xed, // 0x11: jne 0x00
		0xef,       // 0x13: out
		0xeb, 0xfe, // 0x14: jmp $
	}
}
