package replay

import (
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/engine/crewview"
	"github.com/crewvm/crewvm/vmm/engine/matcher"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/machine"
)

// Seeking a state position on replay (DESIGN.md section 4). Hardware
// breakpoints never fire under PVM (crew/HOSTFACTS.md), so the stop is
// a patch in private copy-on-write copies of the code pages in the
// vCPU's own mapping. Where the instructions at the recorded RIP can be
// relocated, the patch is a jmp over a window of them to a matcher
// (package matcher) that compares the registers natively in the guest
// and traps only on a full match, so a loop runs at nearly full speed
// until the recorded iteration; inside a REP string instruction the VMM
// then runs the missing iterations natively (package matcher's rep.go,
// rep_seek.go). Where no window can be patched, an int3 traps at every
// pass and the VMM compares: a REP string instruction's iterations then
// run in a copy, two exits an arrival; any other instruction is
// single-stepped.

// matcherSlot is the memory slot of a vCPU's trampoline region.
const matcherSlot = 1

// breakpoint is an installed stop at a recorded RIP in one vCPU's view.
type breakpoint struct {
	c      *machine.VCPU
	pages  []uint64 // guest addresses of the code pages the patch covers
	orig   []byte   // the bytes the patch replaced, at rip
	rip    uint64
	hitRIP uint64           // RIP after the trap of a hit
	mt     *matcher.Matcher // nil for a plain int3
}

// seeker is one vCPU's way to one state position.
type seeker struct {
	e    *Engine
	c    *machine.VCPU
	want *replaylog.Position
	idx  uint64 // the log event that names the position
	bp   *breakpoint
	// exits counts the times the vCPU left the guest: the seek's cost.
	exits int
	// memMisses counts stops with every register right but memory not.
	memMisses int
	// expired is set, and the vCPU kicked, when the seek has run for
	// Options.SeekTimeout without a match.
	expired atomic.Bool
}

// seek runs c from its current exit to the state position want, logged
// at event idx.
func (e *Engine) seek(c *machine.VCPU, want *replaylog.Position, idx uint64) error {
	_, err := e.seekExits(c, want, idx)
	return err
}

// seekExits is seek, also returning how many times c left the guest on
// the way.
func (e *Engine) seekExits(c *machine.VCPU, want *replaylog.Position, idx uint64) (int, error) {
	r, err := c.KVM().Regs()
	if err != nil {
		return 0, fmt.Errorf("vCPU %d: read registers: %w", c.ID(), err)
	}
	if e.atState(c, r, want) {
		return 0, nil
	}
	from := crewview.LogRegs(r)
	bp, err := e.insertBreakpoint(c, &want.Regs, &from)
	if err != nil {
		return 0, divergence(c, idx, "cannot stop at the recorded state position %s: %v", want, err)
	}
	s := &seeker{e: e, c: c, want: want, idx: idx, bp: bp}
	limit := time.AfterFunc(e.opts.SeekTimeout, func() {
		s.expired.Store(true)
		c.Kick()
	})
	err = s.run(r)
	limit.Stop()
	if rerr := bp.remove(e); err == nil {
		err = rerr
	}
	return s.exits, err
}

// run lets the vCPU, with registers r, go until it is at the position.
func (s *seeker) run(r *kvm.Regs) error {
	c, bp := s.c, s.bp
	if to, ok := bp.mt.Relocated(bp.rip, r.RIP); ok {
		// Stopped inside the window: go on in its relocated copy.
		r.RIP = to
		if err := c.KVM().SetRegs(r); err != nil {
			return fmt.Errorf("vCPU %d: enter the relocated window: %w", c.ID(), err)
		}
	} else if bp.inWindow(r.RIP) {
		if done, err := s.stepOriginal(r); done || err != nil {
			return err
		}
	}
	for {
		if err := s.enter(3); err != nil {
			return err
		}
		r, err := c.KVM().Regs()
		if err != nil {
			return fmt.Errorf("vCPU %d: read registers at a breakpoint: %w", c.ID(), err)
		}
		var done bool
		switch to, into := bp.mt.Redirect(bp.rip, r.RIP); {
		case r.RIP == bp.hitRIP && bp.mt == nil:
			r.RIP = bp.rip
			done, err = s.stepThrough(r)
		case r.RIP == bp.hitRIP && bp.mt.Rep != nil:
			done, err = s.repHit(r)
		case r.RIP == bp.hitRIP:
			done, err = s.hit(r)
		case into:
			// A branch into the window: one exit per such branch.
			r.RIP = to
			err = c.KVM().SetRegs(r)
		case bp.mt != nil && bp.inWindow(r.RIP-1):
			// A branch into the window where the decode saw no
			// instruction start (past an unconditional jmp).
			r.RIP--
			done, err = s.stepOriginal(r)
		default:
			return divergence(c, s.idx, "the guest executed an int3 of its own at %#x while seeking %s", r.RIP-1, s.want)
		}
		if done || err != nil {
			return err
		}
	}
}

