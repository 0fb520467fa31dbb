package machine

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/vmm/guestmem"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/x86"
)

// VCPU is the VMM's side of one guest CPU.
type VCPU struct {
	id   int
	kvm  *kvm.VCPU
	view *guestmem.View
	// cpuid is what the guest's CPUID instruction answers (trap.go).
	cpuid []x86.CPUIDEntry
	tid   atomic.Int32
	// exits counts the exits the guest caused: its exit position.
	exits uint64

	// The gate keeps a vCPU out of the guest while an engine holds it
	// (Hold), say to change its rights on a page.
	gate   sync.Mutex
	unheld *sync.Cond
	left   wakeup
	// inGuest: in KVM_RUN or about to be; holds: holders keeping it
	// out; waiting: a holder waits for it to leave.
	inGuest bool
	holds   int
	waiting bool
	// kicks counts the KVM_RUNs since its last exit that a kick ended.
	kicks uint64
	// xsaveSize is the XSAVE area size its CPUID gives (leaf 0xd), which
	// bounds what an xsave instruction writes.
	xsaveSize uint64
	// region is its private memory slot above RAM (PrivateRegion).
	region []byte
}

func (m *Machine) newVCPU(id int) (*VCPU, error) {
	view, err := m.mem.NewView()
	if err != nil {
		return nil, fmt.Errorf("vCPU %d: %w", id, err)
	}
	table := make([]x86.CPUIDEntry, len(m.cpuid))
	for i, e := range m.cpuid {
		table[i] = x86.CPUIDEntry(e)
	}
	table = x86.MaskCPUID(table, id)
	ktable := make([]kvm.CPUIDEntry, len(table))
	for i, e := range table {
		ktable[i] = kvm.CPUIDEntry(e)
	}
	kv, err := m.host.NewVCPU(id, view.Bytes(), ktable)
	if err == nil {
		if err = kv.SetMSR(x86.MSRMiscFeaturesEnables, x86.CPUIDFaulting); err != nil {
			kv.Close()
			err = fmt.Errorf("vCPU %d: enable CPUID faulting: %w", id, err)
		}
	}
	if err != nil {
		view.Close()
		return nil, err
	}
	c := &VCPU{id: id, kvm: kv, view: view, cpuid: table}
	c.unheld = sync.NewCond(&c.gate)
	_, ebx, _, _ := x86.CPUIDLeaf(table, 0xd, 0)
	c.xsaveSize = uint64(ebx)
	return c, nil
}

// bootVCPU gives c its boot registers; CR4.TSD traps the time-stamp
// counter where the host honours it (HostCaps).
func (m *Machine) bootVCPU(c *VCPU) error {
	sregs, err := c.kvm.Sregs()
	if err == nil {
		setLongMode(sregs)
		if m.caps.TSCTrapped {
			sregs.CR4 |= x86.CR4TSD
		}
		err = c.kvm.SetSregs(sregs)
	}
	if err == nil {
		err = c.kvm.SetRegs(initialRegs(m.img, c.id, m.cfg.CPUs, m.cfg.MemSize))
	}
	if err != nil {
		return fmt.Errorf("vCPU %d: set boot registers: %w", c.id, err)
	}
	return nil
}

func (c *VCPU) close() error {
	errs := []error{c.kvm.Close(), c.view.Close()}
	if c.region != nil {
		errs = append(errs, unix.Munmap(c.region))
	}
	return errors.Join(errs...)
}

// ID is the vCPU's number.
func (c *VCPU) ID() int { return c.id }

// KVM is the vCPU's KVM handle.
func (c *VCPU) KVM() *kvm.VCPU { return c.kvm }

// View is the vCPU's own mapping of RAM, which its VM runs on.
func (c *VCPU) View() *guestmem.View { return c.view }

// Exits counts the exits the guest caused so far, the vCPU's exit
// position. Only the vCPU's own thread may call it while it runs; a
// holder reads Stand.
func (c *VCPU) Exits() uint64 { return c.exits }

// GuestError builds a GuestError with the vCPU's current registers.
func (c *VCPU) GuestError(format string, args ...any) error {
	r, err := c.kvm.Regs()
	if err != nil {
		r = nil
	}
	return &GuestError{CPU: c.id, Msg: fmt.Sprintf(format, args...), Regs: r}
}

// CPU is the state x86.Analyze needs, from the vCPU's registers r and
// its segment and control registers.
func (c *VCPU) CPU(r *kvm.Regs) (*x86.CPU, error) {
	s, err := c.kvm.Sregs()
	if err != nil {
		return nil, fmt.Errorf("read segment registers: %w", err)
	}
	return &x86.CPU{Regs: x86.Regs{GPR: GPRs(r), RIP: r.RIP, RFLAGS: r.RFLAGS},
		FSBase: s.FS.Base, GSBase: s.GS.Base, CR0: s.CR0, CR3: s.CR3, CR4: s.CR4, EFER: s.EFER,
		XSaveSize: c.xsaveSize}, nil
}

// GPRs are r's general-purpose registers in register-number order, the
// order of instruction encodings, x86.Regs and replaylog.Regs.
func GPRs(r *kvm.Regs) [16]uint64 {
	return [16]uint64{r.RAX, r.RCX, r.RDX, r.RBX, r.RSP, r.RBP, r.RSI, r.RDI,
		r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15}
}

