package vmm

import (
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/abi"
	"github.com/crewvm/crewvm/vmm/devices"
	"github.com/crewvm/crewvm/vmm/kvm"
)

// handleExit services one exit of c. A non-nil error ends the run.
func (m *Machine) handleExit(c *vcpu) error {
	run := c.kvm.RunData()
	switch run.ExitReason {
	case kvm.ExitIO:
		return m.handleIO(c)
	case kvm.ExitHLT:
		return m.halt(c)
	case kvm.ExitMMIO:
		gpa := run.Data[0]
		size := uint32(run.Data[2])
		write := byte(run.Data[2]>>32) != 0
		what := "read"
		if write {
			what = "write"
		}
		return c.guestError("%d-byte %s of guest-physical address %#x, which is not RAM (%#x bytes)", size, what, gpa, m.cfg.MemSize)
	case kvm.ExitShutdown:
		return m.trappedInstruction(c)
	case kvm.ExitFailEntry:
		return c.guestError("VM entry failed, hardware reason %#x", run.Data[0])
	case kvm.ExitInternalError:
		n := min(uint64(run.Data[0]>>32), 16)
		return c.guestError("KVM internal error, suberror %d (%s), data %#x", uint32(run.Data[0]),
			internalErrorName(uint32(run.Data[0])), run.Data[1:1+n])
	case kvm.ExitIntr:
		return nil
	}
	return c.guestError("unexpected KVM exit reason %d", run.ExitReason)
}

func (m *Machine) handleIO(c *vcpu) error {
	dir, size, port, count, offset := c.kvm.RunData().IO()
	data := c.kvm.IOData(offset, size*count)
	if data == nil {
		return c.guestError("port I/O exit with a data window outside kvm_run")
	}
	out := dir == 1
	if port == abi.PortHypercall && out && size == 4 && count == 1 {
		regs, err := c.kvm.Regs()
		if err != nil {
			return c.guestError("read registers for hypercall: %v", err)
		}
		if err := m.hypercall(c, regs); err != nil {
			return err
		}
		return c.kvm.SetRegs(regs)
	}
	m.console.PortIO(port, out, data)
	return nil
}

// halt parks c until another vCPU wakes it. Which wake let it go is
// logged; a replay waits for that wake instead.
func (m *Machine) halt(c *vcpu) error {
	if m.rep != nil {
		_, err := m.expect(c, replaylog.KindWake, "a halt")
		return err
	}
	w, err := m.halts.halt(c.id, m.stop)
	if err != nil {
		return c.guestError("%v", err)
	}
	if m.stopping.Load() {
		return errStopping
	}
	if m.rec != nil {
		return m.rec.append(replaylog.Wake(uint32(c.id), c.exits, uint32(w.cpu), replaylog.ExitPos(w.exits)))
	}
	return nil
}

// hypercall carries out the HC_* call of guest/ABI.md in regs, which the
// caller writes back to the vCPU.
func (m *Machine) hypercall(c *vcpu, regs *kvm.Regs) error {
	call, err := devices.DecodeHypercall(devices.HypercallArgs{Nr: regs.RAX, A0: regs.RDI, A1: regs.RSI, A2: regs.RCX, A3: regs.R8},
		len(m.cpus), m.mem)
	if err != nil {
		return c.guestError("%v", err)
	}
	var ret uint64
	switch call.Nr {
	case abi.HCExit:
		if err := m.report(c, replaylog.GuestExit(uint32(c.id), uint64(call.Status)), "exit"); err != nil {
			return err
		}
		if m.rep != nil {
			// The replay ends when every vCPU has reached its final
			// position (replay.go, park).
			m.rep.mu.Lock()
			m.rep.status, m.rep.exited = call.Status, true
			m.rep.mu.Unlock()
			return nil
		}
		m.finish(call.Status, nil)
		return nil
	case abi.HCTime:
		t, err := m.clockInput(c, m.clock.Now())
		if err != nil {
			return err
		}
		ret = t
	case abi.HCHalt:
		if err := m.halt(c); err != nil {
			return err
		}
	case abi.HCWake:
		m.halts.wakeCPU(call.CPU, waker{cpu: c.id, exits: c.exits})
	case abi.HCConsole:
		m.console.Write(call.Text)
		ret = uint64(len(call.Text))
	case abi.HCRegionBegin, abi.HCRegionEnd:
		kind, what := replaylog.KindRegionBegin, "test region begin"
		if call.Nr == abi.HCRegionEnd {
			kind, what = replaylog.KindRegionEnd, "test region end"
		}
		if err := m.report(c, replaylog.Region(kind, uint32(c.id), call.Addr, 0, ""), what); err != nil {
			return err
		}
	case abi.HCLabel:
		name := string(call.Text)
		m.mu.Lock()
		m.labels = append(m.labels, Label{CPU: c.id, Addr: call.Addr, Len: call.Len, Name: name})
		m.mu.Unlock()
		if err := m.report(c, replaylog.Region(replaylog.KindLabel, uint32(c.id), call.Addr, call.Len, name), "label"); err != nil {
			return err
		}
	}
	regs.RAX = ret
	return nil
}

// internalErrorName names KVM_INTERNAL_ERROR_* suberrors.
func internalErrorName(sub uint32) string {
	switch sub {
	case 1:
		return "instruction emulation failed"
	case 2:
		return "simultaneous exceptions"
	case 3:
		return "delivery event"
	case 4:
		return "unexpected exit reason"
	}
	return "unknown"
}