// enter runs the vCPU until it leaves the guest, and wants that to be
// the exception vector (3: an int3, 1: a single-step).
func (s *seeker) enter(vector int) error {
	c := s.c
	for {
		errno := c.KVM().Run()
		if s.e.m.Stopping() {
			return machine.ErrStopping
		}
		if errno == unix.EINTR || errno == unix.EAGAIN {
			// A signal, not the guest: the run is over, the seek has
			// taken too long, or it goes on.
			c.KVM().Unkick()
			if s.expired.Load() {
				return s.timedOut()
			}
			continue
		}
		s.exits++
		got := -1
		if errno == 0 && c.KVM().RunData().ExitReason == kvm.ExitShutdown {
			got = c.KVM().Exception()
		}
		if got != vector {
			return divergence(c, s.idx, "the vCPU left the guest (%s) before reaching the recorded state position %s; where it stopped: %s",
				describeExit(errno, c.KVM().RunData().ExitReason, got), s.want, s.where())
		}
		return nil
	}
}

// hit handles a full match of the matcher, registers r with RIP back on
// the position: the VMM's own comparison (RIP, all flags, memory)
// decides, and a false hit goes on in the relocated window.
func (s *seeker) hit(r *kvm.Regs) (bool, error) {
	r.RIP = s.bp.rip
	if s.atState(r) {
		return true, s.c.KVM().SetRegs(r)
	}
	r.RIP = s.bp.mt.ResumeRIP
	if err := s.c.KVM().SetRegs(r); err != nil {
		return false, fmt.Errorf("vCPU %d: resume after a false match: %w", s.c.ID(), err)
	}
	return false, nil
}

// stepThrough compares and single-steps the vCPU, with registers r, while
// it stays at the int3's RIP (a REP string instruction stays there once
// per iteration), then re-arms the int3. It reports whether the vCPU
// reached the position.
func (s *seeker) stepThrough(r *kvm.Regs) (bool, error) {
	c, bp := s.c, s.bp
	view := c.View().Bytes()[bp.rip : bp.rip+1]
	view[0] = bp.orig[0]
	defer func() { view[0] = 0xcc }()
	for r.RIP == bp.rip {
		if s.atState(r) {
			return true, c.KVM().SetRegs(r)
		}
		var err error
		if r, err = s.step(r); err != nil {
			return false, err
		}
	}
	return false, nil
}

// step single-steps the vCPU from registers r and returns the registers
// after the instruction (or REP iteration).
func (s *seeker) step(r *kvm.Regs) (*kvm.Regs, error) {
	c := s.c
	if err := c.KVM().SetRegs(r); err != nil {
		return nil, fmt.Errorf("vCPU %d: set registers to step: %w", c.ID(), err)
	}
	if err := c.KVM().SetGuestDebug(kvm.DebugEnable|kvm.DebugSingleStep, [8]uint64{}); err != nil {
		return nil, fmt.Errorf("vCPU %d: single-step: %w", c.ID(), err)
	}
	err := s.enter(1)
	if derr := c.KVM().SetGuestDebug(0, [8]uint64{}); err == nil && derr != nil {
		err = fmt.Errorf("vCPU %d: end single-stepping: %w", c.ID(), derr)
	}
	if err != nil {
		return nil, err
	}
	r, err = c.KVM().Regs()
	if err != nil {
		return nil, fmt.Errorf("vCPU %d: read registers after a step: %w", c.ID(), err)
	}
	return r, nil
}

