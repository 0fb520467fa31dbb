package record

import (
	"fmt"

	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/engine/crewview"
	"github.com/crewvm/crewvm/vmm/kvm"
	"github.com/crewvm/crewvm/vmm/machine"
)

// Checkpoints (DESIGN.md section 7b): every Options.CheckpointEvery
// exits the recorder writes the vCPU's registers and architectural
// state and all of RAM into the log, so that a replay can start there
// (replay.Options.From) at a cost bounded by the interval.
//
// A checkpoint is taken at an exit of a trapped instruction (a #GP
// shutdown: port I/O, hlt, cpuid, rdtsc), before the VMM serves it: the
// instruction has not run, so a vCPU restored there executes it again and
// takes the same exit, whose events follow the checkpoint in the log. The
// checkpoint's exit count is one less for that reason. Only a recording
// of one vCPU without a disk has them: there the vCPU at its own exit is
// the whole machine, stopped. Several vCPUs need a consistent cut of all
// of them with the CREW state, which is not built yet.

// vectorGP is the exception a trapped instruction raises under PVM.
const vectorGP = 13

// checkCheckpoints refuses an interval the recording cannot honour.
func checkCheckpoints(m *machine.Machine, every uint64) error {
	if every > 0 && m.Actors() > 1 {
		return fmt.Errorf("record: checkpoints are written for one vCPU without a disk (a consistent cut of %d actors is not built yet)", m.Actors())
	}
	return nil
}

// maybeCheckpoint writes a checkpoint at v's exit when one is due and
// the exit is one a restored vCPU takes again.
func (e *Engine) maybeCheckpoint(v *machine.VCPU) error {
	if v.Exits() < e.nextCheckpoint {
		return nil
	}
	c := v.KVM()
	if c.RunData().ExitReason != kvm.ExitShutdown || c.Exception() != vectorGP {
		return nil
	}
	r, err := c.Regs()
	if err != nil {
		return fmt.Errorf("checkpoint: vCPU %d: read registers: %w", v.ID(), err)
	}
	arch, err := c.ArchState()
	if err != nil {
		return fmt.Errorf("checkpoint: vCPU %d: %w", v.ID(), err)
	}
	cp := &replaylog.Checkpoint{
		VCPUs:  []replaylog.VCPUState{{Exits: v.Exits() - 1, Regs: crewview.LogRegs(r), Extra: arch}},
		Memory: []replaylog.MemRegion{{GPA: 0, Data: e.m.Memory().Host()}},
	}
	if err := e.w.Checkpoint(cp); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	e.nextCheckpoint = v.Exits() + e.opts.CheckpointEvery
	return nil
}
