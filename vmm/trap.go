package vmm

import (
	"encoding/binary"

	"github.com/crewvm/crewvm/replaylog"
)

// The guest runs at CPL 3. Where KVM is hardware-assisted, IOPL 3 lets its
// port I/O exit to the VMM as usual. On PVM-based KVM (software
// virtualisation, the kind our CI machines run) a CPL-3 guest runs natively
// but its port I/O and hlt raise #GP, which, with no guest exception
// handler, reach the VMM as a shutdown exit with RIP still at the
// instruction. trappedInstruction decodes that instruction and completes it,
// so both kinds of host see the same guest behaviour; any other shutdown is
// a real triple fault.

// trappedOp is a decoded port I/O or hlt instruction.
type trappedOp struct {
	length int
	hlt    bool
	cpuid  bool
	// tsc is replaylog.TSCInsnRDTSC or TSCInsnRDTSCP (CR4.TSD traps them).
	tsc  uint64
	in   bool
	size int // operand bytes: 1, 2 or 4
}

// decodeTrapped recognises the instructions a CPL-3 guest may use to reach
// the VMM: in/out with the port in DX, hlt, and CPUID (which faults
// because the VMM turns CPUID faulting on).
func decodeTrapped(b []byte) (trappedOp, bool) {
	op := trappedOp{size: 4}
	i := 0
	if i < len(b) && b[i] == 0x66 {
		op.size = 2
		i++
	}
	if i >= len(b) {
		return op, false
	}
	if i == 0 && len(b) >= 2 && b[0] == 0x0f && b[1] == 0xa2 {
		return trappedOp{length: 2, cpuid: true}, true
	}
	if i == 0 && len(b) >= 2 && b[0] == 0x0f && b[1] == 0x31 {
		return trappedOp{length: 2, tsc: replaylog.TSCInsnRDTSC}, true
	}
	if i == 0 && len(b) >= 3 && b[0] == 0x0f && b[1] == 0x01 && b[2] == 0xf9 {
		return trappedOp{length: 3, tsc: replaylog.TSCInsnRDTSCP}, true
	}
	switch b[i] {
	case 0xf4:
		if i != 0 {
			return op, false
		}
		op.hlt = true
	case 0xee: // out dx, al
		op.size = 1
	case 0xef: // out dx, ax/eax
	case 0xec: // in al, dx
		op.size, op.in = 1, true
	case 0xed: // in ax/eax, dx
		op.in = true
	default:
		return op, false
	}
	op.length = i + 1
	return op, true
}

func (m *Machine) trappedInstruction(c *vcpu) error {
	regs, err := c.kvm.regs()
	if err != nil {
		return c.guestError("triple fault (registers unreadable: %v)", err)
	}
	code, err := m.mem.Slice(regs.RIP, 3)
	if err != nil {
		return c.guestError("triple fault (the guest took an exception it could not handle)")
	}
	op, ok := decodeTrapped(code)
	if !ok {
		return c.guestError("triple fault (the guest took an exception it could not handle)")
	}
	port := regs.RDX & 0xffff
	switch {
	case op.cpuid:
		a, b, c2, d := c.kvm.cpuidLeaf(uint32(regs.RAX), uint32(regs.RCX))
		regs.RAX, regs.RBX, regs.RCX, regs.RDX = uint64(a), uint64(b), uint64(c2), uint64(d)
	case op.tsc != 0:
		t, err := m.tsc(c, op.tsc)
		if err != nil {
			return err
		}
		regs.RAX, regs.RDX = t&0xffffffff, t>>32
		if op.tsc == replaylog.TSCInsnRDTSCP {
			regs.RCX = uint64(c.id) // TSC_AUX: the CPU number, as rdpid would say
		}
	case op.hlt:
		if err := m.halt(c); err != nil {
			return err
		}
	case port == PortHypercall && !op.in && op.size == 4:
		if err := m.hypercall(c, regs); err != nil {
			return err
		}
	default:
		var data [4]byte
		binary.LittleEndian.PutUint32(data[:], uint32(regs.RAX))
		m.portIO(port, !op.in, data[:op.size])
		if op.in {
			mask := uint64(1)<<(8*op.size) - 1
			regs.RAX = regs.RAX&^mask | uint64(binary.LittleEndian.Uint32(data[:]))&mask
		}
	}
	regs.RIP += uint64(op.length)
	regs.RFLAGS &^= 1 << 16 // RF
	if err := c.kvm.setRegs(regs); err != nil {
		return c.guestError("complete trapped instruction: %v", err)
	}
	return nil
}