// inWindow says whether addr is inside the patch but not at its start.
func (bp *breakpoint) inWindow(addr uint64) bool {
	return addr > bp.rip && addr < bp.rip+uint64(len(bp.orig))
}

// stepOriginal single-steps the vCPU, with registers r inside the
// window, through the original instructions, the patch lifted, until it
// leaves the window or comes to its start, the position's RIP. It reports
// whether the vCPU reached the position.
func (s *seeker) stepOriginal(r *kvm.Regs) (bool, error) {
	c, bp := s.c, s.bp
	patched := c.View().Bytes()[bp.rip : bp.rip+uint64(len(bp.orig))]
	patch := append([]byte(nil), patched...)
	copy(patched, bp.orig)
	defer copy(patched, patch)
	for bp.inWindow(r.RIP) {
		var err error
		if r, err = s.step(r); err != nil {
			return false, err
		}
	}
	if r.RIP == bp.rip && s.atState(r) {
		return true, c.KVM().SetRegs(r)
	}
	return false, c.KVM().SetRegs(r)
}

// atState says whether the vCPU, with registers r, is at the position,
// its stores into the private code pages included.
func (s *seeker) atState(r *kvm.Regs) bool {
	if s.e.views != nil {
		s.bp.writeBack(s.e)
	}
	if !regsAt(r, s.want) {
		return false
	}
	if s.e.memAt(s.c, s.want) {
		return true
	}
	s.memMisses++
	return false
}

// atState says whether c, with registers r, is at the state position.
func (e *Engine) atState(c *machine.VCPU, r *kvm.Regs, want *replaylog.Position) bool {
	return regsAt(r, want) && e.memAt(c, want)
}

// regsAt says whether registers r are the state position's, but for the
// RFLAGS bits a kick or a step may leave either way.
func regsAt(r *kvm.Regs, want *replaylog.Position) bool {
	got := crewview.LogRegs(r)
	got.RFLAGS &^= replaylog.RFLAGSIgnored
	w := want.Regs
	w.RFLAGS &^= replaylog.RFLAGSIgnored
	return got == w
}

// memAt says whether the pages c owns hash as they did at the position.
func (e *Engine) memAt(c *machine.VCPU, want *replaylog.Position) bool {
	return e.views == nil || e.views.OwnedHash(c.ID()) == want.MemHash
}

// insertBreakpoint patches private copies of the code pages at want.RIP in
// c's view, c's registers being from: a jump to a matcher where possible,
// an int3 otherwise.
func (e *Engine) insertBreakpoint(c *machine.VCPU, want, from *replaylog.Regs) (*breakpoint, error) {
	rip, ram := want.RIP, e.m.Memory().Host()
	if rip >= uint64(len(ram)) {
		return nil, fmt.Errorf("rip %#x is outside RAM", rip)
	}
	code := append([]byte(nil), ram[rip:min(rip+matcher.TailFetch, uint64(len(ram)))]...)
	bp := &breakpoint{c: c, rip: rip, hitRIP: rip + 1}
	patch := []byte{0xcc}
	if base, ok := e.matcherBase(); ok {
		mt, err := matcher.BuildFrom(code, want, from, base)
		if err != nil {
			mt, err = matcher.BuildRepStub(code, want, base)
		}
		if err == nil && installMatcher(c, base, mt) == nil {
			patch, bp.hitRIP, bp.mt = mt.Patch, mt.HitRIP+1, mt
		}
	}
	for page := rip &^ (machine.PageSize - 1); page < rip+uint64(len(patch)); page += machine.PageSize {
		if err := c.View().PrivatePage(page); err != nil {
			err = fmt.Errorf("private copy of code page: %w", err)
			if rerr := bp.remove(e); rerr != nil {
				err = fmt.Errorf("%w; %w", err, rerr)
			}
			return nil, err
		}
		bp.pages = append(bp.pages, page)
	}
	bp.orig = append([]byte(nil), c.View().Bytes()[rip:rip+uint64(len(patch))]...)
	copy(c.View().Bytes()[rip:], patch)
	return bp, nil
}

