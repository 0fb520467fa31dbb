package replay

import (
	"github.com/crewvm/crewvm/replaylog"
)

// The DMA actor on replay. A recording with a disk has one more actor,
// numbered after the vCPUs, whose queue holds its CREW transitions, its
// transfers and the reductions of its rights that the vCPUs' transitions
// made. No device runs: a goroutine serves that queue in order, each
// transfer once its orderings are met, writing into guest memory what the
// recording's device wrote, and checking that the guest memory the device
// read hashes as it did then (the descriptors it parsed, the data of a
// disk write). No disk file is needed.

// serveDMA is the DMA actor's goroutine; it returns when every transfer
// is done, or with the replay's error.
func (e *Engine) serveDMA() error {
	a := e.cpus
	e.mu.Lock()
	defer e.mu.Unlock()
	q := &e.queue[a]
	for {
		if err := e.wait(a, "the log to go on", func() bool { return len(*q) > 0 || e.eof }, true); err != nil {
			return err
		}
		if len(*q) == 0 {
			e.dmaDone = true
			e.cond.Broadcast()
			return e.finishIfDone(a)
		}
		it := (*q)[0]
		if it.ev == nil {
			// A vCPU's transition took rights from the DMA actor
			// between two transfers.
			if it.pos > e.progress[a] {
				return e.divergence(a, it.idx, "the log reduces its rights at %s, before its transfer there", it.where)
			}
			if err := e.views.Set(a, it.page, it.rights); err != nil {
				return err
			}
			it.t.pending--
			e.pop(a)
			continue
		}
		if it.pos < e.progress[a] {
			return e.divergence(a, it.idx, "the log has %s after transfer %s", it.ev.String(), e.position(a, e.progress[a]))
		}
		if it.pos > e.progress[a] {
			// The next transfer begins: like a vCPU at an exit, the
			// actor stands at its position while it serves the events
			// logged there (passed).
			e.progress[a] = it.pos
			e.cond.Broadcast()
		}
		if err := e.meet(a, it); err != nil {
			return err
		}
		e.pop(a)
		switch it.ev.Kind {
		case replaylog.KindCREW:
			if err := e.views.Set(a, it.page, it.rights); err != nil {
				return err
			}
		case replaylog.KindDMA:
			if err := e.perform(a, it); err != nil {
				return err
			}
		}
	}
}

// perform re-performs one logged transfer: it checks what the device read,
// then writes what it wrote. Called with e.mu held.
func (e *Engine) perform(a int, it *item) error {
	mem := e.m.Memory()
	t, err := replaylog.ParseDMATransfer(it.ev.Data, mem.Size())
	if err != nil {
		return e.divergence(a, it.idx, "%v", err)
	}
	h := replaylog.NewDMAHash()
	for _, r := range t.Reads {
		b, _ := mem.Slice(r.GPA, r.Len)
		h.Write(b)
	}
	if got := h.Sum64(); got != t.ReadHash {
		return e.divergence(a, it.idx, "the guest memory the device read (%d ranges, first at %#x) hashes to %#x, the recording's to %#x: "+
			"the guest gave the disk other descriptors or other data", len(t.Reads), firstRead(t), got, t.ReadHash)
	}
	for _, w := range t.Writes {
		if err := mem.WriteAt(w.Data, w.GPA); err != nil {
			return e.divergence(a, it.idx, "%v", err)
		}
	}
	return nil
}

func firstRead(t *replaylog.DMATransfer) uint64 {
	if len(t.Reads) == 0 {
		return 0
	}
	return t.Reads[0].GPA
}
