package vmm

import (
	"fmt"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/x86"
)

// recordFault serves a CREW fault of c while recording.
func (m *Machine) recordFault(c *vcpu) error {
	k := m.crew
	regs, err := c.kvm.Regs()
	if err != nil {
		return c.guestError("read registers after a protection fault: %v", err)
	}
	// The pages wanted are worked out under the lock: another vCPU's
	// transition may take rights from c while c stands at this exit, and
	// replay (replayFault) sees those reductions before it decodes too.
	k.mu.Lock()
	defer k.mu.Unlock()
	f, err := k.wanted(c, m.mem.Host(), regs)
	if err != nil {
		return c.guestError("KVM_RUN failed with EFAULT: %v", err)
	}
	if f.fp.Approximate || f.unknown != nil {
		k.stats.Approximate++
	}
	if len(f.wants) == 0 {
		return m.recordFallback(c, f, f.cpu)
	}
	for _, w := range f.wants {
		if err := m.recordTransition(c, w); err != nil {
			return err
		}
	}
	return nil
}

// recordFallback makes progress where the instruction's footprint does
// not explain its fault (a stale guest TLB entry, an instruction outside
// the decoder's model, such as a gather whose vector registers the VMM
// does not read). It grants in two stages, the other vCPUs held once for
// all of it: first read rights on every page c cannot read (the others
// keep theirs); if the instruction faults again unexplained, exclusive
// write on every page c cannot write, except the guest's paging
// structures, whose read rights no vCPU may lose. Each grant is an
// ordinary logged transition, so replay needs nothing special; the pages
// flow back as the others touch them. Called with k.mu held.
func (m *Machine) recordFallback(c *vcpu, f *footprint, cpu *x86.CPU) error {
	k := m.crew
	grant, kind := k.fallbackGrant(c, m.mem.Host(), cpu)
	if len(grant) == 0 {
		return c.guestError("KVM_RUN failed with EFAULT although the vCPU may read all of RAM and write all but its page tables: %s", f.describe())
	}
	k.stats.Fallbacks++
	for _, h := range m.cpus {
		if h == c {
			continue
		}
		if _, err := m.stopHolder(h); err != nil {
			return err
		}
		defer h.release()
	}
	for _, p := range grant {
		if err := m.recordTransition(c, want{page: p, kind: kind}); err != nil {
			return err
		}
	}
	return nil
}

// fallbackGrant is what the next stage of recordFallback grants c.
func (k *crewCtl) fallbackGrant(c *vcpu, ram []byte, cpu *x86.CPU) ([]int, crew.Kind) {
	var grant []int
	for p, r := range c.rights {
		if r == crew.None {
			grant = append(grant, p)
		}
	}
	if len(grant) > 0 {
		return grant, crew.Read
	}
	tables := map[int]bool{}
	for _, gpa := range x86.PagingPages(ramReader(ram), cpu) {
		if p, ok := k.st.PageOf(gpa); ok {
			tables[p] = true
		}
	}
	for p, r := range c.rights {
		if r != crew.ReadWrite && !tables[p] {
			grant = append(grant, p)
		}
	}
	return grant, crew.Write
}

// replayFault serves a CREW fault of c on replay: the log must have the
// same transitions at this exit; each waits for its orderings.
func (m *Machine) replayFault(c *vcpu) error {
	regs, err := c.kvm.Regs()
	if err != nil {
		return c.guestError("read registers after a protection fault: %v", err)
	}
	// The reductions logged before c's transitions at this exit are
	// applied first: the recorder decoded after them (recordFault).
	m.rep.mu.Lock()
	_, err = m.serveDue(c)
	m.rep.mu.Unlock()
	if err != nil {
		return err
	}
	f, err := m.crew.wanted(c, m.mem.Host(), regs)
	if err != nil {
		return c.guestError("KVM_RUN failed with EFAULT: %v", err)
	}
	if len(f.wants) == 0 {
		return m.replayFallback(c, f)
	}
	for _, w := range f.wants {
		what := fmt.Sprintf("a %s of page %d", w.kind, w.page)
		it, err := m.expect(c, replaylog.KindCREW, what)
		if err != nil {
			return err
		}
		if it.page != w.page || crewKind(it.ev.Access) != w.kind {
			return c.divergence(it.idx, "the guest faulted on %s, but the log has %s", what, it.ev.String())
		}
		if err := m.crew.setRights(c, it.page, it.rights); err != nil {
			return err
		}
	}
	return nil
}

// replayFallback replays recordFallback: every transition of c logged at
// this exit, at least one.
func (m *Machine) replayFallback(c *vcpu, f *footprint) error {
	p := m.rep
	for n := 0; ; n++ {
		p.mu.Lock()
		it, err := m.serveDue(c)
		p.mu.Unlock()
		if err != nil {
			return err
		}
		if it.ev == nil || it.ev.Kind != replaylog.KindCREW || it.pos != c.current() {
			if n == 0 {
				return c.divergence(it.idx, "the guest faulted at exit %d on %s, which needs no page it lacks, but the log has %s",
					c.exits, f.describe(), p.describe(it))
			}
			return nil
		}
		it, err = m.expect(c, replaylog.KindCREW, "a fallback grant")
		if err != nil {
			return err
		}
		if err := m.crew.setRights(c, it.page, it.rights); err != nil {
			return err
		}
	}
}
