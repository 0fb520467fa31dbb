package replay

import (
	"fmt"

	"github.com/crewvm/crewvm/vmm/engine/crewview"
	"github.com/crewvm/crewvm/vmm/guestmem"
)

// restore makes the replay start at checkpoint i of its log instead of
// its beginning: guest memory and the vCPU as the recorder left them
// there (package record's checkpoint.go), the log read on from the
// event after it. The vCPU stands before the trapped instruction the
// recorder stopped it at, so it takes that exit again and replay goes
// on as from the start. The cost of reaching a point is the replay from
// the checkpoint before it.
func (e *Engine) restore(i int) error {
	if e.actors > 1 {
		return fmt.Errorf("replay: starting from a checkpoint needs a recording of one vCPU without a disk")
	}
	if e.tr != nil && e.tr.opts.Window == nil && !e.tr.opts.Everywhere {
		return fmt.Errorf("replay: tracing test regions starts at the beginning of the log (a region opened before a checkpoint is not in it)")
	}
	// RAM is zeroed without backing it, and only the pages that are not
	// zero are written: the restore costs what the guest uses.
	mem := e.m.Memory()
	if err := mem.Zero(); err != nil {
		return fmt.Errorf("replay: checkpoint %d: %w", i, err)
	}
	var beyond error
	cp, err := e.r.SeekCheckpointPages(i, func(gpa uint64, page []byte) {
		if !guestmem.IsZero(page) && beyond == nil {
			beyond = mem.WriteAt(page, gpa)
		}
	})
	if err == nil {
		err = beyond
	}
	for _, o := range e.opts.Overlay {
		if err == nil {
			err = mem.WriteAt(o.Data, o.GPA)
		}
	}
	if err != nil {
		return fmt.Errorf("replay: checkpoint %d: %w", i, err)
	}
	if len(cp.VCPUs) != 1 {
		return fmt.Errorf("replay: checkpoint %d holds %d vCPUs, the machine has 1", i, len(cp.VCPUs))
	}
	vs := cp.VCPUs[0]
	if err := e.m.VCPUs()[0].Restore(crewview.KVMRegs(&vs.Regs), vs.Extra, vs.Exits); err != nil {
		return fmt.Errorf("replay: checkpoint %d: %w", i, err)
	}
	e.read = cp.Event
	e.progress[0] = crewview.ExitPos(vs.Exits)
	return nil
}