// PrivateRegion returns the vCPU's private memory of size bytes at
// guest-physical address gpa (above RAM) in memory slot slot of its VM
// only, creating it on the first call: sparse anonymous memory, of which
// only the pages written take up room. An engine keeps code of its own
// there (replay's matchers).
func (c *VCPU) PrivateRegion(slot uint32, gpa, size uint64) ([]byte, error) {
	if c.region != nil {
		if uint64(len(c.region)) != size {
			return nil, fmt.Errorf("vCPU %d: private region of %d bytes asked for as %d", c.id, len(c.region), size)
		}
		return c.region, nil
	}
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("vCPU %d: private region: %w", c.id, err)
	}
	if err := c.kvm.MapSlot(slot, gpa, b); err != nil {
		unix.Munmap(b)
		return nil, fmt.Errorf("vCPU %d: private region slot: %w", c.id, err)
	}
	c.region = b
	return b, nil
}

// Restore puts c where a checkpoint left it, before it runs: registers
// r, the architectural state kvm.VCPU.ArchState returned, and its exit
// count.
func (c *VCPU) Restore(r *kvm.Regs, arch []byte, exits uint64) error {
	if err := c.kvm.SetArchState(arch); err != nil {
		return fmt.Errorf("vCPU %d: %w", c.id, err)
	}
	if err := c.kvm.SetRegs(r); err != nil {
		return fmt.Errorf("vCPU %d: KVM_SET_REGS: %w", c.id, err)
	}
	c.exits = exits
	return nil
}

// Kick makes c leave KVM_RUN: immediate_exit closes the race with a vCPU
// about to enter, the signal interrupts one already inside.
func (c *VCPU) Kick() { c.kvm.Kick(c.tid.Load()) }

// Stand is where a held vCPU stands: after Exits exits and, if Kicks is
// not zero, at the point where the last of Kicks kicks since that exit
// stopped it (a state position) rather than at the exit.
type Stand struct {
	Exits, Kicks uint64
}

// Stopped says how Hold stopped a vCPU.
type Stopped int

const (
	// WasOut: it was not in the guest.
	WasOut Stopped = iota
	// LeftByItself: it left the guest by an exit of its own within the
	// deadline.
	LeftByItself
	// Kicked: it had to be kicked.
	Kicked
)

// rekick is how long Hold waits for a kicked vCPU to leave the guest
// before it kicks again. A kick has been seen lost once, under load on
// an Intel PVM host (TestCREWProbeCosts waited 10 s); a second kick is
// harmless: at worst the vCPU, once released, leaves at once with no
// progress, which names no position.
const rekick = 50 * time.Millisecond

// Hold keeps c out of the guest until Release and returns where it then
// stands. A vCPU in the guest gets deadline to leave by an exit of its
// own, an exact position, and is kicked after that, again every rekick
// until it leaves. Holders of one vCPU may overlap; the vCPU enters
// again when the last releases it.
func (m *Machine) Hold(c *VCPU, deadline time.Duration) (Stand, Stopped, error) {
	how := WasOut
	c.gate.Lock()
	c.holds++
	if c.inGuest {
		how = LeftByItself
		c.waiting = true
		c.left.reset()
		c.gate.Unlock()
		for wait := deadline; !c.left.wait(wait); wait = rekick {
			if m.Stopping() {
				c.gate.Lock()
				c.waiting = false
				c.gate.Unlock()
				return Stand{}, how, ErrStopping
			}
			how = Kicked
			c.Kick()
		}
		c.gate.Lock()
		c.waiting = false
	}
	st := Stand{Exits: c.exits, Kicks: c.kicks}
	c.gate.Unlock()
	return st, how, nil
}

// Release lets a held vCPU enter the guest again once nobody holds it.
func (c *VCPU) Release() {
	c.gate.Lock()
	c.holds--
	if c.holds == 0 {
		c.unheld.Broadcast()
	}
	c.gate.Unlock()
}

// HeldOut says whether somebody holds c, or waits to.
func (c *VCPU) HeldOut() bool {
	c.gate.Lock()
	defer c.gate.Unlock()
	return c.holds > 0
}

// Stand says where c stands now; for the vCPU's own thread, or once
// the run is over.
func (c *VCPU) Stand() Stand {
	c.gate.Lock()
	defer c.gate.Unlock()
	return Stand{Exits: c.exits, Kicks: c.kicks}
}

// enterGate waits until nobody holds c, then marks it in the guest.
func (c *VCPU) enterGate(stopping func() bool) bool {
	c.gate.Lock()
	defer c.gate.Unlock()
	for c.holds > 0 && !stopping() {
		c.unheld.Wait()
	}
	if stopping() {
		return false
	}
	c.inGuest = true
	return true
}

// leaveGate marks c out of the guest after a KVM_RUN that a kick ended
// or that the guest ended with an exit (counted), and tells a waiting
// holder.
func (c *VCPU) leaveGate(kicked, counted bool) {
	c.gate.Lock()
	c.inGuest = false
	if counted {
		c.exits++
		c.kicks = 0
	} else if kicked {
		c.kicks++
	}
	if c.waiting {
		c.left.post()
	}
	c.gate.Unlock()
}
