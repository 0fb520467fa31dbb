package vmm

import (
	"fmt"
	"unsafe"

	"github.com/bobuhiro11/gokvm/kvm"
	"github.com/crewvm/crewvm/replaylog"
	"golang.org/x/arch/x86/x86asm"
	"golang.org/x/sys/unix"
)

// Seeking a state position on replay (DESIGN.md section 4). Hardware
// breakpoints never fire under PVM (crew/HOSTFACTS.md), so the stop is
// a patch in a private copy-on-write copy of the code page in the vCPU's
// own mapping. Where the instruction at the recorded RIP is long enough,
// the patch jumps to a matcher (matcher.go) that compares the registers
// natively in the guest and traps only on a full match, so a loop runs at
// full speed until the recorded iteration. Otherwise an int3 traps at
// every pass and the VMM compares, single-stepping over the instruction,
// which is also exact inside REP string instructions.

// matcherSlot is the memory slot of a vCPU's matcher page.
const matcherSlot = 1

// rflagsIgnored are RFLAGS bits that a kick or a step may leave
// differently and that the guest never looks at: TF (8), RF (16).
const rflagsIgnored = 1<<8 | 1<<16

// breakpoint is an installed stop at a recorded RIP in one vCPU's view.
type breakpoint struct {
	c      *vcpu
	page   uint64 // guest address of the patched code page
	orig   []byte // the bytes the patch replaced, at rip
	rip    uint64
	hitRIP uint64 // RIP after the trap of a hit
	resume uint64 // where a false hit goes on; 0 for int3
}

// seek runs c from its current exit to the state position want, logged
// at event idx.
func (m *Machine) seek(c *vcpu, want *replaylog.Position, idx uint64) error {
	r, err := c.kvm.regs()
	if err != nil {
		return fmt.Errorf("vCPU %d: read registers: %w", c.id, err)
	}
	if m.atState(c, r, want) {
		return nil
	}
	bp, err := m.insertBreakpoint(c, &want.Regs)
	if err != nil {
		return c.divergence(idx, "cannot stop at the recorded state position %s: %v", want, err)
	}
	defer bp.remove(m)
	for {
		errno := c.kvm.runErrno()
		if m.stopping.Load() {
			return errStopping
		}
		if errno == unix.EINTR || errno == unix.EAGAIN {
			c.kvm.run.ImmediateExit = 0
			continue
		}
		vector := -1
		if errno == 0 && c.kvm.run.ExitReason == exitShutdown {
			vector = c.kvm.exception()
		}
		if vector != 3 {
			return c.divergence(idx, "the vCPU left the guest (%s) before reaching the recorded state position %s",
				describeExit(errno, c.kvm.run.ExitReason, vector), want)
		}
		r, err := c.kvm.regs()
		if err != nil {
			return fmt.Errorf("vCPU %d: read registers at a breakpoint: %w", c.id, err)
		}
		if r.RIP != bp.hitRIP {
			return c.divergence(idx, "the guest executed an int3 of its own at %#x while seeking %s", r.RIP-1, want)
		}
		r.RIP = bp.rip
		if bp.resume != 0 {
			if m.atState(c, r, want) {
				return c.kvm.setRegs(r)
			}
			r.RIP = bp.resume
			if err := c.kvm.setRegs(r); err != nil {
				return fmt.Errorf("vCPU %d: resume after a false match: %w", c.id, err)
			}
			continue
		}
		done, err := m.stepThrough(c, bp, r, want, idx)
		if done || err != nil {
			return err
		}
	}
}

// stepThrough compares and single-steps c while it stays at bp's RIP (a
// REP string instruction stays there once per iteration), then re-arms
// the int3. It reports whether c reached want.
func (m *Machine) stepThrough(c *vcpu, bp *breakpoint, r *kvm.Regs, want *replaylog.Position, idx uint64) (bool, error) {
	view := c.kvm.ram[bp.rip : bp.rip+1]
	view[0] = bp.orig[0]
	defer func() { view[0] = 0xcc }()
	for r.RIP == bp.rip {
		if m.atState(c, r, want) {
			return true, c.kvm.setRegs(r)
		}
		if err := c.kvm.setRegs(r); err != nil {
			return false, err
		}
		if err := c.kvm.setGuestDebug(guestDebugEnable|guestDebugSingleStep, [8]uint64{}); err != nil {
			return false, err
		}
		errno := c.kvm.runErrno()
		for errno == unix.EINTR || errno == unix.EAGAIN {
			// A signal, not the step: the run is over or it goes on.
			if m.stopping.Load() {
				return false, errStopping
			}
			c.kvm.run.ImmediateExit = 0
			errno = c.kvm.runErrno()
		}
		if err := c.kvm.setGuestDebug(0, [8]uint64{}); err != nil {
			return false, err
		}
		vector := -1
		if errno == 0 && c.kvm.run.ExitReason == exitShutdown {
			vector = c.kvm.exception()
		}
		if vector != 1 {
			return false, c.divergence(idx, "the vCPU left the guest (%s) before reaching the recorded state position %s",
				describeExit(errno, c.kvm.run.ExitReason, vector), want)
		}
		var err error
		if r, err = c.kvm.regs(); err != nil {
			return false, err
		}
	}
	return false, nil
}

// atState says whether c, with registers r, is at the state position.
func (m *Machine) atState(c *vcpu, r *kvm.Regs, want *replaylog.Position) bool {
	got := toLogRegs(r)
	got.RFLAGS &^= rflagsIgnored
	w := want.Regs
	w.RFLAGS &^= rflagsIgnored
	if got != w {
		return false
	}
	return m.crew == nil || m.crew.ownedHash(c, m.mem.Host()) == want.MemHash
}

