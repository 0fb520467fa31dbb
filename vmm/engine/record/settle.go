package record

import (
	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/vmm/engine/matcher"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/machine"
)

// maxSettleSteps bounds how far settle steps a kicked vCPU.
const maxSettleSteps = 64

// Settle single-steps a kicked vCPU to an instruction where replay can
// seek it at native speed (one the matcher can patch, with the
// instructions after it, or a REP string instruction: matcher.Seekable),
// so that the state position it is about to be named by is cheap to find
// again. A step that exits for a reason of its own (a fault, a trapped
// instruction) ends it at that exit instead, which is better still;
// Settle returns the errno of that exit, or EINTR for a stop between
// exits. The record engine settles every vCPU it kicks for a
// transition; anything that stops a vCPU to name its position can.
func Settle(m *machine.Machine, v *machine.VCPU) unix.Errno {
	c := v.KVM()
	c.Unkick()
	ram := m.Memory().Host()
	for i := 0; i < maxSettleSteps && !m.Stopping(); i++ {
		r, err := c.Regs()
		if err != nil || r.RIP >= uint64(len(ram)) {
			break
		}
		if matcher.Seekable(ram[r.RIP:min(r.RIP+matcher.WindowFetch, uint64(len(ram)))], r.RIP) == nil {
			break
		}
		if c.SetGuestDebug(kvm.DebugEnable|kvm.DebugSingleStep, [8]uint64{}) != nil {
			break
		}
		errno := c.Run()
		// The step's exception is read before single-stepping is
		// turned off, in the order seek's steps use: a recording on an
		// Intel host once took what looks like a completed step for the
		// guest's own exception (crew/HOSTFACTS.md section 6), and a
		// KVM_SET_GUEST_DEBUG between the exit and the read was the one
		// difference from seek.
		stepped := errno == 0 && c.RunData().ExitReason == kvm.ExitShutdown && c.Exception() == 1
		c.SetGuestDebug(0, [8]uint64{})
		switch {
		case errno == unix.EINTR || errno == unix.EAGAIN:
			c.Unkick()
		case stepped:
		default:
			return errno
		}
	}
	return unix.EINTR
}
