package replay

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/engine/crewview"
	"github.com/crewvm/crewvm/vmm/machine"
)

// Fault implements machine.Engine: a CREW fault of c on replay. The log
// must have the same transitions at this exit; each waits for its
// orderings.
func (e *Engine) Fault(c *machine.VCPU) error {
	if e.views == nil {
		return c.GuestError("KVM_RUN: %v", unix.EFAULT)
	}
	return e.parkAt(c, e.fault(c))
}

func (e *Engine) fault(c *machine.VCPU) error {
	regs, err := c.KVM().Regs()
	if err != nil {
		return c.GuestError("read registers after a protection fault: %v", err)
	}
	// The reductions logged before c's transitions at this exit are
	// applied first: the recorder decoded after them.
	e.mu.Lock()
	_, err = e.serveDue(c)
	e.mu.Unlock()
	if err != nil {
		return err
	}
	x, err := c.CPU(regs)
	if err != nil {
		return c.GuestError("KVM_RUN failed with EFAULT: %v", err)
	}
	f, err := e.views.Wanted(c.ID(), x)
	if err != nil {
		return c.GuestError("KVM_RUN failed with EFAULT: %v", err)
	}
	if len(f.Wants) == 0 {
		return e.fallback(c, f)
	}
	for _, w := range f.Wants {
		what := fmt.Sprintf("a %s of page %d", w.Kind, w.Page)
		it, err := e.expect(c, replaylog.KindCREW, what)
		if err != nil {
			return err
		}
		if it.page != w.Page || !covers(crewview.Kind(it.ev.Access), w.Kind) {
			return divergence(c, it.idx, "the guest faulted on %s, but the log has %s", what, it.ev.String())
		}
		if err := e.views.Set(c.ID(), it.page, it.rights); err != nil {
			return err
		}
	}
	return nil
}

// fallback replays the record engine's fallback: every transition of c
// logged at this exit, at least one.
func (e *Engine) fallback(c *machine.VCPU, f *crewview.Footprint) error {
	for n := 0; ; n++ {
		e.mu.Lock()
		it, err := e.serveDue(c)
		e.mu.Unlock()
		if err != nil {
			return err
		}
		if it.ev == nil || it.ev.Kind != replaylog.KindCREW || it.pos != e.current(c) {
			if n == 0 {
				return divergence(c, it.idx, "the guest faulted at exit %d on %s, which needs no page it lacks, but the log has %s",
					c.Exits(), f.Describe(), e.describe(it))
			}
			return nil
		}
		it, err = e.expect(c, replaylog.KindCREW, "a fallback grant")
		if err != nil {
			return err
		}
		if err := e.views.Set(c.ID(), it.page, it.rights); err != nil {
			return err
		}
	}
}

// covers says whether a logged transition for an access of kind logged
// serves a fault that wants want: the same kind, or a write for a read
// (the recorder promotes reads of pages it saw read and then written).
func covers(logged, want crew.Kind) bool {
	return logged == want || logged == crew.Write && want == crew.Read
}
