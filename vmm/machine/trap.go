package machine

import (
	"encoding/binary"

	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/abi"
	"github.com/crewvm/crewvm/vmm/x86"
)

// The guest runs at CPL 3. Where KVM is hardware-assisted, IOPL 3 lets its
// port I/O exit to the VMM as usual. On PVM-based KVM (software
// virtualisation, the kind our CI machines run) a CPL-3 guest runs natively
// but its port I/O and hlt raise #GP, which, with no guest exception
// handler, reach the VMM as a shutdown exit with RIP still at the
// instruction. trappedInstruction decodes that instruction and completes it,
// so both kinds of host see the same guest behaviour; any other shutdown is
// a real triple fault.

func (m *Machine) trappedInstruction(c *VCPU) error {
	regs, err := c.kvm.Regs()
	if err != nil {
		return c.GuestError("triple fault (registers unreadable: %v)", err)
	}
	code, err := m.mem.Slice(regs.RIP, 3)
	op, ok := x86.DecodeTrapped(code)
	if err != nil || !ok {
		return c.GuestError("triple fault (the guest took exception %d, which it could not handle)", c.kvm.Exception())
	}
	port := regs.RDX & 0xffff
	switch {
	case op.Kind == x86.TrapCPUID:
		a, b, c2, d := x86.CPUIDLeaf(c.cpuid, uint32(regs.RAX), uint32(regs.RCX))
		regs.RAX, regs.RBX, regs.RCX, regs.RDX = uint64(a), uint64(b), uint64(c2), uint64(d)
	case op.Kind == x86.TrapRDTSC || op.Kind == x86.TrapRDTSCP:
		insn := uint64(replaylog.TSCInsnRDTSC)
		if op.Kind == x86.TrapRDTSCP {
			insn = replaylog.TSCInsnRDTSCP
			regs.RCX = uint64(c.id) // TSC_AUX: the CPU number, as rdpid would say
		}
		t, err := m.engine.Input(c, Input{Kind: replaylog.KindTSC, Insn: insn, Live: m.clock.Now()})
		if err != nil {
			return err
		}
		regs.RAX, regs.RDX = t&0xffffffff, t>>32
	case op.Kind == x86.TrapHLT:
		if err := m.engine.Halt(c); err != nil {
			return err
		}
	case port == abi.PortHypercall && !op.In && op.Size == 4:
		if err := m.hypercall(c, regs); err != nil {
			return err
		}
	default:
		var data [4]byte
		binary.LittleEndian.PutUint32(data[:], uint32(regs.RAX))
		m.console.PortIO(port, !op.In, data[:op.Size])
		if op.In {
			mask := uint64(1)<<(8*op.Size) - 1
			regs.RAX = regs.RAX&^mask | uint64(binary.LittleEndian.Uint32(data[:]))&mask
		}
	}
	regs.RIP += uint64(op.Len)
	regs.RFLAGS &^= 1 << 16 // RF
	if err := c.kvm.SetRegs(regs); err != nil {
		return c.GuestError("complete trapped instruction: %v", err)
	}
	return nil
}
