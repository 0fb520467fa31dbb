package record

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/engine/crewview"
	"github.com/crewvm/crewvm/vmm/machine"
)

// A CREW fault, recorded: the VMM decodes the instruction to learn the
// pages it wants (crewview), asks package crew for each transition, stops
// the vCPUs whose rights shrink at a replayable position, changes the
// protections, logs the transition with its orderings and lets the vCPU
// go on.

// Fault implements machine.Engine: a protection fault of v.
func (e *Engine) Fault(v *machine.VCPU) error {
	if e.views == nil {
		return v.GuestError("KVM_RUN: %v", unix.EFAULT)
	}
	regs, err := v.KVM().Regs()
	if err != nil {
		return v.GuestError("read registers after a protection fault: %v", err)
	}
	x, err := v.CPU(regs)
	if err != nil {
		return v.GuestError("KVM_RUN failed with EFAULT: %v", err)
	}
	// The pages wanted are worked out under the lock: another vCPU's
	// transition may take rights from v while v stands at this exit, and
	// replay sees those reductions before it decodes too.
	start := time.Now()
	e.mu.Lock()
	e.costs.Lock.Add(time.Since(start))
	defer func() {
		e.costs.Fault.Add(time.Since(start))
		e.mu.Unlock()
	}()
	f, err := e.views.Wanted(v.ID(), x)
	if err != nil {
		return v.GuestError("KVM_RUN failed with EFAULT: %v", err)
	}
	if f.FP.Approximate || f.Unknown != nil {
		e.stats.Approximate++
	}
	if len(f.Wants) == 0 {
		return e.fallback(v, f)
	}
	for _, w := range f.Wants {
		if err := e.transition(v, w); err != nil {
			return err
		}
	}
	return nil
}

// fallback makes progress where the instruction's footprint does not
// explain its fault (a stale guest TLB entry, an instruction outside the
// decoder's model, such as a gather whose vector registers the VMM does
// not read). It grants in two stages (crewview.FallbackGrant), the other
// vCPUs held once for all of it. Each grant is an ordinary logged
// transition, so replay needs nothing special; the pages flow back as
// the others touch them. Called with e.mu held.
func (e *Engine) fallback(v *machine.VCPU, f *crewview.Footprint) error {
	grant, kind := e.views.FallbackGrant(v.ID(), f.CPU)
	if len(grant) == 0 {
		return v.GuestError("KVM_RUN failed with EFAULT although the vCPU may read all of RAM and write all but its page tables: %s", f.Describe())
	}
	e.stats.Fallbacks++
	for _, h := range e.m.VCPUs() {
		if h == v {
			continue
		}
		_, err := e.stop(h)
		defer h.Release()
		if err != nil {
			return err
		}
	}
	for _, p := range grant {
		if err := e.grant(v.ID(), v.Exits(), crewview.Want{Page: p, Kind: kind}, v.GuestError); err != nil {
			return err
		}
	}
	return nil
}

// transition performs and logs one transition for v's access w, a read
// promoted to a write where the page's history says so (promote.go).
// Called with e.mu held.
func (e *Engine) transition(v *machine.VCPU, w crewview.Want) error {
	kind := e.promo.kind(w)
	if err := e.grant(v.ID(), v.Exits(), crewview.Want{Page: w.Page, Kind: kind}, v.GuestError); err != nil {
		return err
	}
	e.promo.granted(v.ID(), v.Exits(), w, kind, e.views.PageBytes(w.Page))
	return nil
}

// grant performs and logs one transition for actor's access w at its
// exit position exits; failed words an error about the actor. Called
// with e.mu held.
func (e *Engine) grant(actor int, exits uint64, w crewview.Want, failed func(string, ...any) error) error {
	k := e.views
	e.promo.observe(w.Page, k.PageBytes(w.Page))
	plan, err := k.State().Plan(actor, w.Page, w.Kind)
	if err != nil {
		return failed("%v", err)
	}
	cpus := e.m.VCPUs()
	at := make([]crew.Pos, e.m.Actors())
	var held []*machine.VCPU
	defer func() {
		for _, h := range held {
			h.Release()
		}
	}()
	for _, r := range plan.Reduce {
		if r.Actor == len(cpus) {
			// The DMA actor is between transfers while e.mu is free
			// for this transition: it stands where its last one ended.
			at[r.Actor] = crewview.ExitPos(e.dmaN)
			if err := e.protect(r.Actor, w.Page, r.To); err != nil {
				return err
			}
			continue
		}
		h := cpus[r.Actor]
		held = append(held, h)
		pos, err := e.stop(h)
		if err != nil {
			return err
		}
		at[r.Actor] = pos
		if err := e.protect(r.Actor, w.Page, r.To); err != nil {
			return err
		}
	}
	t, err := k.State().Access(actor, w.Page, w.Kind, crewview.ExitPos(exits), at)
	if err != nil {
		return failed("%v", err)
	}
	if err := e.protect(actor, w.Page, t.Grant.To); err != nil {
		return err
	}
	state := replaylog.PageShared
	if t.Grant.To == crew.ReadWrite {
		state = replaylog.PageExclusive
	}
	var cons []replaylog.Constraint
	for _, x := range t.Constraints {
		cons = append(cons, replaylog.Constraint{VCPU: uint32(x.Before.Actor), Pos: k.Position(x.Before.Actor, x.Before.Pos)})
	}
	ev := replaylog.CREW(uint32(actor), replaylog.ExitPos(exits), uint64(w.Page), crewview.LogAccess(w.Kind), state, cons)
	e.stats.Transitions++
	return e.append(ev)
}

// protect sets cpu's rights on page, timed. Called with e.mu held.
func (e *Engine) protect(cpu, page int, r crew.Rights) error {
	start := time.Now()
	err := e.views.Set(cpu, page, r)
	e.costs.Protect.Add(time.Since(start))
	return err
}

// stop holds h out of the guest (machine.Hold) and names where it
// stands. The caller releases h, also on an error, when its rights are
// changed. Called with e.mu held.
func (e *Engine) stop(h *machine.VCPU) (crew.Pos, error) {
	start := time.Now()
	st, how, err := e.m.Hold(h, e.opts.RevokeDeadline)
	if err != nil {
		return 0, err
	}
	e.costs.hold(how, time.Since(start))
	switch how {
	case machine.Kicked:
		e.stats.Kicks++
	case machine.LeftByItself:
		e.stats.Deferred++
	}
	return e.position(h, st)
}

// position names where h, held, stands: an exit position, or the state
// position its latest kick left it at, named on first use with its
// registers and the hash of the pages it owns.
func (e *Engine) position(h *machine.VCPU, st machine.Stand) (crew.Pos, error) {
	if st.Kicks == 0 {
		return crewview.ExitPos(st.Exits), nil
	}
	n := &e.named[h.ID()]
	if n.exits != st.Exits {
		*n = named{exits: st.Exits}
	}
	if n.kicks != st.Kicks {
		regs, err := crewview.StateRegs(h)
		if err != nil {
			return 0, err
		}
		if n.seq+1 >= 1<<crewview.SeqBits {
			return 0, h.GuestError("more than %d kicks between two exits", 1<<crewview.SeqBits-1)
		}
		n.seq++
		n.kicks = st.Kicks
		p := crewview.StatePos(st.Exits, n.seq)
		start := time.Now()
		hash := e.views.OwnedHash(h.ID())
		e.costs.Hash.Add(time.Since(start))
		e.views.Name(h.ID(), p, replaylog.StatePos(st.Exits, n.seq, &regs, hash))
		e.stats.StatePositions++
	}
	return crewview.StatePos(st.Exits, n.seq), nil
}
