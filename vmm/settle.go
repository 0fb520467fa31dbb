package vmm

import (
	"github.com/crewvm/crewvm/vmm/kvm"
	"golang.org/x/sys/unix"
)

// maxSettleSteps bounds how far settle steps a kicked vCPU.
const maxSettleSteps = 64

// heldOut says whether a transition waits to stop c.
func (c *vcpu) heldOut() bool {
	c.gate.Lock()
	defer c.gate.Unlock()
	return c.holds > 0
}

// settle single-steps a kicked vCPU to an instruction where replay can
// seek it at native speed (one the matcher can patch, with the
// instructions after it, or a REP string instruction: seekable in
// matcher_rep.go), so that the state position it is about to be named by
// is cheap to find again. A
// step that exits for a reason of its own (a fault, a trapped
// instruction) ends it at that exit instead, which is better still;
// settle returns the errno of that exit, or EINTR for a stop between
// exits.
func (m *Machine) settle(c *vcpu) unix.Errno {
	c.kvm.Unkick()
	ram := m.mem.Host()
	for i := 0; i < maxSettleSteps && !m.stopping.Load(); i++ {
		r, err := c.kvm.Regs()
		if err != nil || r.RIP >= uint64(len(ram)) {
			break
		}
		if seekable(ram[r.RIP:min(r.RIP+windowFetch, uint64(len(ram)))], r.RIP) == nil {
			break
		}
		if c.kvm.SetGuestDebug(kvm.DebugEnable|kvm.DebugSingleStep, [8]uint64{}) != nil {
			break
		}
		errno := c.kvm.Run()
		// The step's exception is read before single-stepping is
		// turned off, in the order seek's steps use: a recording on an
		// Intel host once took what looks like a completed step for the
		// guest's own exception (crew/HOSTFACTS.md section 6), and a
		// KVM_SET_GUEST_DEBUG between the exit and the read was the one
		// difference from seek.
		stepped := errno == 0 && c.kvm.RunData().ExitReason == kvm.ExitShutdown && c.kvm.Exception() == 1
		c.kvm.SetGuestDebug(0, [8]uint64{})
		switch {
		case errno == unix.EINTR || errno == unix.EAGAIN:
			c.kvm.Unkick()
		case stepped:
		default:
			return errno
		}
	}
	return unix.EINTR
}
