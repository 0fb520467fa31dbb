package vmm

import (
	"time"

	"github.com/bobuhiro11/gokvm/kvm"
	"github.com/crewvm/crewvm/replaylog"
)

// KVM exit reasons the VMM handles (linux/kvm.h).
const (
	exitIO            = 2
	exitDebug         = 4
	exitHLT           = 5
	exitMMIO          = 6
	exitShutdown      = 8
	exitFailEntry     = 9
	exitIntr          = 10
	exitInternalError = 17
)

// handleExit services one exit of c. A non-nil error ends the run.
func (m *Machine) handleExit(c *vcpu) error {
	run := c.kvm.run
	switch run.ExitReason {
	case exitIO:
		return m.handleIO(c)
	case exitHLT:
		return m.halt(c)
	case exitMMIO:
		gpa := run.Data[0]
		size := uint32(run.Data[2])
		write := byte(run.Data[2]>>32) != 0
		what := "read"
		if write {
			what = "write"
		}
		return c.guestError("%d-byte %s of guest-physical address %#x, which is not RAM (%#x bytes)", size, what, gpa, m.cfg.MemSize)
	case exitShutdown:
		return m.trappedInstruction(c)
	case exitFailEntry:
		return c.guestError("VM entry failed, hardware reason %#x", run.Data[0])
	case exitInternalError:
		n := min(uint64(run.Data[0]>>32), 16)
		return c.guestError("KVM internal error, suberror %d (%s), data %#x", uint32(run.Data[0]),
			internalErrorName(uint32(run.Data[0])), run.Data[1:1+n])
	case exitIntr:
		return nil
	}
	return c.guestError("unexpected KVM exit reason %d", run.ExitReason)
}

func (m *Machine) handleIO(c *vcpu) error {
	dir, size, port, count, offset := c.kvm.run.IO()
	data := c.kvm.ioData(offset, size*count)
	if data == nil {
		return c.guestError("port I/O exit with a data window outside kvm_run")
	}
	out := dir == 1
	if port == PortHypercall && out && size == 4 && count == 1 {
		regs, err := c.kvm.regs()
		if err != nil {
			return c.guestError("read registers for hypercall: %v", err)
		}
		if err := m.hypercall(c, regs); err != nil {
			return err
		}
		return c.kvm.setRegs(regs)
	}
	m.portIO(port, out, data)
	return nil
}

// portIO serves the devices behind the I/O ports: data holds what an out
// wrote or receives what an in reads.
func (m *Machine) portIO(port uint64, out bool, data []byte) {
	switch {
	case port == PortSerial && out:
		m.console.Write(data)
	case port == PortSerialLSR && !out:
		for i := range data {
			data[i] = serialLSRReady
		}
	case !out:
		// No device: reads float high, as on real hardware.
		for i := range data {
			data[i] = 0xff
		}
	}
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

// hypercall serves the HC_* calls of guest/ABI.md on regs, which the
// caller writes back to the vCPU.
func (m *Machine) hypercall(c *vcpu, regs *kvm.Regs) error {
	nr := regs.RAX & 0xffffffff
	a0, a1, a2, a3 := regs.RDI, regs.RSI, regs.RCX, regs.R8
	var ret uint64
	switch nr {
	case HCExit:
		status := int(a0 & 0xff)
		if err := m.report(c, replaylog.GuestExit(uint32(c.id), uint64(status)), "exit"); err != nil {
			return err
		}
		if m.rep != nil {
			// The replay ends when every vCPU has reached its final
			// position (replay.go, park).
			m.rep.mu.Lock()
			m.rep.status, m.rep.exited = status, true
			m.rep.mu.Unlock()
			return nil
		}
		m.finish(status, nil)
		return nil
	case HCTime:
		t, err := m.clock(c, uint64(time.Since(m.start)))
		if err != nil {
			return err
		}
		ret = t
	case HCHalt:
		if err := m.halt(c); err != nil {
			return err
		}
	case HCWake:
		if a0 >= uint64(len(m.cpus)) {
			return c.guestError("hypercall wake: CPU %d does not exist (%d CPUs)", a0, len(m.cpus))
		}
		m.halts.wakeCPU(int(a0), waker{cpu: c.id, exits: c.exits})
	case HCConsole:
		if a1 > MaxConsole {
			return c.guestError("hypercall console: length %d exceeds %d", a1, MaxConsole)
		}
		b, err := m.mem.Slice(a0, a1)
		if err != nil {
			return c.guestError("hypercall console: %v", err)
		}
		m.console.Write(b)
		ret = a1
	case HCRegionBegin, HCRegionEnd:
		kind, what := replaylog.KindRegionBegin, "test region begin"
		if nr == HCRegionEnd {
			kind, what = replaylog.KindRegionEnd, "test region end"
		}
		if err := m.report(c, replaylog.Region(kind, uint32(c.id), a0, 0, ""), what); err != nil {
			return err
		}
	case HCLabel:
		if err := m.label(c, a0, a1, a2, a3); err != nil {
			return err
		}
	default:
		return c.guestError("unknown hypercall %d", nr)
	}
	regs.RAX = ret
	return nil
}

func (m *Machine) label(c *vcpu, addr, n, name, nameLen uint64) error {
	if _, err := m.mem.Slice(addr, n); err != nil {
		return c.guestError("hypercall label: %v", err)
	}
	if nameLen > MaxLabel {
		return c.guestError("hypercall label: name length %d exceeds %d", nameLen, MaxLabel)
	}
	b, err := m.mem.Slice(name, nameLen)
	if err != nil {
		return c.guestError("hypercall label: name: %v", err)
	}
	m.mu.Lock()
	m.labels = append(m.labels, Label{CPU: c.id, Addr: addr, Len: n, Name: string(b)})
	m.mu.Unlock()
	return m.report(c, replaylog.Region(replaylog.KindLabel, uint32(c.id), addr, n, string(b)), "label")
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
