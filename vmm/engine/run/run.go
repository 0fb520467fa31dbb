// Package run is the plain engine: the guest runs, nothing is logged or
// checked, and what the guest reads from outside is live. It is the
// smallest Engine, and the baseline the record and replay engines are
// measured against (BENCHMARKS.md).
package run

import (
	"golang.org/x/sys/unix"

	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/devices/virtio"
	"github.com/crewvm/crewvm/vmm/machine"
)

// Engine runs the guest as it is.
type Engine struct {
	m   *machine.Machine
	dma dma
}

// New returns a plain engine.
func New() *Engine { return &Engine{} }

// Start implements machine.Engine.
func (e *Engine) Start(m *machine.Machine) error {
	e.m, e.dma.m = m, m
	return nil
}

// BeforeEnter implements machine.Engine.
func (*Engine) BeforeEnter(*machine.VCPU) (bool, error) { return true, nil }

// AfterRun implements machine.Engine.
func (*Engine) AfterRun(_ *machine.VCPU, errno unix.Errno) unix.Errno { return errno }

// Exited implements machine.Engine.
func (*Engine) Exited(*machine.VCPU) {}

// Fault implements machine.Engine: without CREW every view of RAM is
// writable, so a fault is the guest's, outside what KVM can serve.
func (*Engine) Fault(v *machine.VCPU) error { return v.GuestError("KVM_RUN: %v", unix.EFAULT) }

// Halt implements machine.Engine.
func (e *Engine) Halt(v *machine.VCPU) error {
	_, err := e.m.Halt(v)
	return err
}

// Input implements machine.Engine.
func (*Engine) Input(_ *machine.VCPU, in machine.Input) (uint64, error) { return in.Live, nil }

// Report implements machine.Engine.
func (*Engine) Report(*machine.VCPU, replaylog.Event, string) error { return nil }

// GuestExit implements machine.Engine.
func (e *Engine) GuestExit(_ *machine.VCPU, status int) error {
	e.m.Finish(status, nil)
	return nil
}

// DMA implements machine.Engine: a plain run's device reaches RAM
// directly, one transfer at a time (the device has one thread).
func (e *Engine) DMA() machine.DMA { return &e.dma }

// dma numbers the transfers of a plain run.
type dma struct {
	m *machine.Machine
	n uint64
}

// Transfer implements machine.DMA.
func (d *dma) Transfer(fn func(mem virtio.Memory) error) (uint64, error) {
	d.n++
	return d.n, fn(d.m.Memory())
}

// Stop implements machine.Engine.
func (*Engine) Stop() {}

// End implements machine.Engine.
func (*Engine) End() error { return nil }
