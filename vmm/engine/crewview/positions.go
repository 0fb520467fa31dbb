package crewview

import (
	"fmt"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/machine"
)

// Positions. A vCPU stopped outside KVM_RUN after its n-th exit is at exit
// position n: exits happen at the same instruction in every replay, and
// the VMM's handling of an exit touches no guest memory. A vCPU stopped by
// a kick is at a state position: the first point after exit n with its
// registers and the hash of the pages it owns exclusively. crew numbers
// both in one sequence per vCPU: exit n is n<<SeqBits, the k-th state
// position after it n<<SeqBits|k.

// SeqBits is the width of a state position's number after its exit.
const SeqBits = 20

// ExitPos is exit position n in crew's sequence.
func ExitPos(n uint64) crew.Pos { return crew.Pos(n << SeqBits) }

// StatePos is the seq-th state position after exit n.
func StatePos(n, seq uint64) crew.Pos { return ExitPos(n) | crew.Pos(seq) }

// SeqPos numbers a log position of vCPU v in crew's sequence.
func SeqPos(v int, at replaylog.Position) (crew.Pos, error) {
	if at.Exits >= 1<<(64-SeqBits) {
		return 0, fmt.Errorf("vCPU %d: exit count %d out of range", v, at.Exits)
	}
	switch at.Kind {
	case replaylog.PosNone, replaylog.PosExit:
		return ExitPos(at.Exits), nil
	}
	if at.Seq < 1 || at.Seq >= 1<<SeqBits {
		return 0, fmt.Errorf("vCPU %d: state position %s: sequence number out of range", v, at)
	}
	return StatePos(at.Exits, at.Seq), nil
}

// LogRegs are registers as a log position holds them.
func LogRegs(r *kvm.Regs) replaylog.Regs {
	return replaylog.Regs{GPR: machine.GPRs(r), RIP: r.RIP, RFLAGS: r.RFLAGS}
}

// KVMRegs are the registers a log position or checkpoint holds, for
// KVM_SET_REGS: LogRegs the other way.
func KVMRegs(r *replaylog.Regs) *kvm.Regs {
	g := r.GPR
	return &kvm.Regs{RAX: g[0], RCX: g[1], RDX: g[2], RBX: g[3], RSP: g[4], RBP: g[5], RSI: g[6], RDI: g[7],
		R8: g[8], R9: g[9], R10: g[10], R11: g[11], R12: g[12], R13: g[13], R14: g[14], R15: g[15], RIP: r.RIP, RFLAGS: r.RFLAGS}
}

// StateRegs are c's registers as a state position records them: without
// the bits a kick or a step may leave either way (RFLAGSIgnored). c is
// out of the guest.
func StateRegs(c *machine.VCPU) (replaylog.Regs, error) {
	r, err := c.KVM().Regs()
	if err != nil {
		return replaylog.Regs{}, fmt.Errorf("vCPU %d: read registers: %w", c.ID(), err)
	}
	regs := LogRegs(r)
	regs.RFLAGS &^= replaylog.RFLAGSIgnored
	return regs, nil
}

// LogAccess is the log's name for an access kind.
func LogAccess(k crew.Kind) replaylog.Access {
	switch k {
	case crew.Write:
		return replaylog.AccessWrite
	case crew.Fetch:
		return replaylog.AccessFetch
	}
	return replaylog.AccessRead
}

// Kind is crew's name for a logged access kind.
func Kind(a replaylog.Access) crew.Kind {
	switch a {
	case replaylog.AccessWrite:
		return crew.Write
	case replaylog.AccessFetch:
		return crew.Fetch
	}
	return crew.Read
}