// insertBreakpoint patches a private copy of the code page at want.RIP in
// c's view: a jump to a matcher where possible, an int3 otherwise.
func (m *Machine) insertBreakpoint(c *vcpu, want *replaylog.Regs) (*breakpoint, error) {
	rip := want.RIP
	if rip >= uint64(len(c.kvm.ram)) {
		return nil, fmt.Errorf("rip %#x is outside RAM", rip)
	}
	page := rip &^ (pageSize - 1)
	code := append([]byte(nil), m.mem.Host()[rip:min(rip+16, uint64(len(c.kvm.ram)))]...)
	bp := &breakpoint{c: c, page: page, rip: rip, hitRIP: rip + 1}
	patch := []byte{0xcc}
	if base, ok := m.matcherBase(); ok && !repString(code) && matchable(code, rip) == nil {
		if mt, err := buildMatcher(code, want, base); err == nil && rip+uint64(len(mt.Patch)) <= page+pageSize {
			if err := c.matcherPage(base, mt.Page); err == nil {
				patch, bp.hitRIP, bp.resume = mt.Patch, mt.HitRIP+1, mt.ResumeRIP
			}
		}
	}
	if _, err := unix.MmapPtr(m.mem.fd, int64(page), unsafe.Pointer(&c.kvm.ram[page]), pageSize,
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
		return nil, fmt.Errorf("private copy of code page %#x: %w", page, err)
	}
	bp.orig = append([]byte(nil), c.kvm.ram[rip:rip+uint64(len(patch))]...)
	copy(c.kvm.ram[rip:], patch)
	return bp, nil
}

// remove restores the shared mapping of the code page with c's rights,
// first writing back what c itself stored into the private copy when it
// owns the page.
func (bp *breakpoint) remove(m *Machine) error {
	c := bp.c
	copy(c.kvm.ram[bp.rip:], bp.orig)
	rights := unix.PROT_READ | unix.PROT_WRITE
	if m.crew != nil {
		rights = hostProt(c.rights[bp.page/m.crew.gran])
	}
	if rights&unix.PROT_WRITE != 0 {
		copy(m.mem.Host()[bp.page:bp.page+pageSize], c.kvm.ram[bp.page:bp.page+pageSize])
	}
	if _, err := unix.MmapPtr(m.mem.fd, int64(bp.page), unsafe.Pointer(&c.kvm.ram[bp.page]), pageSize,
		rights, unix.MAP_SHARED|unix.MAP_FIXED); err != nil {
		return fmt.Errorf("vCPU %d: restore code page %#x: %w", c.id, bp.page, err)
	}
	return nil
}

// matcherBase is the guest address of the matcher page: just above RAM,
// inside the identity map and near the code.
func (m *Machine) matcherBase() (uint64, bool) {
	base := (m.cfg.MemSize + 2<<20 - 1) &^ (2<<20 - 1)
	return base, base+pageSize <= maxMemory
}

// matcherPage puts page at guest address base in c's VM only.
func (c *vcpu) matcherPage(base uint64, page []byte) error {
	if c.matcher == nil {
		b, err := unix.Mmap(-1, 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			return fmt.Errorf("matcher page: %w", err)
		}
		r := &kvm.UserspaceMemoryRegion{Slot: matcherSlot, GuestPhysAddr: base, MemorySize: pageSize,
			UserspaceAddr: uint64(uintptr(unsafe.Pointer(&b[0])))}
		if err := kvm.SetUserMemoryRegion(c.kvm.vm.Fd(), r); err != nil {
			unix.Munmap(b)
			return fmt.Errorf("matcher slot at %#x: %w", base, err)
		}
		c.matcher = b
	}
	copy(c.matcher, page)
	return nil
}

// repString reports a REP-prefixed string instruction, whose iterations
// share one RIP: only stepping stops between them. (F2 and F3 are also
// the mandatory prefixes of SSE instructions, so the opcode decides.)
func repString(code []byte) bool {
	inst, err := x86asm.Decode(code, 64)
	if err != nil || !isString(inst) {
		return false
	}
	for _, p := range inst.Prefix {
		if p&0xff == x86asm.PrefixREP || p&0xff == x86asm.PrefixREPN {
			return true
		}
	}
	return false
}

// isString: MOVSD and CMPSD are also SSE instructions, told apart by
// their register operands.
func isString(inst x86asm.Inst) bool {
	switch inst.Op {
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ, x86asm.STOSB, x86asm.STOSW, x86asm.STOSD,
		x86asm.STOSQ, x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ, x86asm.SCASB, x86asm.SCASW,
		x86asm.SCASD, x86asm.SCASQ, x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ,
		x86asm.INSB, x86asm.INSW, x86asm.INSD, x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
		return inst.Args[0] == nil || isMem(inst.Args[0])
	}
	return false
}

// exception is the vector of the exception behind a shutdown exit.
func (v *kvmVCPU) exception() int {
	var e kvm.VCPUEvents
	if err := kvm.GetVCPUEvents(v.fd.Fd(), &e); err != nil {
		return -1
	}
	return int(e.E.Nr)
}

func describeExit(errno unix.Errno, reason uint32, vector int) string {
	switch {
	case errno != 0:
		return fmt.Sprintf("KVM_RUN: %v", errno)
	case reason == exitShutdown:
		return fmt.Sprintf("exception %d", vector)
	}
	return fmt.Sprintf("exit reason %d", reason)
}
