package vmm

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/kvm"
	"golang.org/x/sys/unix"
)

// Seeking a state position on replay (DESIGN.md section 4). Hardware
// breakpoints never fire under PVM (crew/HOSTFACTS.md), so the stop is
// a patch in private copy-on-write copies of the code pages in the
// vCPU's own mapping. Where the instructions at the recorded RIP can be
// relocated, the patch is a jmp over a window of them to a matcher
// (matcher.go) that compares the registers natively in the guest and
// traps only on a full match, so a loop runs at nearly full speed until
// the recorded iteration; inside a REP string instruction the VMM then
// runs the missing iterations natively (matcher_rep.go, matcher_rep_seek.go).
// Where no window can be patched, an int3 traps at every pass and the VMM
// compares: a REP string instruction's iterations then run in a copy,
// two exits an arrival; any other instruction is single-stepped.

// matcherSlot is the memory slot of a vCPU's trampoline region.
const matcherSlot = 1

// rflagsIgnored are RFLAGS bits that a kick or a step may leave
// differently and that the guest never looks at: TF (8), RF (16).
const rflagsIgnored = 1<<8 | 1<<16

// breakpoint is an installed stop at a recorded RIP in one vCPU's view.
type breakpoint struct {
	c      *vcpu
	pages  []uint64 // guest addresses of the code pages the patch covers
	orig   []byte   // the bytes the patch replaced, at rip
	rip    uint64
	hitRIP uint64   // RIP after the trap of a hit
	mt     *matcher // nil for a plain int3
}

// seeker is one vCPU's way to one state position.
type seeker struct {
	m    *Machine
	c    *vcpu
	want *replaylog.Position
	idx  uint64 // the log event that names the position
	bp   *breakpoint
	// exits counts the times the vCPU left the guest: the seek's cost.
	exits int
	// memMisses counts stops with every register right but memory not.
	memMisses int
	// expired is set, and the vCPU kicked, when the seek has run for
	// Config.SeekTimeout without a match.
	expired atomic.Bool
}

// seek runs c from its current exit to the state position want, logged
// at event idx.
func (m *Machine) seek(c *vcpu, want *replaylog.Position, idx uint64) error {
	_, err := m.seekExits(c, want, idx)
	return err
}

// seekExits is seek, also returning how many times c left the guest on
// the way.
func (m *Machine) seekExits(c *vcpu, want *replaylog.Position, idx uint64) (int, error) {
	r, err := c.kvm.Regs()
	if err != nil {
		return 0, fmt.Errorf("vCPU %d: read registers: %w", c.id, err)
	}
	if m.atState(c, r, want) {
		return 0, nil
	}
	from := toLogRegs(r)
	bp, err := m.insertBreakpoint(c, &want.Regs, &from)
	if err != nil {
		return 0, c.divergence(idx, "cannot stop at the recorded state position %s: %v", want, err)
	}
	s := &seeker{m: m, c: c, want: want, idx: idx, bp: bp}
	limit := time.AfterFunc(m.cfg.SeekTimeout, func() {
		s.expired.Store(true)
		c.kick()
	})
	err = s.run(r)
	limit.Stop()
	if rerr := bp.remove(m); err == nil {
		err = rerr
	}
	return s.exits, err
}

