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
	errno, _ := settle(m, v)
	return errno
}

// settle is Settle that also counts its single-steps. Stepping is
// turned on once for all the steps, and where the host has
// KVM_CAP_SYNC_REGS each step's registers and exception come back in
// kvm_run: two ioctls a step instead of five, each of which loads the
// vCPU on PVM.
func settle(m *machine.Machine, v *machine.VCPU) (unix.Errno, int) {
	c := v.KVM()
	c.Unkick()
	ram := m.Memory().Host()
	r, err := c.Regs()
	if err != nil {
		return unix.EINTR, 0
	}
	stepping, synced := false, false
	defer func() {
		if stepping {
			if synced {
				c.SyncRegs(false)
			}
			c.SetGuestDebug(0, [8]uint64{})
		}
	}()
	for i := 0; i < maxSettleSteps && !m.Stopping(); i++ {
		if r.RIP >= uint64(len(ram)) {
			return unix.EINTR, i
		}
		if matcher.Seekable(ram[r.RIP:min(r.RIP+matcher.WindowFetch, uint64(len(ram)))], r.RIP) == nil {
			return unix.EINTR, i
		}
		if !stepping {
			if c.SetGuestDebug(kvm.DebugEnable|kvm.DebugSingleStep, [8]uint64{}) != nil {
				return unix.EINTR, i
			}
			stepping, synced = true, c.SyncRegs(true)
		}
		errno := c.Run()
		if errno == unix.EINTR || errno == unix.EAGAIN {
			// A signal may end the KVM_RUN before it stored the
			// registers, or after the step: read them again.
			c.Unkick()
			if r, err = c.Regs(); err != nil {
				return unix.EINTR, i + 1
			}
			continue
		}
		// The step's exception is read before single-stepping is
		// turned off, in the order seek's steps use: a recording on an
		// Intel host once took what looks like a completed step for the
		// guest's own exception (crew/HOSTFACTS.md section 6), and a
		// KVM_SET_GUEST_DEBUG between the exit and the read was the one
		// difference from seek.
		if errno != 0 || c.RunData().ExitReason != kvm.ExitShutdown {
			return errno, i + 1
		}
		vector := -1
		if synced {
			var regs kvm.Regs
			regs, vector = c.Synced()
			r = &regs
		} else if vector = c.Exception(); vector == 1 {
			if r, err = c.Regs(); err != nil {
				return unix.EINTR, i + 1
			}
		}
		if vector != 1 {
			return errno, i + 1
		}
	}
	return unix.EINTR, maxSettleSteps
}
