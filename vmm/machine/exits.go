package machine

import (
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/abi"
	"github.com/crewvm/crewvm/vmm/devices"
	"github.com/crewvm/crewvm/vmm/kvm"
)

// handleExit services one exit of c. A non-nil error ends the run.
func (m *Machine) handleExit(c *VCPU) error {
	run := c.kvm.RunData()
	switch run.ExitReason {
	case kvm.ExitIO:
		return m.handleIO(c)
	case kvm.ExitHLT:
		return m.engine.Halt(c)
	case kvm.ExitMMIO:
		return m.mmio(c)
	case kvm.ExitShutdown:
		return m.trappedInstruction(c)
	case kvm.ExitFailEntry:
		return c.GuestError("VM entry failed, hardware reason %#x", run.Data[0])
	case kvm.ExitInternalError:
		n := min(uint64(run.Data[0]>>32), 16)
		return c.GuestError("KVM internal error, suberror %d (%s), data %#x", uint32(run.Data[0]),
			internalErrorName(uint32(run.Data[0])), run.Data[1:1+n])
	case kvm.ExitIntr:
		return nil
	}
	return c.GuestError("unexpected KVM exit reason %d", run.ExitReason)
}

func (m *Machine) handleIO(c *VCPU) error {
	dir, size, port, count, offset := c.kvm.RunData().IO()
	data := c.kvm.IOData(offset, size*count)
	if data == nil {
		return c.GuestError("port I/O exit with a data window outside kvm_run")
	}
	out := dir == 1
	if port == abi.PortHypercall && out && size == 4 && count == 1 {
		regs, err := c.kvm.Regs()
		if err != nil {
			return c.GuestError("read registers for hypercall: %v", err)
		}
		if err := m.hypercall(c, regs); err != nil {
			return err
		}
		return c.kvm.SetRegs(regs)
	}
	m.console.PortIO(port, out, data)
	return nil
}

// hypercall carries out the HC_* call of guest/ABI.md in regs, which the
// caller writes back to the vCPU.
func (m *Machine) hypercall(c *VCPU, regs *kvm.Regs) error {
	call, err := devices.DecodeHypercall(devices.HypercallArgs{Nr: regs.RAX, A0: regs.RDI, A1: regs.RSI, A2: regs.RCX, A3: regs.R8},
		len(m.cpus), m.mem)
	if err != nil {
		return c.GuestError("%v", err)
	}
	var ret uint64
	switch call.Nr {
	case abi.HCExit:
		return m.engine.GuestExit(c, call.Status)
	case abi.HCTime:
		t, err := m.engine.Input(c, Input{Kind: replaylog.KindClock, Live: m.clock.Now()})
		if err != nil {
			return err
		}
		ret = t
	case abi.HCHalt:
		if err := m.engine.Halt(c); err != nil {
			return err
		}
	case abi.HCWake:
		m.halts.wakeCPU(call.CPU, Waker{CPU: c.id, Exits: c.exits})
	case abi.HCConsole:
		m.console.Write(call.Text)
		ret = uint64(len(call.Text))
	case abi.HCRegionBegin, abi.HCRegionEnd:
		kind, what := replaylog.KindRegionBegin, "test region begin"
		if call.Nr == abi.HCRegionEnd {
			kind, what = replaylog.KindRegionEnd, "test region end"
		}
		if err := m.engine.Report(c, replaylog.Region(kind, uint32(c.id), call.Addr, 0, ""), what); err != nil {
			return err
		}
	case abi.HCLabel:
		name := string(call.Text)
		m.mu.Lock()
		m.labels = append(m.labels, Label{CPU: c.id, Addr: call.Addr, Len: call.Len, Name: name})
		m.mu.Unlock()
		if err := m.engine.Report(c, replaylog.Region(replaylog.KindLabel, uint32(c.id), call.Addr, call.Len, name), "label"); err != nil {
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
