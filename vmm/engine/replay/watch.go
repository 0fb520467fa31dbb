package replay

import (
	"github.com/crewvm/crewvm/analysis"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/machine"
)

// Watch looks at replaying vCPUs at each of their exits and, in trace
// mode, after each instruction stepped: what vmm bisect compares between
// two executions of one log (package bisect). A hook runs on the vCPU's
// own thread, which waits for it; an error it returns ends the replay
// with that error.
type Watch struct {
	// Exit is called after each exit of every vCPU, before the replay
	// serves it: the registers are those the exit left.
	Exit func(p *Point) error
	// Step is called in trace mode after each instruction completed.
	Step func(p *Point) error
}

// Window limits a trace-mode replay to one vCPU between two of its
// exits: its instructions after exit From and up to exit To are
// stepped, everything else runs at replay speed.
type Window struct {
	CPU      int
	From, To uint64
}

// contains says whether c, at its current exit count, is in w.
func (w *Window) contains(c *machine.VCPU) bool {
	return c.ID() == w.CPU && c.Exits() >= w.From && c.Exits() < w.To
}

// Point is a vCPU stopped at an exit, or after a traced instruction.
type Point struct {
	CPU int
	// Exits counts the vCPU's exits so far; Step, the instructions
	// completed since the last of them (0 at an exit).
	Exits, Step uint64
	// RIP is where the instruction just completed began (Step only).
	RIP  uint64
	Regs *kvm.Regs
	// Accesses are the data accesses of the instruction just completed,
	// written values included (Step only; valid during the call).
	Accesses []analysis.Access

	e *Engine
	c *machine.VCPU
}

// Stable returns the guest-physical ranges whose contents no other actor
// can change while the vCPU stands at p, so that two executions can
// compare them there: all of RAM when it is the only actor, else the
// pages it owns exclusively. Valid during the hook's call.
func (p *Point) Stable() []AddrRange {
	if p.e.views == nil {
		return []AddrRange{{0, uint64(len(p.e.m.Memory().Host()))}}
	}
	var out []AddrRange
	p.e.views.Owned(p.c.ID(), func(lo, hi uint64) { out = append(out, AddrRange{lo, hi}) })
	return out
}

// Events is one past the index of the last log event the vCPU has
// consumed (0: none yet).
func (p *Point) Events() uint64 {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	return p.e.consumed[p.c.ID()]
}

// RAM is guest memory, to read what Stable names.
func (p *Point) RAM() []byte { return p.e.m.Memory().Host() }

// watchExit calls the Exit hook for c's exit.
func (e *Engine) watchExit(c *machine.VCPU) {
	r, err := c.KVM().Regs()
	if err == nil {
		err = e.opts.Watch.Exit(&Point{CPU: c.ID(), Exits: c.Exits(), Regs: r, e: e, c: c})
	}
	if err != nil {
		e.m.Finish(0, err)
	}
}