// run lets the vCPU, with registers r, go until it is at the position.
func (s *seeker) run(r *kvm.Regs) error {
	c, bp := s.c, s.bp
	if to, ok := bp.mt.relocated(bp.rip, r.RIP); ok {
		// Stopped inside the window: go on in its relocated copy.
		r.RIP = to
		if err := c.kvm.SetRegs(r); err != nil {
			return fmt.Errorf("vCPU %d: enter the relocated window: %w", c.id, err)
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
		r, err := c.kvm.Regs()
		if err != nil {
			return fmt.Errorf("vCPU %d: read registers at a breakpoint: %w", c.id, err)
		}
		var done bool
		switch to, into := bp.mt.redirect(bp.rip, r.RIP); {
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
			err = c.kvm.SetRegs(r)
		case bp.mt != nil && bp.inWindow(r.RIP-1):
			// A branch into the window where the decode saw no
			// instruction start (past an unconditional jmp).
			r.RIP--
			done, err = s.stepOriginal(r)
		default:
			return c.divergence(s.idx, "the guest executed an int3 of its own at %#x while seeking %s", r.RIP-1, s.want)
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
		errno := c.kvm.Run()
		if s.m.stopping.Load() {
			return errStopping
		}
		if errno == unix.EINTR || errno == unix.EAGAIN {
			// A signal, not the guest: the run is over, the seek has
			// taken too long, or it goes on.
			c.kvm.Unkick()
			if s.expired.Load() {
				return s.timedOut()
			}
			continue
		}
		s.exits++
		got := -1
		if errno == 0 && c.kvm.RunData().ExitReason == kvm.ExitShutdown {
			got = c.kvm.Exception()
		}
		if got != vector {
			return c.divergence(s.idx, "the vCPU left the guest (%s) before reaching the recorded state position %s; where it stopped: %s",
				describeExit(errno, c.kvm.RunData().ExitReason, got), s.want, s.where())
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
		return true, s.c.kvm.SetRegs(r)
	}
	r.RIP = s.bp.mt.ResumeRIP
	if err := s.c.kvm.SetRegs(r); err != nil {
		return false, fmt.Errorf("vCPU %d: resume after a false match: %w", s.c.id, err)
	}
	return false, nil
}

// stepThrough compares and single-steps the vCPU, with registers r, while
// it stays at the int3's RIP (a REP string instruction stays there once
// per iteration), then re-arms the int3. It reports whether the vCPU
// reached the position.
func (s *seeker) stepThrough(r *kvm.Regs) (bool, error) {
	c, bp := s.c, s.bp
	view := c.view.Bytes()[bp.rip : bp.rip+1]
	view[0] = bp.orig[0]
	defer func() { view[0] = 0xcc }()
	for r.RIP == bp.rip {
		if s.atState(r) {
			return true, c.kvm.SetRegs(r)
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
	if err := c.kvm.SetRegs(r); err != nil {
		return nil, fmt.Errorf("vCPU %d: set registers to step: %w", c.id, err)
	}
	if err := c.kvm.SetGuestDebug(kvm.DebugEnable|kvm.DebugSingleStep, [8]uint64{}); err != nil {
		return nil, fmt.Errorf("vCPU %d: single-step: %w", c.id, err)
	}
	err := s.enter(1)
	if derr := c.kvm.SetGuestDebug(0, [8]uint64{}); err == nil && derr != nil {
		err = fmt.Errorf("vCPU %d: end single-stepping: %w", c.id, derr)
	}
	if err != nil {
		return nil, err
	}
	r, err = c.kvm.Regs()
	if err != nil {
		return nil, fmt.Errorf("vCPU %d: read registers after a step: %w", c.id, err)
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
	patched := c.view.Bytes()[bp.rip : bp.rip+uint64(len(bp.orig))]
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
		return true, c.kvm.SetRegs(r)
	}
	return false, c.kvm.SetRegs(r)
}

// atState says whether the vCPU, with registers r, is at the position,
// its stores into the private code pages included.
func (s *seeker) atState(r *kvm.Regs) bool {
	if s.m.crew != nil {
		s.bp.writeBack(s.m)
	}
	if !regsAt(r, s.want) {
		return false
	}
	if s.m.memAt(s.c, s.want) {
		return true
	}
	s.memMisses++
	return false
}

// atState says whether c, with registers r, is at the state position.
func (m *Machine) atState(c *vcpu, r *kvm.Regs, want *replaylog.Position) bool {
	return regsAt(r, want) && m.memAt(c, want)
}

// regsAt says whether registers r are the state position's, but for the
// RFLAGS bits a kick or a step may leave either way.
func regsAt(r *kvm.Regs, want *replaylog.Position) bool {
	got := toLogRegs(r)
	got.RFLAGS &^= rflagsIgnored
	w := want.Regs
	w.RFLAGS &^= rflagsIgnored
	return got == w
}

// memAt says whether the pages c owns hash as they did at the position.
func (m *Machine) memAt(c *vcpu, want *replaylog.Position) bool {
	return m.crew == nil || m.crew.ownedHash(c, m.mem.Host()) == want.MemHash
}

// insertBreakpoint patches private copies of the code pages at want.RIP in
// c's view, c's registers being from: a jump to a matcher where possible,
// an int3 otherwise.
func (m *Machine) insertBreakpoint(c *vcpu, want, from *replaylog.Regs) (*breakpoint, error) {
	rip, ram := want.RIP, m.mem.Host()
	if rip >= uint64(len(ram)) {
		return nil, fmt.Errorf("rip %#x is outside RAM", rip)
	}
	code := append([]byte(nil), ram[rip:min(rip+tailFetch, uint64(len(ram)))]...)
	bp := &breakpoint{c: c, rip: rip, hitRIP: rip + 1}
	patch := []byte{0xcc}
	if base, ok := m.matcherBase(); ok {
		mt, err := buildMatcherFrom(code, want, from, base)
		if err != nil {
			mt, err = buildRepStub(code, want, base)
		}
		if err == nil && c.installMatcher(base, mt) == nil {
			patch, bp.hitRIP, bp.mt = mt.Patch, mt.HitRIP+1, mt
		}
	}
	for page := rip &^ (pageSize - 1); page < rip+uint64(len(patch)); page += pageSize {
		if err := c.view.PrivatePage(page); err != nil {
			err = fmt.Errorf("private copy of code page: %w", err)
			if rerr := bp.remove(m); rerr != nil {
				err = fmt.Errorf("%w; %w", err, rerr)
			}
			return nil, err
		}
		bp.pages = append(bp.pages, page)
	}
	bp.orig = append([]byte(nil), c.view.Bytes()[rip:rip+uint64(len(patch))]...)
	copy(c.view.Bytes()[rip:], patch)
	return bp, nil
}

// writeBack copies what c stored into the private copies of the pages it
// may write back to the shared RAM, with the patch's bytes as they were.
func (bp *breakpoint) writeBack(m *Machine) {
	c, host := bp.c, m.mem.Host()
	for _, page := range bp.pages {
		if bp.rights(m, page)&unix.PROT_WRITE == 0 {
			continue
		}
		copy(host[page:page+pageSize], c.view.Bytes()[page:page+pageSize])
		lo, hi := max(page, bp.rip), min(page+pageSize, bp.rip+uint64(len(bp.orig)))
		copy(host[lo:hi], bp.orig[lo-bp.rip:])
	}
}

// rights are c's host protections on page.
func (bp *breakpoint) rights(m *Machine, page uint64) int {
	if m.crew == nil {
		return unix.PROT_READ | unix.PROT_WRITE
	}
	return hostProt(bp.c.rights[page/m.crew.gran])
}

// remove restores the shared mapping of the code pages with c's rights,
// first writing back what c itself stored into the private copies of the
// pages it may write.
func (bp *breakpoint) remove(m *Machine) error {
	c := bp.c
	if bp.orig != nil {
		copy(c.view.Bytes()[bp.rip:], bp.orig)
	}
	bp.writeBack(m)
	for _, page := range bp.pages {
		if err := c.view.SharePage(page, bp.rights(m, page)); err != nil {
			return fmt.Errorf("vCPU %d: restore code page: %w", c.id, err)
		}
	}
	bp.pages = nil
	return nil
}

// matcherBase is the guest address of the trampoline region: just above
// RAM, inside the identity map and near the code.
func (m *Machine) matcherBase() (uint64, bool) {
	base := (m.cfg.MemSize + 2<<20 - 1) &^ (2<<20 - 1)
	return base, base+matcherRegionSize <= maxMemory
}

// installMatcher puts mt into c's trampoline region at guest address
// base, in c's VM only, creating the region on first use: sparse
// anonymous memory, of which only the pages written take up room.
func (c *vcpu) installMatcher(base uint64, mt *matcher) error {
	if c.matcher == nil {
		b, err := unix.Mmap(-1, 0, matcherRegionSize, unix.PROT_READ|unix.PROT_WRITE,
			unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
		if err != nil {
			return fmt.Errorf("trampoline region: %w", err)
		}
		if err := c.kvm.MapSlot(matcherSlot, base, b); err != nil {
			unix.Munmap(b)
			return fmt.Errorf("trampoline slot: %w", err)
		}
		c.matcher = b
	}
	put := func(addr uint64, b []byte) error {
		if addr < base || addr-base+uint64(len(b)) > uint64(len(c.matcher)) {
			return fmt.Errorf("trampoline part %#x+%d is outside the region at %#x", addr, len(b), base)
		}
		copy(c.matcher[addr-base:], b)
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

// timedOut is the divergence of a seek that ran for Config.SeekTimeout
// without reaching its position: the guest went on past it, or loops
// where the recording did not.
func (s *seeker) timedOut() error {
	return s.c.divergence(s.idx, "the vCPU did not reach the recorded state position %s within %v (%d exits on the way, "+
		"%d stops with the recorded registers but other memory); where it runs now: %s",
		s.want, s.m.cfg.SeekTimeout, s.exits, s.memMisses, s.where())
}

// where describes how the vCPU's state differs from the position sought.
func (s *seeker) where() string {
	r, err := s.c.kvm.Regs()
	if err != nil {
		return "registers unreadable"
	}
	got := toLogRegs(r)
	var mem uint64
	if s.m.crew != nil {
		mem = s.m.crew.ownedHash(s.c, s.m.mem.Host())
	}
	pos := replaylog.StatePos(s.c.exits, 0, &got, mem)
	return describeStateDiff(s.want, &pos)
}
