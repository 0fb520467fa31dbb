package replaylog

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Checkpoint is the complete state a replay needs to start from the middle
// of a log: every vCPU's registers and exit count, guest memory and opaque
// device state. Memory is stored as PageBytes pages deduplicated by content
// across the whole log, so an unchanged or zero page costs a few bytes.
type Checkpoint struct {
	// Number is the checkpoint's ordinal in the log (set by the reader).
	Number int
	// Event is the index of the first event after the checkpoint: replay
	// restores this state and continues with that event (set by both the
	// writer and the reader).
	Event uint64
	// VCPUs holds the state of vCPU 0, 1, ... in order.
	VCPUs []VCPUState
	// Memory is guest memory as regions sorted by GPA, not overlapping;
	// each GPA and length a multiple of PageBytes. Holes are not stored.
	Memory []MemRegion
	// Extra is opaque device and VMM state, as the engine serializes it.
	Extra []byte
}

// VCPUState is one vCPU at a checkpoint.
type VCPUState struct {
	// Exits is the vCPU's exit count at the checkpoint, so that positions
	// after it keep counting from the same base.
	Exits uint64
	Regs  Regs
	// Extra is opaque architectural state (special registers, FPU, MSRs,
	// LAPIC) as the engine serializes it.
	Extra []byte
}

// MemRegion is a contiguous range of guest-physical memory.
type MemRegion struct {
	GPA  uint64
	Data []byte
}

// CheckpointInfo locates a checkpoint without loading it.
type CheckpointInfo struct {
	Number int
	// Event is the index of the first event after the checkpoint.
	Event uint64
	// Block and Offset locate the checkpoint block in the file.
	Block  int
	Offset int64
	// Time is when it was written, since recording started.
	Time time.Duration
}

// pageRun maps count consecutive pages starting at gpa to stored pages
// starting at page: page, page+1, ... (step 1) or all the same (step 0, as
// for runs of zero pages).
type pageRun struct {
	gpa   uint64
	count uint64
	page  uint64
	step  uint64
}

// The checkpoint record (payload of a BlockCheckpoint):
//
//	uvarint  vCPU count; per vCPU: uvarint exits, 18 uvarint registers
//	         (GPR[0..15], RIP, RFLAGS), uvarint-length-prefixed extra
//	bytes    extra (uvarint length prefix)
//	uvarint  run count; per run: uvarint gap in pages since the previous
//	         run's end, uvarint page count, zigzag stored page number minus
//	         the previous run's last, byte step (0 or 1)
func appendCheckpointRecord(b []byte, cp *Checkpoint, runs []pageRun) []byte {
	b = binary.AppendUvarint(b, uint64(len(cp.VCPUs)))
	for i := range cp.VCPUs {
		v := &cp.VCPUs[i]
		b = binary.AppendUvarint(b, v.Exits)
		for _, r := range v.Regs.GPR {
			b = binary.AppendUvarint(b, r)
		}
		b = binary.AppendUvarint(b, v.Regs.RIP)
		b = binary.AppendUvarint(b, v.Regs.RFLAGS)
		b = appendBytes(b, v.Extra)
	}
	b = appendBytes(b, cp.Extra)
	b = binary.AppendUvarint(b, uint64(len(runs)))
	var end, last uint64
	for _, r := range runs {
		b = binary.AppendUvarint(b, (r.gpa-end)/PageBytes)
		b = binary.AppendUvarint(b, r.count)
		b = appendZigzag(b, int64(r.page-last))
		b = append(b, byte(r.step))
		end = r.gpa + r.count*PageBytes
		last = r.page + (r.count-1)*r.step
	}
	return b
}

// checkpointRecord is a decoded checkpoint record; memory is still a list
// of references to stored pages.
type checkpointRecord struct {
	vcpus []VCPUState
	extra []byte
	runs  []pageRun
	pages uint64 // total pages covered
}

// parseCheckpointRecord decodes a record. maxPages bounds the memory it may
// describe (the header's memory size), storedPages is the number of pages
// stored before it: every reference must point below it.
func parseCheckpointRecord(b []byte, maxVCPUs uint32, maxPages, storedPages uint64) (*checkpointRecord, error) {
	c := cursor{b: b}
	rec := &checkpointRecord{}
	n := c.uvarint()
	if n > uint64(maxVCPUs) {
		return nil, fmt.Errorf("%d vCPUs in a log of %d", n, maxVCPUs)
	}
	rec.vcpus = make([]VCPUState, n)
	for i := range rec.vcpus {
		v := &rec.vcpus[i]
		v.Exits = c.uvarint()
		for j := range v.Regs.GPR {
			v.Regs.GPR[j] = c.uvarint()
		}
		v.Regs.RIP = c.uvarint()
		v.Regs.RFLAGS = c.uvarint()
		v.Extra = cloneBytes(c.bytes(c.uvarint()))
	}
	rec.extra = cloneBytes(c.bytes(c.uvarint()))
	nr := c.uvarint()
	if c.bad {
		return nil, fmt.Errorf("record too short")
	}
	// Every run takes at least 4 bytes, which bounds the allocation.
	if nr > uint64(len(b)-c.i)/4 {
		return nil, fmt.Errorf("%d page runs in %d bytes", nr, len(b)-c.i)
	}
	rec.runs = make([]pageRun, 0, nr)
	var end, last uint64
	for i := uint64(0); i < nr; i++ {
		gap, count := c.uvarint(), c.uvarint()
		page := last + uint64(c.zigzag())
		step := uint64(c.byte1())
		if c.bad {
			return nil, fmt.Errorf("record too short")
		}
		if count == 0 || step > 1 || count > maxPages-rec.pages || gap > maxGPAPages {
			return nil, fmt.Errorf("bad page run %d (gap %d, count %d, step %d)", i, gap, count, step)
		}
		gpa := end + gap*PageBytes
		if gpa < end || gpa+count*PageBytes < gpa {
			return nil, fmt.Errorf("page run %d overflows the address space", i)
		}
		lastPage := page + (count-1)*step
		if page >= storedPages || lastPage >= storedPages {
			return nil, fmt.Errorf("page run %d refers to stored page %d, only %d stored before it", i, lastPage, storedPages)
		}
		rec.runs = append(rec.runs, pageRun{gpa: gpa, count: count, page: page, step: step})
		rec.pages += count
		end = gpa + count*PageBytes
		last = lastPage
	}
	if c.more() {
		return nil, fmt.Errorf("%d trailing bytes", len(b)-c.i)
	}
	return rec, nil
}

// maxGPAPages bounds a run's gap so that addresses stay below 2^52, the
// architectural limit of guest-physical addresses.
const maxGPAPages = 1 << 40

func cloneBytes(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}

// runBuilder turns a sequence of (gpa, stored page) pairs in ascending GPA
// order into runs.
type runBuilder struct {
	runs []pageRun
}

func (rb *runBuilder) add(gpa, page uint64) {
	if n := len(rb.runs); n > 0 {
		r := &rb.runs[n-1]
		if gpa == r.gpa+r.count*PageBytes {
			switch {
			case r.count == 1 && page == r.page+1:
				r.step = 1
				r.count++
				return
			case r.count == 1 && page == r.page:
				r.step = 0
				r.count++
				return
			case r.count > 1 && page == r.page+r.count*r.step:
				r.count++
				return
			}
		}
	}
	rb.runs = append(rb.runs, pageRun{gpa: gpa, count: 1, page: page, step: 1})
}
