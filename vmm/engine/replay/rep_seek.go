package replay

// The VMM's side of seeking inside a REP string instruction
// (package matcher's rep.go): running the iterations before the position.

import (
	"fmt"

	"github.com/crewvm/crewvm/vmm/engine/crewview"
	"github.com/crewvm/crewvm/vmm/engine/matcher"
	"github.com/crewvm/crewvm/vmm/kvm"
)

// repHit handles a hit of the matcher of a position inside a REP string
// instruction (package matcher's rep.go), registers r, or of its int3
// where it could not be patched: it runs the iterations that separate
// this arrival from the position, if it can come in it, and compares
// there. It reports whether the vCPU is at the position.
func (s *seeker) repHit(r *kvm.Regs) (bool, error) {
	c, bp, mt := s.c, s.bp, s.bp.mt
	o, want := mt.Rep, &s.want.Regs
	cur := crewview.LogRegs(r)
	r.RIP = bp.rip
	j, ok := o.Plan(&cur.GPR, &want.GPR, r.RFLAGS, want.RFLAGS)
	if ok && j == 0 && s.atState(r) {
		return true, c.KVM().SetRegs(r)
	}
	if ok && j > 0 {
		k := want.GPR[matcher.GPRRCX] & o.Mask()
		var err error
		if r, err = s.iterate(r, j); err != nil {
			return false, err
		}
		rcx, at := o.Finish(r.RCX, r.RFLAGS, k)
		r.RCX = rcx
		switch {
		case at:
			r.RIP = bp.rip
			if o.Conditional() {
				// Where a REPE/REPNE instruction was stopped between
				// iterations, Intel hosts leave other compare flags
				// than those of the last iteration, which AMD ones
				// leave (crew/HOSTFACTS.md section 6): the recording's
				// are taken, since no later iteration reads them
				// (each sets its own).
				r.RFLAGS = r.RFLAGS&^matcher.RFLAGSArith | want.RFLAGS&matcher.RFLAGSArith
			}
			if s.atState(r) {
				return true, c.KVM().SetRegs(r)
			}
		case !o.Conditional():
			return false, divergence(c, s.idx, "%d iterations of the REP instruction at %#x stopped with RCX %#x left while seeking %s",
				j, bp.rip, r.RCX, s.want)
		default:
			// REPE/REPNE ended early: the position is not in this
			// arrival; go on after the instruction.
			r.RIP = mt.After(0)
			if mt.StubOnly {
				r.RIP = bp.rip + uint64(mt.RepLen)
			}
			return false, c.KVM().SetRegs(r)
		}
	}
	if mt.StubOnly {
		// The rest of the instruction at once, then on after it.
		var err error
		if r, err = s.iterate(r, r.RCX&o.Mask()); err != nil {
			return false, err
		}
		r.RIP = bp.rip + uint64(mt.RepLen)
		return false, c.KVM().SetRegs(r)
	}
	// The rest of the instruction, then the window, relocated.
	r.RIP = mt.ResumeRIP
	if err := c.KVM().SetRegs(r); err != nil {
		return false, fmt.Errorf("vCPU %d: resume after a false match: %w", c.ID(), err)
	}
	return false, nil
}

// iterate runs j iterations of the REP string instruction of the matcher,
// for a vCPU with registers r at its RIP, in the copy that an int3
// follows, and returns the registers after them (RCX as the copy left it).
func (s *seeker) iterate(r *kvm.Regs, j uint64) (*kvm.Regs, error) {
	c, mt := s.c, s.bp.mt
	r.RCX = mt.Rep.WithCount(r.RCX, j)
	r.RIP = mt.Stub
	if err := c.KVM().SetRegs(r); err != nil {
		return nil, fmt.Errorf("vCPU %d: run %d iterations of the REP instruction at %#x: %w", c.ID(), j, s.bp.rip, err)
	}
	if err := s.enter(3); err != nil {
		return nil, err
	}
	r, err := c.KVM().Regs()
	if err != nil {
		return nil, fmt.Errorf("vCPU %d: read registers after %d iterations: %w", c.ID(), j, err)
	}
	if r.RIP != mt.StubInt3+1 {
		return nil, divergence(c, s.idx, "the guest executed an int3 of its own at %#x while seeking %s", r.RIP-1, s.want)
	}
	return r, nil
}