// writeBack copies what c stored into the private copies of the pages it
// may write back to the shared RAM, with the patch's bytes as they were.
func (bp *breakpoint) writeBack(e *Engine) {
	c, host := bp.c, e.m.Memory().Host()
	for _, page := range bp.pages {
		if bp.rights(e, page)&unix.PROT_WRITE == 0 {
			continue
		}
		copy(host[page:page+machine.PageSize], c.View().Bytes()[page:page+machine.PageSize])
		lo, hi := max(page, bp.rip), min(page+machine.PageSize, bp.rip+uint64(len(bp.orig)))
		copy(host[lo:hi], bp.orig[lo-bp.rip:])
	}
}

// rights are c's host protections on page.
func (bp *breakpoint) rights(e *Engine, page uint64) int {
	if e.views == nil {
		return unix.PROT_READ | unix.PROT_WRITE
	}
	return e.views.Prot(bp.c.ID(), page)
}

// remove restores the shared mapping of the code pages with c's rights,
// first writing back what c itself stored into the private copies of the
// pages it may write.
func (bp *breakpoint) remove(e *Engine) error {
	c := bp.c
	if bp.orig != nil {
		copy(c.View().Bytes()[bp.rip:], bp.orig)
	}
	bp.writeBack(e)
	for _, page := range bp.pages {
		if err := c.View().SharePage(page, bp.rights(e, page)); err != nil {
			return fmt.Errorf("vCPU %d: restore code page: %w", c.ID(), err)
		}
	}
	bp.pages = nil
	return nil
}

// matcherBase is the guest address of the trampoline region: just above
// RAM, inside the identity map and near the code.
func (e *Engine) matcherBase() (uint64, bool) {
	base := (e.m.Config().MemSize + 2<<20 - 1) &^ (2<<20 - 1)
	return base, base+matcher.RegionSize <= machine.MaxMemory
}

// installMatcher puts mt into c's trampoline region at guest address
// base, in c's VM only (machine.VCPU.PrivateRegion).
func installMatcher(c *machine.VCPU, base uint64, mt *matcher.Matcher) error {
	region, err := c.PrivateRegion(matcherSlot, base, matcher.RegionSize)
	if err != nil {
		return fmt.Errorf("trampoline region: %w", err)
	}
	put := func(addr uint64, b []byte) error {
		if addr < base || addr-base+uint64(len(b)) > uint64(len(region)) {
			return fmt.Errorf("trampoline part %#x+%d is outside the region at %#x", addr, len(b), base)
		}
		copy(region[addr-base:], b)
		return nil
	}
	if err := put(mt.DataAddr, mt.Data); err != nil {
		return err
	}
	return put(mt.Entry, mt.Code)
}

func describeExit(errno unix.Errno, reason uint32, vector int) string {
	switch {
	case errno != 0:
		return fmt.Sprintf("KVM_RUN: %v", errno)
	case reason == kvm.ExitShutdown:
		return fmt.Sprintf("exception %d", vector)
	}
	return fmt.Sprintf("exit reason %d", reason)
}

// timedOut is the divergence of a seek that ran for Options.SeekTimeout
// without reaching its position: the guest went on past it, or loops
// where the recording did not.
func (s *seeker) timedOut() error {
	return divergence(s.c, s.idx, "the vCPU did not reach the recorded state position %s within %v (%d exits on the way, "+
		"%d stops with the recorded registers but other memory); where it runs now: %s",
		s.want, s.e.opts.SeekTimeout, s.exits, s.memMisses, s.where())
}

// where describes how the vCPU's state differs from the position sought.
func (s *seeker) where() string {
	r, err := s.c.KVM().Regs()
	if err != nil {
		return "registers unreadable"
	}
	got := crewview.LogRegs(r)
	var mem uint64
	if s.e.views != nil {
		mem = s.e.views.OwnedHash(s.c.ID())
	}
	pos := replaylog.StatePos(s.c.Exits(), 0, &got, mem)
	return describeStateDiff(s.want, &pos)
}
