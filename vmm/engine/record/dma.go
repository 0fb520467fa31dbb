package record

import (
	"fmt"
	"hash"
	"time"

	"github.com/crewvm/crewvm/crew"
	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/vmm/devices/virtio"
	"github.com/crewvm/crewvm/vmm/machine"
)

// A device's transfer, recorded (SMP-ReVirt's device as one more
// processor). The DMA actor cannot fault and re-execute, so it takes the
// pages it will touch before touching them: Concurrent-Read before it
// reads, Exclusive-Write before it writes, stopping their vCPU holders at
// replayable positions exactly as a vCPU's fault would. The whole
// transfer runs under the transition lock, so no vCPU's transition sees
// it half done, and it is logged as one DMA event: what it wrote, and
// the ranges it read with their hash, which replay checks.

// DMA implements machine.Engine.
func (e *Engine) DMA() machine.DMA { return e }

// Transfer implements machine.DMA: one transaction of the DMA actor.
func (e *Engine) Transfer(fn func(mem virtio.Memory) error) (uint64, error) {
	start := time.Now()
	e.mu.Lock()
	e.costs.Lock.Add(time.Since(start))
	defer e.mu.Unlock()
	e.dmaN++
	tx := &transfer{e: e, hash: replaylog.NewDMAHash()}
	if err := fn(tx); err != nil {
		return 0, err
	}
	if tx.err != nil {
		return 0, tx.err
	}
	// The reads go in the first event: replay checks an event's reads
	// before it performs its writes, and a transfer reads before it writes.
	parts := split(tx.writes)
	if len(parts) == 0 {
		parts = [][]replaylog.DMAWrite{nil}
	}
	for i, part := range parts {
		t := replaylog.DMATransfer{Writes: part}
		if i == 0 {
			t.Reads, t.ReadHash = tx.reads, tx.hash.Sum64()
		}
		if err := e.append(replaylog.DMA(uint32(e.m.DMAActor()), 0, e.dmaN, t.Marshal())); err != nil {
			return 0, err
		}
	}
	return e.dmaN, nil
}

// maxDMAEvent bounds the writes one DMA event carries, well inside
// replaylog.MaxEventData: a larger transfer is logged as several events
// at one position, the first with its reads.
const maxDMAEvent = 1 << 20

// split cuts writes into runs of at most maxDMAEvent bytes each (a
// longer write alone makes a run of its own, cut into pieces).
func split(writes []replaylog.DMAWrite) [][]replaylog.DMAWrite {
	var out [][]replaylog.DMAWrite
	var cur []replaylog.DMAWrite
	size := 0
	for _, w := range writes {
		for len(w.Data) > 0 {
			n := min(len(w.Data), maxDMAEvent-size)
			cur = append(cur, replaylog.DMAWrite{GPA: w.GPA, Data: w.Data[:n]})
			size += n
			w.GPA += uint64(n)
			w.Data = w.Data[n:]
			if size == maxDMAEvent {
				out, cur, size = append(out, cur), nil, 0
			}
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// transfer is the guest memory one transfer reaches, and what it did.
type transfer struct {
	e      *Engine
	writes []replaylog.DMAWrite
	reads  []replaylog.DMARange
	hash   hash.Hash64
	// err is the first failure to take rights: the VMM's, not the
	// guest's, so it ends the run whatever the device makes of it.
	err error
}

// ReadAt implements virtio.Memory: read rights first, then the bytes.
func (t *transfer) ReadAt(p []byte, gpa uint64) error {
	if len(t.writes) > 0 && t.err == nil {
		// The device's bug, not the guest's: replay checks a
		// transfer's reads before its writes.
		t.err = fmt.Errorf("DMA actor: a transfer read guest memory after it wrote some")
	}
	if t.err != nil {
		return t.err
	}
	src, err := t.take(gpa, len(p), crew.Read)
	if err != nil {
		return err
	}
	copy(p, src)
	t.reads = append(t.reads, replaylog.DMARange{GPA: gpa, Len: uint64(len(p))})
	t.hash.Write(p)
	return nil
}

// WriteAt implements virtio.Memory: exclusive rights first, then the
// bytes.
func (t *transfer) WriteAt(p []byte, gpa uint64) error {
	dst, err := t.take(gpa, len(p), crew.Write)
	if err != nil {
		return err
	}
	copy(dst, p)
	t.writes = append(t.writes, replaylog.DMAWrite{GPA: gpa, Data: append([]byte(nil), p...)})
	return nil
}

// take gives the DMA actor the rights kind needs on [gpa, gpa+n) and
// returns the range in RAM. A range outside RAM is the guest's error,
// which the device reports; a failed transition is the VMM's.
func (t *transfer) take(gpa uint64, n int, kind crew.Kind) ([]byte, error) {
	e := t.e
	b, err := e.m.Memory().Slice(gpa, uint64(n))
	if err != nil {
		return nil, err
	}
	actor := e.m.DMAActor()
	for _, w := range e.views.WantedRange(actor, gpa, uint64(n), kind) {
		if err := e.grant(actor, e.dmaN, w, dmaError); err != nil {
			if t.err == nil {
				t.err = err
			}
			return nil, err
		}
	}
	return b, nil
}

func dmaError(format string, args ...any) error {
	return fmt.Errorf("DMA actor: "+format, args...)
}
